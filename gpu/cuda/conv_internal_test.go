//go:build cuda

package cuda

import (
	"reflect"
	"testing"

	"repro/gpu/cuda/lib"
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
