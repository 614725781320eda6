package gputest

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/ref"
)

func lossCases() []Case {
	return []Case{
		newCase("softmax-xent/batch128-k10", func(e *env) {
			labels := make([]int32, 128)
			for i := range labels {
				labels[i] = int32(e.rng.IntN(10))
			}
			for _, i := range e.rng.Perm(128)[:11] {
				labels[i] = -1 // padding of a last, partial batch
			}
			e.softmaxXent(128, 10, labels, scaled(e.rnd(1280), 4), true)
		}),
		newCase("softmax-xent/ties-k5", func(e *env) {
			// The error count takes the first maximum: rows with tied maxima.
			logits := []float32{
				1, 3, 3, 0, -1, // label 1: right (first max)
				1, 3, 3, 0, -1, // label 2: wrong (tied, not first)
				5, 0, 5, 5, 2, // label 0: right
				0, 0, 1, 1, 1, // label 2: right
				2, 2, 2, 2, 2, // label 3: wrong (all tied, first is 0)
				9, 9, 9, 9, 9, // padding
			}
			// 2 errors by the first maximum, 4 by the last.
			e.softmaxXent(6, 5, []int32{1, 2, 0, 2, 3, -1}, logits, true)
		}),
		newCase("softmax-xent/no-dlogits-n64-k10", func(e *env) {
			labels := make([]int32, 64)
			for i := range labels {
				labels[i] = int32(e.rng.IntN(10)) - int32(e.rng.IntN(8)/7) // a few -1
			}
			e.softmaxXent(64, 10, labels, scaled(e.rnd(640), 3), false)
		}),
	}
}

func scaled(v []float32, s float32) []float32 {
	for i := range v {
		v[i] *= s
	}
	return v
}

// softmaxXent checks SoftmaxCrossEntropy on n x k logits, with gradScale one
// over the valid labels as a mean loss would use, and metrics starting from
// nonzero values.
func (e *env) softmaxXent(n, k int, labels []int32, lv []float32, withGrad bool) {
	valid := 0
	for _, l := range labels {
		if l >= 0 {
			valid++
		}
	}
	scale := float32(1) / float32(max(valid, 1))
	shape := ref.Shape{N: n, C: k, H: 1, W: 1}
	logits := e.tensor(shape)
	e.put(logits, lv)
	lab := e.ints(labels)
	m0 := []float32{2.5, 3, 7}
	metrics := e.slice(m0)
	wantD, wantM := make([]float64, n*k), widen(m0)
	ref.SoftmaxCrossEntropy(wantD, wantM, widen(lv), labels, k, float64(scale))
	var dlogits gpu.Tensor
	var before []float32
	if withGrad {
		dlogits = e.tensor(shape)
		before = e.snap(dlogits)
	}
	e.do("SoftmaxCrossEntropy", e.b.SoftmaxCrossEntropy(dlogits, metrics, logits, lab, scale))
	if withGrad {
		e.expect("dlogits", dlogits, before, wantD)
	}
	e.guards("metrics", metrics)
	got := e.getS(metrics)
	e.compare("metrics[0] (loss sum, change)", []float32{float32(float64(got[0]) - float64(m0[0]))}, []float64{wantM[0] - float64(m0[0])})
	e.compareExact(fmt.Sprintf("metrics[1:3] (errors, count of %d labels)", n), got[1:], wantM[1:])
	e.unchanged("logits", logits, lv)
}
