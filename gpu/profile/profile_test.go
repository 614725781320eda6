package profile_test

import (
	"errors"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/cpu/cputest"
	"repro/gpu/profile"
	"repro/model"
)

// TestProfileCountsEveryOp runs two training passes of a small net on the
// wrapped CPU backend and expects each op kind counted once per use, the
// rows ordered by time, Reset to forget them, and the table to name them.
func TestProfileCountsEveryOp(t *testing.T) {
	p := profile.Wrap(cputest.Open(t, gpu.Options{Threads: 1}))
	cfg, _ := model.Preset("resnet8")
	net, err := model.New(p, cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Init(1); err != nil {
		t.Fatal(err)
	}
	labels, _ := p.AllocInt(4)
	met, _ := p.Alloc(3)
	pass := func() {
		if err := p.Zero(net.Grads); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(net.SetSeed(1), net.Forward(true)); err != nil {
			t.Fatal(err)
		}
		if err := p.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 0.25); err != nil {
			t.Fatal(err)
		}
		if err := net.Backward(); err != nil {
			t.Fatal(err)
		}
	}
	pass()
	p.Reset()
	if len(p.Rows()) != 0 {
		t.Fatal("Reset kept rows")
	}
	pass()
	pass()
	calls := map[string]int{}
	for i, r := range p.Rows() {
		calls[r.Op] = r.Calls
		if i > 0 && r.Seconds > p.Rows()[i-1].Seconds {
			t.Errorf("rows not ordered by time at %s", r.Op)
		}
	}
	// resnet8: a stem conv and 3 blocks of two 3x3 convs, two of them strided;
	// the stem's and each block's first batch norm carry the fused ReLU; the
	// first block's second batch norm the shortcut add and ReLU after it, the
	// other two (option A, where the shape changes) run them on their own
	want := map[string]int{
		"conv3x3 forward": 2 * 5, "conv3x3/2 forward": 2 * 2,
		"batchnorm+relu train forward": 2 * 4, "batchnorm+relu backward": 2 * 4,
		"batchnorm+add+relu train forward": 2 * 1, "batchnorm+add+relu backward": 2 * 1,
		"batchnorm train forward": 2 * 2, "batchnorm backward": 2 * 2, "residual forward": 2 * 2,
		"relu forward": 2 * 2, "relu backward": 2 * 3, "softmax cross-entropy": 2, "zero": 2,
	}
	for op, n := range want {
		if calls[op] != n {
			t.Errorf("%s: %d calls, want %d (all rows: %v)", op, calls[op], n, calls)
		}
	}
	var out strings.Builder
	p.Write(&out, 2)
	for _, s := range []string{"conv3x3 forward", "calls/step", "total (each op synchronized)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}
