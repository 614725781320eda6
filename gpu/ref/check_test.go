package ref

import (
	"fmt"
	"strings"
	"testing"

	"repro/gpu"
)

// TestBatchNormChecksNameTheSlice: a batch-norm reference given one slice
// of the wrong length panics naming that slice, for each of its arguments.
func TestBatchNormChecksNameTheSlice(t *testing.T) {
	s := gpu.BatchNormSpec{N: 2, C: 3, H: 2, W: 2, Eps: 1e-5, Momentum: 0.1, ReLU: true}
	sr := s
	sr.ReLU, sr.ResidualReLU = false, true
	elems := s.N * s.C * s.H * s.W
	// args returns n slices: those whose names are in perChannel hold C
	// values, the others a tensor's, and the one named short one value less.
	args := func(names, perChannel, short string) [][]float64 {
		var vs [][]float64
		for _, n := range strings.Fields(names) {
			size := elems
			if strings.Contains(" "+perChannel+" ", " "+n+" ") {
				size = s.C
			}
			if n == short {
				size--
			}
			vs = append(vs, make([]float64, size))
		}
		return vs
	}
	cases := []struct {
		op, names, perChannel string
		call                  func(v [][]float64)
	}{
		{"BatchNormStats", "saveMean saveInvStd batchVar x", "saveMean saveInvStd batchVar",
			func(v [][]float64) { BatchNormStats(v[0], v[1], v[2], v[3], s) }},
		{"BatchNormForwardTrain", "y saveMean saveInvStd runMean runVar x r gamma beta", "saveMean saveInvStd runMean runVar gamma beta",
			func(v [][]float64) { BatchNormForwardTrain(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], sr) }},
		{"BatchNormForwardTrainFromStats", "y runMean runVar x r gamma beta saveMean saveInvStd batchVar", "runMean runVar gamma beta saveMean saveInvStd batchVar",
			func(v [][]float64) {
				BatchNormForwardTrainFromStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], sr)
			}},
		{"BatchNormForwardInfer", "y x r gamma beta runMean runVar", "gamma beta runMean runVar",
			func(v [][]float64) { BatchNormForwardInfer(v[0], v[1], v[2], v[3], v[4], v[5], v[6], sr) }},
		{"BatchNormBackward", "dx dgamma dbeta dy x gamma beta saveMean saveInvStd", "dgamma dbeta gamma beta saveMean saveInvStd",
			func(v [][]float64) { BatchNormBackward(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], s, false) }},
	}
	for _, c := range cases {
		for _, short := range strings.Fields(c.names) {
			want := fmt.Sprintf("ref.%s: %s has ", c.op, short)
			got := func() (msg string) {
				defer func() { msg = fmt.Sprint(recover()) }()
				c.call(args(c.names, c.perChannel, short))
				return "no panic"
			}()
			if !strings.HasPrefix(got, want) {
				t.Errorf("%s with %s short: %q, want it to start %q", c.op, short, got, want)
			}
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s with every slice right: %v", c.op, r)
				}
			}()
			c.call(args(c.names, c.perChannel, ""))
		}()
	}
}
