package gputest

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/ref"
)

// convShape is a convolution to check; x and y (and dx, dy alike) are views
// of wider parents when xParent or yParent is set.
type convShape struct {
	name         string
	s            gpu.ConvSpec
	xParent, xC0 int
	yParent, yC0 int
}

func convShapes() []convShape {
	c := func(n, inC, h, w, outC, k, stride, pad int) gpu.ConvSpec {
		return gpu.ConvSpec{N: n, InC: inC, InH: h, InW: w, OutC: outC, Kernel: k, Stride: stride, Pad: pad}
	}
	return []convShape{
		// ResNet-20..110 on CIFAR: input conv, the three stages and the
		// stride-2 convs between them.
		{name: "resnet-3to16-32x32", s: c(4, 3, 32, 32, 16, 3, 1, 1)},
		{name: "resnet-16to16-32x32", s: c(4, 16, 32, 32, 16, 3, 1, 1)},
		{name: "resnet-16to32-s2-32x32", s: c(4, 16, 32, 32, 32, 3, 2, 1)},
		{name: "resnet-32to64-s2-16x16", s: c(4, 32, 16, 16, 64, 3, 2, 1)},
		{name: "resnet-64to64-8x8", s: c(8, 64, 8, 8, 64, 3, 1, 1)},
		// DenseNet (k = 12): input conv of DenseNet-BC, the bottleneck 1x1 to
		// 4k reading a prefix of the block buffer, the 3x3 growth conv writing
		// its k channels into the block buffer, a transition 1x1.
		{name: "densenet-3to24-32x32", s: c(4, 3, 32, 32, 24, 3, 1, 1)},
		{name: "densenet-bottleneck-60to48-1x1-16x16-xview", s: c(4, 60, 16, 16, 48, 1, 1, 0), xParent: 72},
		{name: "densenet-growth-48to12-32x32-yview", s: c(4, 48, 32, 32, 12, 3, 1, 1), yParent: 72, yC0: 60},
		{name: "densenet-transition-96to48-1x1-16x16", s: c(4, 96, 16, 16, 48, 1, 1, 0)},
		// Odd shapes.
		{name: "odd-5to7-5x7", s: c(3, 5, 5, 7, 7, 3, 1, 1)},
		{name: "odd-4to6-s2-7x9", s: c(2, 4, 7, 9, 6, 3, 2, 1)},
		{name: "odd-1x1-s2-7x5", s: c(2, 3, 7, 5, 4, 1, 2, 0)},
		{name: "odd-3x3-p0-6x5", s: c(2, 3, 6, 5, 4, 3, 1, 0)},
		// 3x3 stride 1 with 8 or more channels and padding other than 1: the
		// CPU's Winograd path at its edges (tiles past odd sizes).
		{name: "odd-9to8-p0-7x6", s: c(2, 9, 7, 6, 8, 3, 1, 0)},
		{name: "odd-8to9-p2-5x4", s: c(2, 8, 5, 4, 9, 3, 1, 2)},
		{name: "odd-s2-views-6x7", s: c(2, 5, 6, 7, 3, 3, 2, 1), xParent: 9, xC0: 2, yParent: 8, yC0: 4},
	}
}

func convCases() []Case {
	var cs []Case
	for _, sh := range convShapes() {
		cs = append(cs,
			newCase(join("conv", sh.name, "forward"), func(e *env) { e.convForward(sh) }),
			newCase(join("conv", sh.name, "backward"), func(e *env) { e.convBackward(sh) }))
	}
	return append(cs,
		newCase("conv/densenet-concat-same-buffer/forward", convConcatForward),
		newCase("conv/densenet-concat-same-buffer/backward", convConcatBackward))
}

// at allocates a tensor of shape s, or with parentC > 0 the view of channels
// [c0, c0+s.C) of an N x parentC x H x W parent; NaN everywhere.
func (e *env) at(s ref.Shape, parentC, c0 int) gpu.Tensor {
	if parentC == 0 {
		return e.tensor(s)
	}
	return e.view(s, parentC, c0)
}

func (e *env) newConv(s gpu.ConvSpec) gpu.Conv {
	c, err := e.b.NewConv(s)
	e.do(fmt.Sprintf("NewConv(%+v)", s), err)
	if c.Spec() != s {
		e.errorf("NewConv(%+v).Spec() = %+v", s, c.Spec())
	}
	return c
}

func (e *env) convForward(sh convShape) {
	s := sh.s
	conv := e.newConv(s)
	x := e.at(ref.ConvInput(s), sh.xParent, sh.xC0)
	xv := e.fill(x)
	wv := e.rnd(s.WeightLen())
	w := e.slice(wv)
	y := e.at(ref.ConvOutput(s), sh.yParent, sh.yC0)
	xBefore, yBefore := e.snap(x), e.snap(y)
	e.do("Conv.Forward", conv.Forward(y, x, w))
	want := make([]float64, ref.ConvOutput(s).Elems())
	ref.ConvForward(want, widen(xv), widen(wv), s)
	e.expect("y", y, yBefore, want)
	e.unchanged("x", x, xBefore)
	e.unchangedS("w", w, wv)
}

func (e *env) convBackward(sh convShape) {
	s := sh.s
	conv := e.newConv(s)
	xs, ys := ref.ConvInput(s), ref.ConvOutput(s)
	x := e.at(xs, sh.xParent, sh.xC0)
	xv := e.fill(x)
	wv := e.rnd(s.WeightLen())
	w := e.slice(wv)
	dy := e.at(ys, sh.yParent, sh.yC0)
	dyv := e.fill(dy)
	xBefore, dyBefore := e.snap(x), e.snap(dy)
	// The gradients, once: gx = dL/dx, gw = dL/dw.
	gx, gw := make([]float64, xs.Elems()), make([]float64, s.WeightLen())
	ref.ConvBackward(gx, gw, widen(dyv), widen(xv), widen(wv), s, false)

	// Without dx: dw accumulates onto random values.
	dw0 := e.rnd(s.WeightLen())
	dw := e.slice(dw0)
	e.do("Conv.Backward (no dx)", conv.Backward(gpu.Tensor{}, dw, dy, x, w, false))
	e.expectS("dw (dx nil)", dw, addTo(dw0, gw))

	// dx overwritten (it starts as NaN).
	dw0 = e.getS(dw)
	dx := e.at(xs, sh.xParent, sh.xC0)
	dxBefore := e.snap(dx)
	e.do("Conv.Backward", conv.Backward(dx, dw, dy, x, w, false))
	e.expect("dx", dx, dxBefore, gx)
	e.expectS("dw", dw, addTo(dw0, gw))

	// dx accumulated onto random values.
	dx = e.at(xs, sh.xParent, sh.xC0)
	dx0 := e.fill(dx)
	dxBefore = e.snap(dx)
	dw0 = e.getS(dw)
	e.do("Conv.Backward (accumulate)", conv.Backward(dx, dw, dy, x, w, true))
	e.expect("dx (accumulate)", dx, dxBefore, addTo(dx0, gx))
	e.expectS("dw", dw, addTo(dw0, gw))

	e.unchanged("x", x, xBefore)
	e.unchanged("dy", dy, dyBefore)
	e.unchangedS("w", w, wv)
}

// addTo returns init + g.
func addTo(init []float32, g []float64) []float64 {
	v := widen(init)
	for i := range v {
		v[i] += g[i]
	}
	return v
}

// A DenseNet-40 layer reads channels [0, 24) of its block buffer and writes
// its 12 new channels into [24, 36) of the same buffer; backward reads the
// gradient of [24, 36) and adds the gradient of [0, 24) into the same
// gradient buffer.
var concatSpec = gpu.ConvSpec{N: 4, InC: 24, InH: 16, InW: 16, OutC: 12, Kernel: 3, Stride: 1, Pad: 1}

func convConcatForward(e *env) {
	s := concatSpec
	conv := e.newConv(s)
	block := e.view(ref.Shape{N: 4, C: 36, H: 16, W: 16}, 36, 0)
	x, y := block.Channels(0, 24), block.Channels(24, 12)
	xv := e.fill(x)
	wv := e.rnd(s.WeightLen())
	w := e.slice(wv)
	before := e.snap(y)
	e.do("Conv.Forward", conv.Forward(y, x, w))
	want := make([]float64, ref.ConvOutput(s).Elems())
	ref.ConvForward(want, widen(xv), widen(wv), s)
	e.expect("y (channels 24..35 of the block, x in 0..23 unchanged)", y, before, want)
}

func convConcatBackward(e *env) {
	s := concatSpec
	conv := e.newConv(s)
	shape := ref.Shape{N: 4, C: 36, H: 16, W: 16}
	block := e.view(shape, 36, 0)
	x := block.Channels(0, 24)
	xv := e.fill(x)
	wv := e.rnd(s.WeightLen())
	w := e.slice(wv)
	grad := e.view(shape, 36, 0)
	dx, dy := grad.Channels(0, 24), grad.Channels(24, 12)
	dyv, dx0 := e.fill(dy), e.fill(dx)
	dw0 := e.rnd(s.WeightLen())
	dw := e.slice(dw0)
	before := e.snap(dx)
	e.do("Conv.Backward", conv.Backward(dx, dw, dy, x, w, true))
	gx, gw := make([]float64, ref.ConvInput(s).Elems()), make([]float64, s.WeightLen())
	ref.ConvBackward(gx, gw, widen(dyv), widen(xv), widen(wv), s, false)
	e.expect("dx (channels 0..23 of the gradient, accumulated; dy in 24..35 unchanged)", dx, before, addTo(dx0, gx))
	e.expectS("dw", dw, addTo(dw0, gw))
}
