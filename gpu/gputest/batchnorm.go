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
		for _, v := range []struct {
			suffix             string
			relu, residualReLU bool
		}{{"", false, false}, {"-relu", true, false}, {"-residual-relu", false, true}} {
			sh, name := sh, sh.name+v.suffix // a copy per case: the closures keep it
			sh.s.ReLU, sh.s.ResidualReLU = v.relu, v.residualReLU
			cs = append(cs,
				newCase(join("batchnorm", name, "forward-train"), func(e *env) { e.bnForwardTrain(sh) }),
				newCase(join("batchnorm", name, "forward-train-from-stats"), func(e *env) { e.bnForwardTrainFromStats(sh) }),
				newCase(join("batchnorm", name, "forward-infer"), func(e *env) { e.bnForwardInfer(sh) }),
				newCase(join("batchnorm", name, "backward"), func(e *env) { e.bnBackward(sh) }))
			switch {
			case v.relu:
				cs = append(cs,
					newCase(join("batchnorm", name, "mask-at-kink"), func(e *env) { e.bnMaskAtKink(sh, false) }),
					newCase(join("batchnorm", name, "mask-at-kink-from-stats"), func(e *env) { e.bnMaskAtKink(sh, true) }))
			case !v.residualReLU: // (Stats has no ReLU to differ by)
				cs = append(cs, newCase(join("batchnorm", name, "stats"), func(e *env) { e.bnStats(sh) }))
			}
		}
	}
	return cs
}

// bnShortcut is, with ResidualReLU, the shortcut r of the forward passes,
// about as large as y so that about half of max(y + r, 0) is 0; as is, r
// sits in its own view like y's (when inPlace, y itself). Without
// ResidualReLU it is the zero Tensor.
func (e *env) bnShortcut(sh bnShape, y gpu.Tensor, inPlace bool) (r gpu.Tensor, rv []float64) {
	if !sh.s.ResidualReLU {
		return gpu.Tensor{}, nil
	}
	r = y
	if !inPlace {
		r = e.at(bnTensorShape(sh.s), sh.yParent, sh.yC0)
	}
	return r, widen(e.fill(r))
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

// bnTrain is a training forward's case: its tensors and parameters on the
// backend and their values.
type bnTrain struct {
	sh                           bnShape
	bn                           gpu.BatchNorm
	x, y, r                      gpu.Tensor
	xv, gv, bv, rm0, rv0         []float32
	rv                           []float64 // the shortcut's values (nil without)
	gamma, beta, runMean, runVar gpu.Slice
	xBefore, yBefore, rBefore    []float32
}

func (e *env) newBNTrain(sh bnShape) *bnTrain {
	s, ts := sh.s, bnTensorShape(sh.s)
	c := &bnTrain{sh: sh, bn: e.newBatchNorm(s)}
	c.x = e.at(ts, sh.xParent, sh.xC0)
	c.xv = e.bnInput(c.x)
	c.gv, c.bv = e.uniform(s.C, 0.5, 1.5), e.uniform(s.C, -0.5, 0.5)
	c.rm0, c.rv0 = e.rnd(s.C), e.uniform(s.C, 0.5, 1.5)
	c.gamma, c.beta, c.runMean, c.runVar = e.slice(c.gv), e.slice(c.bv), e.slice(c.rm0), e.slice(c.rv0)
	c.y = e.at(ts, sh.yParent, sh.yC0)
	c.r, c.rv = e.bnShortcut(sh, c.y, false)
	c.xBefore, c.yBefore, c.rBefore = e.snap(c.x), e.snap(c.y), e.snapOrNil(c.r)
	return c
}

// check holds y and the running statistics to the reference's (wy, wrm,
// wrv) and the inputs to their values before.
func (c *bnTrain) check(e *env, wy, wrm, wrv []float64) {
	e.expect("y", c.y, c.yBefore, wy)
	e.expectDelta("runMean", c.runMean, c.rm0, wrm)
	e.expectDelta("runVar", c.runVar, c.rv0, wrv)
	e.unchanged("x", c.x, c.xBefore)
	e.unchangedOrNil("r", c.r, c.rBefore)
	e.unchangedS("gamma", c.gamma, c.gv)
	e.unchangedS("beta", c.beta, c.bv)
}

func (e *env) bnForwardTrain(sh bnShape) {
	s, c := sh.s, e.newBNTrain(sh)
	saveMean, saveInvStd := e.slice(nans(s.C)), e.slice(nans(s.C))
	e.do("BatchNorm.ForwardTrain", c.bn.ForwardTrain(c.y, saveMean, saveInvStd, c.runMean, c.runVar, c.x, c.r, c.gamma, c.beta))
	wy, wm, wis := make([]float64, bnTensorShape(s).Elems()), make([]float64, s.C), make([]float64, s.C)
	wrm, wrv := widen(c.rm0), widen(c.rv0)
	ref.BatchNormForwardTrain(wy, wm, wis, wrm, wrv, widen(c.xv), c.rv, widen(c.gv), widen(c.bv), s)
	c.check(e, wy, wrm, wrv)
	e.expectS("saveMean", saveMean, wm)
	e.expectS("saveInvStd", saveInvStd, wis)
}

func (e *env) bnStats(sh bnShape) {
	s, ts := sh.s, bnTensorShape(sh.s)
	bn := e.newBatchNorm(s)
	x := e.at(ts, sh.xParent, sh.xC0)
	xv := e.bnInput(x)
	saveMean, saveInvStd, batchVar := e.slice(nans(s.C)), e.slice(nans(s.C)), e.slice(nans(s.C))
	xBefore := e.snap(x)
	e.do("BatchNorm.Stats", bn.Stats(saveMean, saveInvStd, batchVar, x))
	wm, wis, wbv := make([]float64, s.C), make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormStats(wm, wis, wbv, widen(xv), s)
	e.expectS("saveMean", saveMean, wm)
	e.expectS("saveInvStd", saveInvStd, wis)
	e.expectS("batchVar", batchVar, wbv)
	e.unchanged("x", x, xBefore)
}

// bnForwardTrainFromStats normalizes with the statistics of x rounded to
// float32, as Stats leaves them.
func (e *env) bnForwardTrainFromStats(sh bnShape) {
	s, c := sh.s, e.newBNTrain(sh)
	m64, is64, bv64 := make([]float64, s.C), make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormStats(m64, is64, bv64, widen(c.xv), s)
	mv, iv, bvv := narrow(m64), narrow(is64), narrow(bv64)
	saveMean, saveInvStd, batchVar := e.slice(mv), e.slice(iv), e.slice(bvv)
	e.do("BatchNorm.ForwardTrainFromStats", c.bn.ForwardTrainFromStats(c.y, c.runMean, c.runVar, c.x, c.r, c.gamma, c.beta, saveMean, saveInvStd, batchVar))
	wy, wrm, wrv := make([]float64, bnTensorShape(s).Elems()), widen(c.rm0), widen(c.rv0)
	ref.BatchNormForwardTrainFromStats(wy, wrm, wrv, widen(c.xv), c.rv, widen(c.gv), widen(c.bv), widen(mv), widen(iv), widen(bvv), s)
	c.check(e, wy, wrm, wrv)
	e.unchangedS("saveMean", saveMean, mv)
	e.unchangedS("saveInvStd", saveInvStd, iv)
	e.unchangedS("batchVar", batchVar, bvv)
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
	r, shortcut := e.bnShortcut(sh, y, true) // in place: y holds the shortcut
	xBefore, yBefore := e.snap(x), e.snap(y)
	e.do("BatchNorm.ForwardInfer", bn.ForwardInfer(y, x, r, gamma, beta, runMean, runVar))
	wy := make([]float64, ts.Elems())
	ref.BatchNormForwardInfer(wy, widen(xv), shortcut, widen(gv), widen(bv), widen(rm), widen(rv), s)
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
	// The saved statistics of this x, rounded to float32 as a backend keeps
	// them; with ReLU about half the outputs are 0.
	mean64, invstd64 := make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormForwardTrain(make([]float64, ts.Elems()), mean64, invstd64, make([]float64, s.C), make([]float64, s.C),
		widen(xv), make([]float64, ts.Elems()), widen(gv), widen(bv), s)
	mv, iv := narrow(mean64), narrow(invstd64)
	gamma, beta, saveMean, saveInvStd := e.slice(gv), e.slice(bv), e.slice(mv), e.slice(iv)
	gx, gg, gb := make([]float64, ts.Elems()), make([]float64, s.C), make([]float64, s.C)
	ref.BatchNormBackward(gx, gg, gb, widen(dyv), widen(xv), widen(gv), widen(bv), widen(mv), widen(iv), s, false)
	xBefore, dyBefore := e.snap(x), e.snap(dy)

	dg0, db0 := e.rnd(s.C), e.rnd(s.C)
	dgamma, dbeta := e.slice(dg0), e.slice(db0)
	dx := e.at(ts, sh.xParent, sh.xC0)
	dxBefore := e.snap(dx)
	e.do("BatchNorm.Backward", bn.Backward(dx, dgamma, dbeta, dy, x, gamma, beta, saveMean, saveInvStd, false))
	e.expect("dx", dx, dxBefore, gx)
	e.expectS("dgamma", dgamma, addTo(dg0, gg))
	e.expectS("dbeta", dbeta, addTo(db0, gb))

	dx = e.at(ts, sh.xParent, sh.xC0)
	dx0 := e.fill(dx)
	dxBefore = e.snap(dx)
	dg0, db0 = e.getS(dgamma), e.getS(dbeta)
	e.do("BatchNorm.Backward (accumulate)", bn.Backward(dx, dgamma, dbeta, dy, x, gamma, beta, saveMean, saveInvStd, true))
	e.expect("dx (accumulate)", dx, dxBefore, addTo(dx0, gx))
	e.expectS("dgamma", dgamma, addTo(dg0, gg))
	e.expectS("dbeta", dbeta, addTo(db0, gb))

	e.unchanged("x", x, xBefore)
	e.unchanged("dy", dy, dyBefore)
	e.unchangedS("gamma", gamma, gv)
	e.unchangedS("beta", beta, bv)
	e.unchangedS("saveMean", saveMean, mv)
	e.unchangedS("saveInvStd", saveInvStd, iv)
}

// bnMaskAtKink checks that Backward's fused-ReLU mask is exactly where the
// training forward's output is > 0 (ForwardTrain's, or with fromStats
// ForwardTrainFromStats' on Stats' statistics), for inputs whose normalized
// value is 0 up to rounding: a third of each channel's values sit at its
// mean (the others a spread to either side), beta is 0, so those outputs
// before the ReLU are rounding residues whose sign depends on how the
// backend multiplies and adds. A backend that recomputes them otherwise than
// its forward (a fused multiply-add in one and not the other) flips some.
// With dy = 1 the masked dy g is 0 or 1: dbeta counts it per channel, and
// dx = gamma*invstd*(g - mean(g) - xhat*mean(g*xhat)) gives it back at every
// position, where it must be 1 exactly where the forward's output is > 0.
func (e *env) bnMaskAtKink(sh bnShape, fromStats bool) {
	s, ts := sh.s, bnTensorShape(sh.s)
	bn := e.newBatchNorm(s)
	x := e.at(ts, sh.xParent, sh.xC0)
	centre, spread := e.uniform(s.C, -2, 2), e.uniform(s.C, 0.5, 2)
	hw := s.H * s.W
	m := s.N * hw
	xv := make([]float32, ts.Elems())
	for i := range xv {
		// value j of its channel: triples centre-d, centre, centre+d (d
		// varying), the remainder at the centre, so the mean is the centre
		// up to rounding
		c, j := i/hw%s.C, i/(s.C*hw)*hw+i%hw
		d := spread[c] * float32(1+j/3%7) / 4
		if j/3*3+3 > m {
			d = 0
		}
		xv[i] = centre[c] + float32(j%3-1)*d
	}
	e.put(x, xv)
	gv := e.uniform(s.C, 0.5, 1.5)
	gamma, beta := e.slice(gv), e.slice(make([]float32, s.C))
	saveMean, saveInvStd := e.slice(nans(s.C)), e.slice(nans(s.C))
	runMean, runVar := e.slice(make([]float32, s.C)), e.slice(e.uniform(s.C, 1, 1))
	y := e.at(ts, sh.yParent, sh.yC0)
	if fromStats {
		batchVar := e.slice(nans(s.C))
		e.do("BatchNorm.Stats", bn.Stats(saveMean, saveInvStd, batchVar, x))
		e.do("BatchNorm.ForwardTrainFromStats", bn.ForwardTrainFromStats(y, runMean, runVar, x, gpu.Tensor{}, gamma, beta, saveMean, saveInvStd, batchVar))
	} else {
		e.do("BatchNorm.ForwardTrain", bn.ForwardTrain(y, saveMean, saveInvStd, runMean, runVar, x, gpu.Tensor{}, gamma, beta))
	}
	yv := e.get(y)
	on := make([]int, s.C)
	for i, v := range yv {
		if v > 0 {
			on[i/hw%s.C]++
		}
	}
	dy := e.at(ts, sh.yParent, sh.yC0)
	ones := make([]float32, ts.Elems())
	for i := range ones {
		ones[i] = 1
	}
	e.put(dy, ones)
	dgamma, dbeta := e.slice(make([]float32, s.C)), e.slice(make([]float32, s.C))
	dx := e.at(ts, sh.xParent, sh.xC0)
	e.do("BatchNorm.Backward", bn.Backward(dx, dgamma, dbeta, dy, x, gamma, beta, saveMean, saveInvStd, false))
	db, dg := e.getS(dbeta), e.getS(dgamma)
	for c, got := range db {
		if got != float32(on[c]) {
			e.errorf("channel %d: the backward's mask passes %v of %d values, the forward's output is > 0 at %d",
				c, got, m, on[c])
		}
	}
	// position by position: flips that cancel within a channel count alike
	mean, invstd := e.getS(saveMean), e.getS(saveInvStd)
	for i, d := range e.get(dx) {
		c := i / hw % s.C
		k := float64(gv[c]) * float64(invstd[c])
		xhat := (float64(xv[i]) - float64(mean[c])) * float64(invstd[c])
		g := float64(d)/k + float64(db[c])/float64(m) + xhat*float64(dg[c])/float64(m)
		if (g > 0.5) != (yv[i] > 0) {
			e.errorf("element %d (channel %d): the backward's masked dy is %.3g where the forward's output is %v",
				i, c, g, yv[i])
			return
		}
	}
}

// snapOrNil is snap, or nil for the zero Tensor.
func (e *env) snapOrNil(t gpu.Tensor) []float32 {
	if t.Buf == nil {
		return nil
	}
	return e.snap(t)
}

// unchangedOrNil is unchanged, or nothing for the zero Tensor.
func (e *env) unchangedOrNil(name string, t gpu.Tensor, before []float32) {
	if t.Buf != nil {
		e.unchanged(name, t, before)
	}
}

func narrow(v []float64) []float32 {
	n := make([]float32, len(v))
	for i, x := range v {
		n[i] = float32(x)
	}
	return n
}
