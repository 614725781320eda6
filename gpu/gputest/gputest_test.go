package gputest_test

import (
	"math"
	"testing"

	"repro/gpu/gputest"
)

// TestRefBackend runs the suite on the naive float64 backend: the suite's
// reference and its plumbing (views, guards, transfers) agree with a backend
// that is correct by construction.
func TestRefBackend(t *testing.T) {
	gputest.Run(t, &refBackend{}, 1e-6)
}

func TestRelErr(t *testing.T) {
	for _, c := range []struct {
		got  []float32
		want []float64
		err  float64
	}{
		{[]float32{1, 2}, []float64{1, 2}, 0},
		{[]float32{1, 2.5}, []float64{1, 2}, 0.25},
		{[]float32{0, 1e-9}, []float64{0, 0}, 1e-3}, // floor of 1e-6 on the scale
		{[]float32{1, float32(math.NaN())}, []float64{1, 2}, math.Inf(1)},
		{[]float32{float32(math.Inf(1))}, []float64{1}, math.Inf(1)},
	} {
		if got := gputest.RelErr(c.got, c.want); math.Abs(got-c.err) > 1e-9*math.Max(1, c.err) && got != c.err {
			t.Errorf("RelErr(%v, %v) = %g, want %g", c.got, c.want, got, c.err)
		}
	}
	if gputest.Compare([]float32{1, 2.5}, []float64{1, 2}, 0.3) != nil {
		t.Error("Compare failed within tolerance")
	}
	if gputest.Compare([]float32{1, 2.5}, []float64{1, 2}, 0.2) == nil {
		t.Error("Compare passed out of tolerance")
	}
	if gputest.Compare([]float32{1}, []float64{1, 2}, 1) == nil {
		t.Error("Compare passed lengths that differ")
	}
}
