//go:build cuda

package lib

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// packed is a packed NCHW (or KCRS) GraphTensor aligned to 16 bytes.
func packed(n, c, h, w int64) GraphTensor {
	return GraphTensor{Dims: [4]int64{n, c, h, w}, Strides: [4]int64{c * h * w, h * w, w, 1}, Align: 16}
}

// liveDescriptors is how many backend descriptors the fake cuDNN holds.
func liveDescriptors(l *Libs) string { return l.dnnStatus(77777) }

func TestPlanConvFake(t *testing.T) {
	l, ctx, s := fakeContext(t)
	d, err := ctx.NewDNN(s)
	must(t, err)
	defer d.Destroy()
	if !d.HasBackendAPI() {
		t.Fatal("the fake cuDNN exports the backend API")
	}
	x, w, y := packed(2, 3, 8, 8), packed(4, 3, 3, 3), packed(2, 4, 8, 8)
	for _, dir := range []int{ConvForward, ConvBackwardData, ConvBackwardFilter} {
		g := ConvGraph{Direction: dir, X: x, W: w, Y: y, Pad: 1, Stride: 1, Alpha: 1, Beta: 1}
		plans, st, err := d.PlanConv(g, 8, nil)
		must(t, err)
		if got := st.String(); got != "A: 3 offered, 0 filtered out, 0 failed, 3 planned; fallback: 3 offered, 0 filtered out, 1 failed, 1 planned" {
			t.Errorf("stats: %s", got)
		}
		// Mode A offers engines 0, 1, 2; the fallback list 1 (already
		// planned), 3 (does not finalize) and 4.
		var got []string
		for _, p := range plans {
			got = append(got, fmt.Sprintf("%d:%s:%d:%v:%v", p.Engine, p.Heuristic, p.Workspace, p.Notes, p.Behavior))
		}
		want := "0:A:1000:[0]:[] 1:A:2000:[]:[] 2:A:3000:[4]:[] 4:fallback:5000:[]:[0]"
		if strings.Join(got, " ") != want {
			t.Errorf("direction %d: plans\n got %s\nwant %s", dir, strings.Join(got, " "), want)
		}
		if !plans[0].Has(NoteTensorCore) || plans[1].Has(NoteTensorCore) || !plans[2].Has(NoteNondeterministic) {
			t.Errorf("Has: notes %v %v %v", plans[0].Notes, plans[1].Notes, plans[2].Notes)
		}
		if s := plans[0].String(); s != "engine 0 [tensor-core] ws 1000 (A)" {
			t.Errorf("String = %q", s)
		}
		must(t, d.Execute(plans[1], 0x100, 0x200, 0x300, 0x400))
		expectCall(t, l, "cudnnBackendExecute h=0xd000 engine=1 uids=1,2,3 ptrs=0x100,0x200,0x300 ws=0x400 ctx=0xc064")
		for _, p := range plans {
			must(t, p.Destroy())
			must(t, p.Destroy()) // twice is harmless
		}
		if live := liveDescriptors(l); live != "live=0" {
			t.Fatalf("direction %d: after destroying every plan the fake holds %s descriptors", dir, live)
		}
	}

	// keep sees each engine's notes before its plan is made.
	noTF32 := func(notes, behavior []int) bool {
		for _, n := range notes {
			if n == NoteTensorCore || n == NoteDownConvertInputs {
				return false
			}
		}
		return len(behavior) == 0
	}
	plans, st, err := d.PlanConv(ConvGraph{Direction: ConvForward, X: x, W: w, Y: y, Pad: 1, Stride: 1, Alpha: 1}, 8, noTF32)
	must(t, err)
	if st.Rejected[0] != 1 || st.Rejected[1] != 1 { // mode A, fallback
		t.Errorf("filtered: %s", st)
	}
	if len(plans) != 2 || plans[0].Engine != 1 || plans[1].Engine != 2 {
		t.Errorf("filtered plans: %v", plans)
	}
	for _, p := range plans {
		must(t, p.Destroy())
	}

	// Nothing left after the filter: one line that says so, nothing leaked.
	_, _, err = d.PlanConv(ConvGraph{Direction: ConvForward, X: x, W: w, Y: y, Pad: 1, Stride: 1, Alpha: 1}, 8,
		func([]int, []int) bool { return false })
	if msg := checkOneLine(t, err); !strings.Contains(msg, "no engine that passes the filter") {
		t.Errorf("everything filtered: %s", msg)
	}

	// Sizes that do not make a convolution: cuDNN's own message is in the
	// error, and the partial graph is destroyed.
	_, _, err = d.PlanConv(ConvGraph{Direction: ConvForward, X: x, W: w, Y: packed(2, 4, 7, 8), Pad: 1, Stride: 1, Alpha: 1}, 8, nil)
	if msg := checkOneLine(t, err); !strings.Contains(msg, "cudnnBackendFinalize(convolution forward)") ||
		!strings.Contains(msg, "do not agree with the convolution") {
		t.Errorf("bad sizes: %s", msg)
	}
	bad := x
	bad.Align = 12
	_, _, err = d.PlanConv(ConvGraph{Direction: ConvForward, X: bad, W: w, Y: y, Pad: 1, Stride: 1}, 8, nil)
	if msg := checkOneLine(t, err); !strings.Contains(msg, "alignment 12") {
		t.Errorf("alignment 12: %s", msg)
	}
	if live := liveDescriptors(l); live != "live=0" {
		t.Errorf("after failed plans the fake holds %s descriptors", live)
	}
}

// A strided view (DenseNet's channel slices keep their parent's batch
// stride) reaches cuDNN with its strides, and stride 2 sizes agree.
func TestPlanConvViewFake(t *testing.T) {
	l, ctx, s := fakeContext(t)
	d, err := ctx.NewDNN(s)
	must(t, err)
	defer d.Destroy()
	x := GraphTensor{Dims: [4]int64{2, 3, 9, 9}, Strides: [4]int64{10 * 81, 81, 9, 1}, Align: 4}
	g := ConvGraph{Direction: ConvBackwardFilter, X: x, W: packed(5, 3, 3, 3), Y: packed(2, 5, 5, 5), Pad: 1, Stride: 2, Alpha: 1, Beta: 1}
	plans, _, err := d.PlanConv(g, 1, nil) // at most one configuration per heuristic mode
	must(t, err)
	if len(plans) != 2 || plans[0].Engine != 0 || plans[1].Engine != 1 {
		t.Errorf("max 1: plans %v", plans)
	}
	for _, p := range plans {
		must(t, p.Destroy())
	}
	if live := liveDescriptors(l); live != "live=0" {
		t.Errorf("the fake holds %s descriptors", live)
	}
}

func TestAlignment(t *testing.T) {
	for p, want := range map[DevicePtr]int64{0: 16, 0x100: 16, 0x104: 4, 0x108: 8, 0x101: 1, 0x10a: 2, 0x7f00_0000_0010: 16} {
		if got := Alignment(p); got != want {
			t.Errorf("Alignment(%#x) = %d, want %d", p, got, want)
		}
	}
}

// A cuDNN without the backend API (before 8.0) still loads: its symbols are
// optional, and HasBackendAPI says they are missing.
func TestNoBackendAPI(t *testing.T) {
	if !fakeLibs(t).hasDNNBackendAPI() {
		t.Fatal("the fake cuDNN exports the backend API")
	}
	dir := t.TempDir()
	if err := gcc(filepath.Join(dir, "libcudnn.so.9"), "-DFAKE_DNN", "-DNO_BACKEND"); err != nil {
		t.Fatal(err)
	}
	l, err := load([]string{dir}, [3]bool{false, false, true})
	must(t, err)
	if l.hasDNNBackendAPI() {
		t.Error("a cuDNN without cudnnBackend* reads as having the backend API")
	}
}
