package ref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"repro/gpu"
)

// The backward of every differentiable op is checked against central
// differences of the scalar objective L = sum(y * r) for a fixed random r:
// dL/dy = r, so the backward op fed dy = r must return dL/dx. The error is
// max |numerical - analytic| / max |analytic| over the elements of one
// gradient.

const (
	step    = 1e-5 // central-difference step
	gradTol = 1e-6 // max relative error of a gradient
)

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.Float64()*2 - 1
	}
	return v
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkGrad compares analytic with the central-difference gradient of loss
// with respect to x; loss must read x each time it is called.
func checkGrad(t *testing.T, name string, loss func() float64, x, analytic []float64) {
	t.Helper()
	if len(x) != len(analytic) {
		t.Fatalf("%s: %d inputs, %d gradient elements", name, len(x), len(analytic))
	}
	worst, at, scale := 0.0, 0, 1e-12
	for i := range x {
		orig := x[i]
		x[i] = orig + step
		lp := loss()
		x[i] = orig - step
		lm := loss()
		x[i] = orig
		num := (lp - lm) / (2 * step)
		if d := math.Abs(num - analytic[i]); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
		scale = max(scale, math.Abs(analytic[i]))
	}
	if rel := worst / scale; !(rel < gradTol) {
		t.Errorf("%s: relative error %.3g at element %d (analytic %.9g, max |analytic| %.3g)", name, rel, at, analytic[at], scale)
	}
}

func TestConvGradient(t *testing.T) {
	specs := []gpu.ConvSpec{
		{N: 2, InC: 3, InH: 5, InW: 5, OutC: 4, Kernel: 3, Stride: 1, Pad: 1},
		{N: 2, InC: 2, InH: 7, InW: 6, OutC: 3, Kernel: 3, Stride: 2, Pad: 1},
		{N: 2, InC: 3, InH: 4, InW: 4, OutC: 2, Kernel: 1, Stride: 1, Pad: 0},
		{N: 2, InC: 3, InH: 5, InW: 5, OutC: 2, Kernel: 1, Stride: 2, Pad: 0},
		{N: 1, InC: 2, InH: 4, InW: 7, OutC: 3, Kernel: 3, Stride: 1, Pad: 1},
		{N: 1, InC: 2, InH: 5, InW: 6, OutC: 2, Kernel: 3, Stride: 1, Pad: 0},
	}
	for _, s := range specs {
		rng := rand.New(rand.NewPCG(1, uint64(s.InH*100+s.Stride)))
		x, w := randVec(rng, ConvInput(s).Elems()), randVec(rng, s.WeightLen())
		r := randVec(rng, ConvOutput(s).Elems())
		y := make([]float64, len(r))
		loss := func() float64 { ConvForward(y, x, w, s); return dot(y, r) }
		dx, dw := make([]float64, len(x)), make([]float64, len(w))
		ConvBackward(dx, dw, r, x, w, s, false)
		checkGrad(t, "conv dx "+ConvInput(s).String(), loss, x, dx)
		checkGrad(t, "conv dw "+ConvInput(s).String(), loss, w, dw)
	}
}

func TestConvKnownValues(t *testing.T) {
	// One 3x3 image, a 2x2 kernel, stride 1, padding 0: y[i,j] = sum w*x window.
	s := gpu.ConvSpec{N: 1, InC: 1, InH: 3, InW: 3, OutC: 1, Kernel: 2, Stride: 1, Pad: 0}
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	w := []float64{1, 0, 0, -1}
	y := make([]float64, 4)
	ConvForward(y, x, w, s)
	for i, want := range []float64{1 - 5, 2 - 6, 4 - 8, 5 - 9} {
		if y[i] != want {
			t.Errorf("y[%d] = %g, want %g", i, y[i], want)
		}
	}
	// Padding 1, stride 2 on the same image: output 2x2 with centres at
	// input positions (0,0), (0,2), (2,0), (2,2) read by the centre tap (1,1),
	// the only nonzero one.
	s = gpu.ConvSpec{N: 1, InC: 1, InH: 3, InW: 3, OutC: 1, Kernel: 3, Stride: 2, Pad: 1}
	w = []float64{0, 0, 0, 0, 1, 0, 0, 0, 0}
	ConvForward(y, x, w, s)
	for i, want := range []float64{1, 3, 7, 9} {
		if y[i] != want {
			t.Errorf("strided y[%d] = %g, want %g", i, y[i], want)
		}
	}
}

func bnLoss(y, x, shortcut, gamma, beta, r []float64, s gpu.BatchNormSpec) func() float64 {
	return func() float64 {
		c := s.C
		BatchNormForwardTrain(y, make([]float64, c), make([]float64, c), make([]float64, c), make([]float64, c), x, shortcut, gamma, beta, s)
		return dot(y, r)
	}
}

// TestBatchNormResidualReLUGradient checks the contract of ResidualReLU:
// the gradient of max(bn(x) + shortcut, 0) is BatchNormBackward of dy
// masked by that output, and the shortcut's gradient is the same masked dy.
func TestBatchNormResidualReLUGradient(t *testing.T) {
	s := gpu.BatchNormSpec{N: 2, C: 3, H: 2, W: 3, Eps: 1e-5, Momentum: 0.1, ResidualReLU: true}
	rng := rand.New(rand.NewPCG(3, 4))
	sh := Shape{s.N, s.C, s.H, s.W}
	x, shortcut, r := randVec(rng, sh.Elems()), randVec(rng, sh.Elems()), randVec(rng, sh.Elems())
	gamma, beta := randVec(rng, s.C), randVec(rng, s.C)
	y := make([]float64, len(x))
	mean, invstd := make([]float64, s.C), make([]float64, s.C)
	BatchNormForwardTrain(y, mean, invstd, make([]float64, s.C), make([]float64, s.C), x, shortcut, gamma, beta, s)
	g, zeros := make([]float64, len(y)), 0
	for i, v := range y {
		if v > 0 {
			g[i] = r[i]
		} else {
			zeros++
		}
	}
	if zeros == 0 || zeros == len(y) {
		t.Fatalf("%d of %d outputs are 0: the ReLU is not exercised", zeros, len(y))
	}
	plain := s
	plain.ResidualReLU = false
	dx, dgamma, dbeta := make([]float64, len(x)), make([]float64, s.C), make([]float64, s.C)
	BatchNormBackward(dx, dgamma, dbeta, g, x, gamma, nil, mean, invstd, plain, false)
	loss := bnLoss(y, x, shortcut, gamma, beta, r, s)
	checkGrad(t, "batchnorm residual relu dx", loss, x, dx)
	checkGrad(t, "batchnorm residual relu dshortcut", loss, shortcut, g)
	checkGrad(t, "batchnorm residual relu dgamma", loss, gamma, dgamma)
	checkGrad(t, "batchnorm residual relu dbeta", loss, beta, dbeta)
}

func TestBatchNormGradient(t *testing.T) {
	for _, s := range []gpu.BatchNormSpec{
		{N: 2, C: 3, H: 2, W: 3, Eps: 1e-5, Momentum: 0.1},
		{N: 4, C: 2, H: 1, W: 1, Eps: 1e-3, Momentum: 0.1},
		{N: 2, C: 3, H: 2, W: 3, Eps: 1e-5, Momentum: 0.1, ReLU: true},
		{N: 3, C: 2, H: 2, W: 2, Eps: 1e-3, Momentum: 0.1, ReLU: true},
	} {
		rng := rand.New(rand.NewPCG(2, uint64(s.N)))
		sh := Shape{s.N, s.C, s.H, s.W}
		x, r := randVec(rng, sh.Elems()), randVec(rng, sh.Elems())
		for i := range x {
			x[i] = 2*x[i] + 0.5 // mean and spread away from 0 and 1
		}
		gamma, beta := randVec(rng, s.C), randVec(rng, s.C)
		if s.ReLU { // about half the outputs at 0, none near the kink
			for c := range gamma {
				gamma[c], beta[c] = 0.5+math.Abs(gamma[c]), 0.2*beta[c]
			}
		}
		y := make([]float64, len(x))
		mean, invstd := make([]float64, s.C), make([]float64, s.C)
		BatchNormForwardTrain(y, mean, invstd, make([]float64, s.C), make([]float64, s.C), x, nil, gamma, beta, s)
		dx, dgamma, dbeta := make([]float64, len(x)), make([]float64, s.C), make([]float64, s.C)
		BatchNormBackward(dx, dgamma, dbeta, r, x, gamma, beta, mean, invstd, s, false)
		if s.ReLU {
			zeros := 0
			for _, v := range y {
				if v == 0 {
					zeros++
				}
			}
			if zeros == 0 || zeros == len(y) {
				t.Fatalf("ReLU %s: %d of %d outputs are 0: the mask is not exercised", sh, zeros, len(y))
			}
		}
		loss := bnLoss(y, x, nil, gamma, beta, r, s)
		name := fmt.Sprintf("batchnorm relu=%v ", s.ReLU) + sh.String()
		checkGrad(t, name+" dx", loss, x, dx)
		checkGrad(t, name+" dgamma", loss, gamma, dgamma)
		checkGrad(t, name+" dbeta", loss, beta, dbeta)
	}
}

func TestBatchNormStatistics(t *testing.T) {
	// x = 1, 2, 3, 4 in one channel: mean 2.5, biased variance 1.25,
	// unbiased 5/3.
	s := gpu.BatchNormSpec{N: 2, C: 1, H: 1, W: 2, Eps: 1e-5, Momentum: 0.1}
	x := []float64{1, 2, 3, 4}
	y := make([]float64, 4)
	mean, invstd := []float64{0}, []float64{0}
	runMean, runVar := []float64{1}, []float64{2}
	BatchNormForwardTrain(y, mean, invstd, runMean, runVar, x, nil, []float64{2}, []float64{0.5}, s)
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, want %.15g", name, got, want)
		}
	}
	is := 1 / math.Sqrt(1.25+1e-5)
	check("saveMean", mean[0], 2.5)
	check("saveInvStd", invstd[0], is)
	check("runMean", runMean[0], 0.9*1+0.1*2.5)
	check("runVar", runVar[0], 0.9*2+0.1*5.0/3)
	for i, v := range x {
		check("y", y[i], 2*(v-2.5)*is+0.5)
	}
	// Inference with running mean 2 and variance 4 - Eps: y = gamma*(x-2)/2 + beta.
	BatchNormForwardInfer(y, x, nil, []float64{2}, []float64{0.5}, []float64{2}, []float64{4 - 1e-5}, s)
	for i, v := range x {
		check("infer y", y[i], (v-2)+0.5)
	}
}

func TestReLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 0))
	x, r := randVec(rng, 60), randVec(rng, 60)
	for i := range x {
		if math.Abs(x[i]) < 0.1 { // keep away from the kink
			x[i] += math.Copysign(0.2, x[i])
		}
	}
	y := make([]float64, 60)
	ReLUForward(y, x)
	dx := make([]float64, 60)
	ReLUBackward(dx, r, y)
	checkGrad(t, "relu dx", func() float64 { ReLUForward(y, x); return dot(y, r) }, x, dx)
}

func TestResidualGradient(t *testing.T) {
	for _, c := range []struct{ a, s Shape }{
		{Shape{2, 3, 3, 4}, Shape{2, 3, 3, 4}}, // identity
		{Shape{2, 6, 2, 3}, Shape{2, 3, 4, 6}}, // option A, odd channel split (pad 1)
		{Shape{2, 4, 3, 3}, Shape{2, 2, 6, 6}}, // option A, pad 1 each side
		{Shape{1, 5, 2, 2}, Shape{1, 2, 2, 2}}, // fewer channels, no subsampling
	} {
		rng := rand.New(rand.NewPCG(4, uint64(c.a.C)))
		a, s, r := randVec(rng, c.a.Elems()), randVec(rng, c.s.Elems()), randVec(rng, c.a.Elems())
		y := make([]float64, len(a))
		loss := func() float64 { ResidualForward(y, a, s, c.a, c.s); return dot(y, r) }
		ds := make([]float64, len(s))
		ShortcutBackward(ds, r, c.s, c.a, false)
		checkGrad(t, "residual da "+c.a.String(), loss, a, r)
		checkGrad(t, "residual ds "+c.s.String(), loss, s, ds)
	}
}

func TestResidualKnownValues(t *testing.T) {
	// a: 1 x 4 x 1 x 1 zeros; s: 1 x 2 x 2 x 2 holding 1..8: channels 1 and
	// 2 of y take s[0,0,0,0] = 1 and s[0,1,0,0] = 5.
	y := make([]float64, 4)
	ResidualForward(y, make([]float64, 4), []float64{1, 2, 3, 4, 5, 6, 7, 8}, Shape{1, 4, 1, 1}, Shape{1, 2, 2, 2})
	for i, want := range []float64{0, 1, 5, 0} {
		if y[i] != want {
			t.Errorf("y[%d] = %g, want %g", i, y[i], want)
		}
	}
}

func TestAddGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 0))
	a, b, r := randVec(rng, 24), randVec(rng, 24), randVec(rng, 24)
	y := make([]float64, 24)
	loss := func() float64 { AddForward(y, a, b); return dot(y, r) }
	checkGrad(t, "add da", loss, a, r)
	checkGrad(t, "add db", loss, b, r)
}

func TestPoolGradient(t *testing.T) {
	for _, c := range []struct {
		xs Shape
		k  int
	}{{Shape{2, 3, 4, 6}, 2}, {Shape{1, 2, 6, 3}, 3}, {Shape{2, 2, 5, 7}, 2}} {
		rng := rand.New(rand.NewPCG(6, uint64(c.k)))
		x, r := randVec(rng, c.xs.Elems()), randVec(rng, AvgPoolOutput(c.xs, c.k).Elems())
		y := make([]float64, len(r))
		dx := make([]float64, len(x))
		AvgPoolBackward(dx, r, c.xs, c.k, false)
		checkGrad(t, "avgpool dx "+c.xs.String(), func() float64 { AvgPoolForward(y, x, c.xs, c.k); return dot(y, r) }, x, dx)
	}
	xs := Shape{2, 3, 3, 4}
	rng := rand.New(rand.NewPCG(6, 99))
	x, r := randVec(rng, xs.Elems()), randVec(rng, xs.N*xs.C)
	y, dx := make([]float64, len(r)), make([]float64, len(x))
	GlobalAvgPoolBackward(dx, r, xs, false)
	checkGrad(t, "global avgpool dx", func() float64 { GlobalAvgPoolForward(y, x, xs); return dot(y, r) }, x, dx)
}

func TestLinearGradient(t *testing.T) {
	const n, in, out = 3, 5, 4
	rng := rand.New(rand.NewPCG(7, 0))
	x, w, b, r := randVec(rng, n*in), randVec(rng, out*in), randVec(rng, out), randVec(rng, n*out)
	y := make([]float64, n*out)
	loss := func() float64 { LinearForward(y, x, w, b, n, in, out); return dot(y, r) }
	dx, dw, db := make([]float64, len(x)), make([]float64, len(w)), make([]float64, len(b))
	LinearBackward(dx, dw, db, r, x, w, n, in, out, false)
	checkGrad(t, "linear dx", loss, x, dx)
	checkGrad(t, "linear dw", loss, w, dw)
	checkGrad(t, "linear db", loss, b, db)
}

func TestDropoutGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 0))
	const p, seed = 0.3, 12345
	x, r := randVec(rng, 200), randVec(rng, 200)
	y, dx := make([]float64, 200), make([]float64, 200)
	DropoutBackward(dx, r, p, seed, false)
	checkGrad(t, "dropout dx", func() float64 { DropoutForward(y, x, p, seed); return dot(y, r) }, x, dx)
	kept := 0
	for e := range x {
		keep := gpu.Uniform(gpu.Mix(seed, uint64(e))) >= p
		if keep {
			kept++
			if math.Abs(y[e]-x[e]/0.7) > 1e-7 {
				t.Errorf("kept element %d: y %g, want %g", e, y[e], x[e]/0.7)
			}
		} else if y[e] != 0 {
			t.Errorf("dropped element %d: y %g, want 0", e, y[e])
		}
	}
	if kept < 110 || kept > 170 {
		t.Errorf("kept %d of 200 at rate %v", kept, p)
	}
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	const n, k = 5, 4
	rng := rand.New(rand.NewPCG(9, 0))
	logits := randVec(rng, n*k)
	labels := []int32{2, -1, 0, 3, 3}
	const valid = 4
	loss := func() float64 {
		m := make([]float64, 3)
		SoftmaxCrossEntropy(nil, m, logits, labels, k, 0)
		return m[0] / valid
	}
	d := make([]float64, n*k)
	for i := range d {
		d[i] = math.NaN() // padding rows must be overwritten with 0
	}
	m := []float64{10, 20, 30}
	SoftmaxCrossEntropy(d, m, logits, labels, k, 1.0/valid)
	checkGrad(t, "softmax cross-entropy dlogits", loss, logits, d)
	for j := range k {
		if d[1*k+j] != 0 {
			t.Errorf("padding row: dlogits %g, want 0", d[1*k+j])
		}
	}
	// The loss by its definition, -log(exp(l_y) / sum exp(l)).
	want := 0.0
	for s, l := range labels {
		if l < 0 {
			continue
		}
		sum := 0.0
		for j := range k {
			sum += math.Exp(logits[s*k+j])
		}
		want -= math.Log(math.Exp(logits[s*k+int(l)]) / sum)
	}
	if math.Abs(m[0]-10-want) > 1e-12 || m[2] != 30+valid {
		t.Errorf("metrics %v: want loss sum 10 + %g and count 30 + %d", m, want, valid)
	}
}

func TestSoftmaxCrossEntropyArgmax(t *testing.T) {
	// Ties go to the first maximum.
	logits := []float64{
		1, 3, 3, // first max 1: label 1 right
		1, 3, 3, // label 2 wrong (tie, not first)
		5, 0, 5, // label 0 right
		0, 0, 1, // label 0 wrong
		9, 9, 9, // padding
	}
	m := make([]float64, 3)
	SoftmaxCrossEntropy(nil, m, logits, []int32{1, 2, 0, 0, -1}, 3, 1)
	if m[1] != 2 || m[2] != 4 {
		t.Errorf("errors %g of %g, want 2 of 4", m[1], m[2])
	}
}
