package gputest

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/ref"
)

// optimLen is odd so that vectorized loops have a tail.
const optimLen = 1003

func optimizerCases() []Case {
	var cs []Case
	for _, c := range []struct {
		name string
		hp   gpu.SGDParams
	}{
		{"plain", gpu.SGDParams{LR: 0.1}},
		{"plain-wd", gpu.SGDParams{LR: 0.1, WeightDecay: 0.05}},
		{"momentum-wd", gpu.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.05}},
		{"nesterov-wd", gpu.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.05, Nesterov: true}},
		{"dampening-wd", gpu.SGDParams{LR: 0.05, Momentum: 0.8, Dampening: 0.3, WeightDecay: 0.02}},
	} {
		cs = append(cs, newCase(join("sgd", c.name), func(e *env) { e.sgd(c.hp) }))
	}
	for _, c := range []struct {
		name      string
		hp        gpu.AdamParams
		gradScale float32
		fresh     bool // m and v start at 0 and Step at 1
	}{
		{"adam-wd", gpu.AdamParams{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}, 1, true},
		{"adamw", gpu.AdamParams{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Decoupled: true}, 1, true},
		// Gradients of the size of Eps, late in training: Eps must be added
		// to sqrt(vhat), not inside it.
		{"adam-eps-step10", gpu.AdamParams{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3, Step: 10}, 1e-3, false},
		{"adamw-eps-step10", gpu.AdamParams{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3, WeightDecay: 0.5, Decoupled: true, Step: 10}, 1e-3, false},
	} {
		cs = append(cs, newCase(join("adam", c.name), func(e *env) { e.adam(c.hp, c.gradScale, c.fresh) }))
	}
	return cs
}

// decayMask returns n values of 0 and 1, both present.
func (e *env) decayMask(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.IntN(2))
	}
	v[0], v[1] = 0, 1
	return v
}

func (e *env) sgd(hp gpu.SGDParams) {
	pv, bv, dv := e.uniform(optimLen, -1, 1), e.rnd(optimLen), e.decayMask(optimLen)
	params, buf, decay := e.slice(pv), e.slice(bv), e.slice(dv)
	for step := 1; step <= 3; step++ {
		gv := e.rnd(optimLen)
		grads := e.slice(gv)
		pv, bv = e.getS(params), e.getS(buf) // the backend's state
		wp, wb := widen(pv), widen(bv)
		ref.SGDStep(wp, widen(gv), wb, widen(dv), hp)
		e.do("SGDStep", e.b.SGDStep(params, grads, buf, decay, hp))
		e.expectDelta(fmt.Sprintf("step %d params", step), params, pv, wp)
		if hp.Momentum == 0 {
			e.unchangedS("momentum buffer (Momentum 0)", buf, bv)
		} else {
			e.expectDelta(fmt.Sprintf("step %d momentum buffer", step), buf, bv, wb)
		}
		e.unchangedS("grads", grads, gv)
		e.unchangedS("decay", decay, dv)
	}
}

func (e *env) adam(hp gpu.AdamParams, gradScale float32, fresh bool) {
	pv, dv := e.uniform(optimLen, -0.2, 0.2), e.decayMask(optimLen)
	mv, vv := make([]float32, optimLen), make([]float32, optimLen)
	if !fresh {
		mv = scaled(e.rnd(optimLen), gradScale)
		vv = scaled(e.uniform(optimLen, 0, 1), gradScale*gradScale)
	} else {
		hp.Step = 1
	}
	params, m, v, decay := e.slice(pv), e.slice(mv), e.slice(vv), e.slice(dv)
	for range 3 {
		gv := scaled(e.rnd(optimLen), gradScale)
		grads := e.slice(gv)
		pv, mv, vv = e.getS(params), e.getS(m), e.getS(v)
		wp, wm, wv := widen(pv), widen(mv), widen(vv)
		ref.AdamStep(wp, widen(gv), wm, wv, widen(dv), hp)
		e.do("AdamStep", e.b.AdamStep(params, grads, m, v, decay, hp))
		step := fmt.Sprintf("step %d ", hp.Step)
		e.expectDelta(step+"params", params, pv, wp)
		e.expectDelta(step+"m", m, mv, wm)
		e.expectDelta(step+"v", v, vv, wv)
		e.unchangedS("grads", grads, gv)
		e.unchangedS("decay", decay, dv)
		hp.Step++
	}
}
