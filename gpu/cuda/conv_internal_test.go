//go:build cuda

package cuda

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/cuda/lib"
	"repro/gpu/gputest"
)

// TestBestTimes: repeated searches keep each algorithm's best successful
// time, and the merged list is fastest first with failed trials last.
func TestBestTimes(t *testing.T) {
	round1 := []lib.AlgoPerf{{Algo: 2, Time: 0.30}, {Algo: 1, Time: 0.50}, {Algo: 1, MathType: 3, Time: 0.6}, {Algo: 4, Status: 9}}
	round2 := []lib.AlgoPerf{{Algo: 1, Time: 0.10}, {Algo: 2, Time: 0.35}, {Algo: 4, Time: 0.2}, {Algo: 5, Status: 9}}
	got := bestTimes(bestTimes(nil, round1), round2)
	want := []lib.AlgoPerf{{Algo: 1, Time: 0.10}, {Algo: 4, Time: 0.2}, {Algo: 2, Time: 0.30}, {Algo: 1, MathType: 3, Time: 0.6}, {Algo: 5, Status: 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestEngineUsable: which backend-API engines each option set admits.
func TestEngineUsable(t *testing.T) {
	tc, down, reduced, nondet, fft := lib.NoteTensorCore, lib.NoteDownConvertInputs, lib.NoteReducedPrecision, lib.NoteNondeterministic, lib.NoteFFT
	compiles := []int{lib.BehaviorRuntimeCompilation}
	for _, c := range []struct {
		strict, determ bool
		notes, beh     []int
		want           bool
	}{
		{false, false, nil, nil, true},
		{false, false, []int{tc}, nil, true}, // TF32 is the default, as in PyTorch
		{true, false, []int{tc}, nil, false},
		{true, false, []int{reduced}, nil, false},
		{true, false, []int{fft}, nil, true},
		{false, false, []int{down}, nil, false}, // FP16 inputs never
		{false, false, []int{nondet}, nil, true},
		{false, true, []int{nondet}, nil, false},
		{false, true, []int{tc, fft}, nil, true},
		{false, false, nil, compiles, false},
	} {
		b := &Backend{}
		b.opts.StrictFP32, b.opts.Deterministic = c.strict, c.determ
		if got := b.engineUsable(c.notes, c.beh); got != c.want {
			t.Errorf("strict %v deterministic %v notes %v behavior %v: usable %v, want %v", c.strict, c.determ, c.notes, c.beh, got, c.want)
		}
	}
}

// TestSwitchesWgradOverwrites holds the convolutions to the reference with
// every engine weight gradient planned with beta 0 (written to scratch, then
// added to dw by a kernel): the path taken where cuDNN offers no engine that
// adds, which a GPU whose engines do add would otherwise never run.
func TestSwitchesWgradOverwrites(t *testing.T) {
	g, err := New(gpu.Options{ConvAlgos: "graph", StrictFP32: true, Deterministic: true})
	if err != nil {
		if os.Getenv("REPRO_REQUIRE_GPU") == "1" {
			t.Fatalf("REPRO_REQUIRE_GPU=1 but the cuda backend does not open: %v", err)
		}
		t.Skipf("no usable GPU here (the device check runs this): %v", err)
	}
	defer g.Close()
	b := g.(*Backend)
	b.forceOverwrite = true
	for _, c := range gputest.Cases() {
		if strings.HasPrefix(c.Name, "conv/") {
			t.Run(c.Name, func(t *testing.T) {
				if err := c.Check(b, 1e-5); err != nil {
					t.Error(err)
				}
			})
		}
	}
	t.Log(b.Report())
	if b.ConvChoices().Overwrites == 0 {
		t.Errorf("no weight gradient took the beta-0 path: %s", b.Report())
	}
}
