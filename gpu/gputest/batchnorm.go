package gputest

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/ref"
)

// bnShape is a batch norm to check; x and dx (y and dy) are views of wider
// parents when xParent (yParent) is set.
type bnShape struct {
	name         string
	s            gpu.BatchNormSpec
	xParent, xC0 int
	yParent, yC0 int
}

func bnShapes() []bnShape {
	bn := func(n, c, h, w int) gpu.BatchNormSpec {
		return gpu.BatchNormSpec{N: n, C: c, H: h, W: w, Eps: 1e-5, Momentum: 0.1}
	}
	return []bnShape{
		{name: "resnet-16ch-32x32", s: bn(4, 16, 32, 32)},
		{name: "resnet-64ch-8x8", s: bn(8, 64, 8, 8)},
		// DenseNet normalizes a prefix of its block buffer.
		{name: "densenet-60of72ch-16x16-xview", s: bn(4, 60, 16, 16), xParent: 72},
		// m = 8 values per channel: the unbiased running variance is 8/7
		// of the biased one, a difference no tolerance can hide.
		{name: "small-2x3x2x2", s: gpu.BatchNormSpec{N: 2, C: 3, H: 2, W: 2, Eps: 1e-3, Momentum: 0.25}},
		{name: "odd-5x7-views", s: bn(3, 5, 5, 7), xParent: 8, xC0: 1, yParent: 9, yC0: 3},
	}
}

func batchNormCases() []Case {
	var cs []Case
	for _, sh := range bnShapes() {
		for _, relu := range []bool{false, true} {
			sh, name := sh, sh.name // a copy per case: the closures keep it
			sh.s.ReLU = relu
			if relu {
				name += "-relu"
			}
			cs = append(cs,
				newCase(join("batchnorm", name, "forward-train"), func(e *env) { e.bnForwardTrain(sh) }),
				newCase(join("batchnorm", name, "forward-infer"), func(e *env) { e.bnForwardInfer(sh) }),
				newCase(join("batchnorm", name, "backward"), func(e *env) { e.bnBackward(sh) }))
		}
	}
	return cs
}

func (e *env) newBatchNorm(s gpu.BatchNormSpec) gpu.BatchNorm {
	bn, err := e.b.NewBatchNorm(s)
	e.do(fmt.Sprintf("NewBatchNorm(%+v)", s), err)
	if bn.Spec() != s {
		e.errorf("NewBatchNorm(%+v).Spec() = %+v", s, bn.Spec())
	}
	return bn
}

// bnInput fills x with activations whose channels have different means and
// spreads (offset in [-1, 1), scale in [0.5, 2)), like a conv's output.
func (e *env) bnInput(x gpu.Tensor) []float32 {
	off, sc := e.uniform(x.C, -1, 1), e.uniform(x.C, 0.5, 2)
	v := e.rnd(x.Elems())
	hw := x.H * x.W
	for i := range v {
		c := i / hw % x.C
		v[i] = off[c] + sc[c]*v[i]
	}
	e.put(x, v)
	return v
}

func bnTensorShape(s gpu.BatchNormSpec) ref.Shape { return ref.Shape{N: s.N, C: s.C, H: s.H, W: s.W} }

func (e *env) bnForwardTrain(sh bnShape) {
	s, ts := sh.s, bnTensorShape(sh.s)
	bn := e.newBatchNorm(s)
	x := e.at(ts, sh.xParent, sh.xC0)
	xv := e.bnInput(x)
	gv, bv := e.uniform(s.C, 0.5, 1.5), e.uniform(s.C, -0.5, 0.5)
	rm0, rv0 := e.rnd(s.C), e.uniform(s.C, 0.5, 1.5)
	gamma, beta, runMean, runVar := e.slice(gv), e.slice(bv), e.slice(rm0), e.slice(rv0)
	saveMean, saveInvStd := e.slice(nans(s.C)), e.slice(nans(s.C))
	y := e.at(ts, sh.yParent, sh.yC0)
	xBefore, yBefore := e.snap(x), e.snap(y)
	e.do("BatchNorm.ForwardTrain", bn.ForwardTrain(y, saveMean, saveInvStd, runMean, runVar, x, gamma, beta))

	wy, wm, wis := make([]float64, ts.Elems()), make([]float64, s.C), make([]float64, s.C)
	wrm, wrv := widen(rm0), widen(rv0)
	ref.BatchNormForwardTrain(wy, wm, wis, wrm, wrv, widen(xv), widen(gv), widen(bv), s)
	e.expect("y", y, yBefore, wy)
	e.expectS("saveMean", saveMean, wm)
	e.expectS("saveInvStd", saveInvStd, wis)
	e.expectDelta("runMean", runMean, rm0, wrm)
	e.expectDelta("runVar", runVar, rv0, wrv)
	e.unchanged("x", x, xBefore)
	e.unchangedS("gamma", gamma, gv)
	e.unchangedS("beta", beta, bv)
}

func (e *env) bnForwardInfer(sh bnShape) {
	s, ts := sh.s, bnTensorShape(sh.s)
	bn := e.newBatchNorm(s)
	x := e.at(ts, sh.xParent, sh.xC0)
	xv := e.bnInput(x)
	gv, bv := e.uniform(s.C, 0.5, 1.5), e.uniform(s.C, -0.5, 0.5)
	rm, rv := e.rnd(s.C), e.uniform(s.C, 0.5, 2)
	gamma, beta, runMean, runVar := e.slice(gv), e.slice(bv), e.slice(rm), e.slice(rv)
	y := e.at(ts, sh.yParent, sh.yC0)
	xBefore, yBefore := e.snap(x), e.snap(y)
	e.do("BatchNorm.ForwardInfer", bn.ForwardInfer(y, x, gamma, beta, runMean, runVar))
	wy := make([]float64, ts.Elems())
	ref.BatchNormForwardInfer(wy, widen(xv), widen(gv), widen(bv), widen(rm), widen(rv), s)
	e.expect("y", y, yBefore, wy)
	e.unchanged("x", x, xBefore)
	e.unchangedS("runMean", runMean, rm)
	e.unchangedS("runVar", runVar, rv)
}

func (e *env) bnBackward(sh bnShape) {
	s, ts := sh.s, bnTensorShape(sh.s)
	bn := e.newBatchNorm(s)
	x := e.at(ts, sh.xParent, sh.xC0)
	xv := e.bnInput(x)
	dy := e.at(ts, sh.yParent, sh.yC0)
	dyv := e.fill(dy)
	gv, bv := e.uniform(s.C, 0.5, 1.5), e.uniform(s.C, -0.5, 0.5)
	// The saved statistics of this x and its output, rounded to float32 as a
	// backend keeps them; with ReLU about half the outputs are 0.
	y64, mean64, invstd64 := make([]float64, ts.Elems()), make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormForwardTrain(y64, mean64, invstd64, make([]float64, s.C), make([]float64, s.C),
		widen(xv), widen(gv), widen(bv), s)
	mv, iv, yv := narrow(mean64), narrow(invstd64), narrow(y64)
	var y gpu.Tensor // read only with ReLU
	var yBefore []float32
	if s.ReLU {
		y = e.at(ts, sh.yParent, sh.yC0)
		e.put(y, yv)
		yBefore = e.snap(y)
	}
	gamma, saveMean, saveInvStd := e.slice(gv), e.slice(mv), e.slice(iv)
	gx, gg, gb := make([]float64, ts.Elems()), make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormBackward(gx, gg, gb, widen(dyv), widen(xv), widen(yv), widen(gv), widen(mv), widen(iv), s, false)
	xBefore, dyBefore := e.snap(x), e.snap(dy)

	dg0, db0 := e.rnd(s.C), e.rnd(s.C)
	dgamma, dbeta := e.slice(dg0), e.slice(db0)
	dx := e.at(ts, sh.xParent, sh.xC0)
	dxBefore := e.snap(dx)
	e.do("BatchNorm.Backward", bn.Backward(dx, dgamma, dbeta, dy, x, y, gamma, saveMean, saveInvStd, false))
	e.expect("dx", dx, dxBefore, gx)
	e.expectS("dgamma", dgamma, addTo(dg0, gg))
	e.expectS("dbeta", dbeta, addTo(db0, gb))

	dx = e.at(ts, sh.xParent, sh.xC0)
	dx0 := e.fill(dx)
	dxBefore = e.snap(dx)
	dg0, db0 = e.getS(dgamma), e.getS(dbeta)
	e.do("BatchNorm.Backward (accumulate)", bn.Backward(dx, dgamma, dbeta, dy, x, y, gamma, saveMean, saveInvStd, true))
	e.expect("dx (accumulate)", dx, dxBefore, addTo(dx0, gx))
	e.expectS("dgamma", dgamma, addTo(dg0, gg))
	e.expectS("dbeta", dbeta, addTo(db0, gb))

	e.unchanged("x", x, xBefore)
	e.unchanged("dy", dy, dyBefore)
	if s.ReLU {
		e.unchanged("y", y, yBefore)
	}
	e.unchangedS("saveMean", saveMean, mv)
	e.unchangedS("saveInvStd", saveInvStd, iv)
}

func narrow(v []float64) []float32 {
	n := make([]float32, len(v))
	for i, x := range v {
		n[i] = float32(x)
	}
	return n
}
