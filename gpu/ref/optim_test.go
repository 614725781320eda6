package ref

import (
	"math"
	"testing"

	"repro/gpu"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g", name, got, want)
	}
}

// TestSGDHandValues: param 1, grad 0.5, buffer 0.2, lr 0.1, momentum 0.9,
// dampening 0.1, weight decay 0.1, worked by hand from PyTorch's SGD.
func TestSGDHandValues(t *testing.T) {
	hp := gpu.SGDParams{LR: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.1}
	f := func(v float32) float64 { return float64(v) } // the float32 parameters, widened
	for _, c := range []struct {
		name           string
		decay          float64
		nesterov       bool
		momentum       float32
		param, buf     float64
		wantP, wantBuf float64
	}{
		// g = 0.5 + 0.1*1 = 0.6; buf = 0.9*0.2 + 0.9*0.6 = 0.72; param = 1 - 0.1*0.72.
		{"momentum", 1, false, 0.9, 1, 0.2, 1 - f(hp.LR)*(f(0.9)*0.2+(1-f(0.1))*(0.5+f(0.1))), f(0.9)*0.2 + (1-f(0.1))*(0.5+f(0.1))},
		// nesterov: g = 0.6 + 0.9*0.72 = 1.248; param = 1 - 0.1248.
		{"nesterov", 1, true, 0.9, 1, 0.2, 1 - f(hp.LR)*((0.5+f(0.1))+f(0.9)*(f(0.9)*0.2+(1-f(0.1))*(0.5+f(0.1)))), f(0.9)*0.2 + (1-f(0.1))*(0.5+f(0.1))},
		// no decay where the mask is 0: g = 0.5; buf = 0.18 + 0.45 = 0.63.
		{"masked", 0, false, 0.9, 1, 0.2, 1 - f(hp.LR)*(f(0.9)*0.2+(1-f(0.1))*0.5), f(0.9)*0.2 + (1-f(0.1))*0.5},
		// momentum 0: param = 1 - 0.1*0.6, buffer untouched.
		{"plain", 1, false, 0, 1, 0.2, 1 - f(hp.LR)*(0.5+f(0.1)), 0.2},
	} {
		h := hp
		h.Nesterov, h.Momentum = c.nesterov, c.momentum
		p, b := []float64{c.param}, []float64{c.buf}
		SGDStep(p, []float64{0.5}, b, []float64{c.decay}, h)
		near(t, c.name+" param", p[0], c.wantP)
		near(t, c.name+" buffer", b[0], c.wantBuf)
	}
	// The same numbers rounded, as a check on the expressions above.
	p, b := []float64{1}, []float64{0.2}
	SGDStep(p, []float64{0.5}, b, []float64{1}, hp)
	if math.Abs(p[0]-0.928) > 1e-7 || math.Abs(b[0]-0.72) > 1e-7 {
		t.Errorf("momentum step: param %g buffer %g, want 0.928 0.72", p[0], b[0])
	}
	hp.Nesterov = true
	p, b = []float64{1}, []float64{0.2}
	SGDStep(p, []float64{0.5}, b, []float64{1}, hp)
	if math.Abs(p[0]-0.8752) > 1e-7 {
		t.Errorf("nesterov step: param %g, want 0.8752", p[0])
	}
}

// torchSGD is PyTorch's _single_tensor_sgd for one tensor, transcribed
// statement by statement (buffer already initialized).
func torchSGD(param, grad, buf []float64, wd, momentum, dampening, lr float64, nesterov bool) {
	for i := range param {
		g := grad[i]
		if wd != 0 {
			g = g + wd*param[i] // grad.add(param, alpha=wd)
		}
		if momentum != 0 {
			buf[i] = buf[i]*momentum + (1-dampening)*g // buf.mul_(momentum).add_(grad, alpha=1-dampening)
			if nesterov {
				g = g + momentum*buf[i]
			} else {
				g = buf[i]
			}
		}
		param[i] += -lr * g
	}
}

// torchAdam is PyTorch's _single_tensor_adam for one tensor (amsgrad off),
// transcribed statement by statement, with AdamW's decoupled decay.
func torchAdam(param, grad, m, v []float64, lr, b1, b2, eps, wd float64, decoupled bool, step int) {
	for i := range param {
		g := grad[i]
		if decoupled {
			param[i] *= 1 - lr*wd // param.mul_(1 - lr*weight_decay)
		} else if wd != 0 {
			g = g + wd*param[i]
		}
		m[i] += (g - m[i]) * (1 - b1) // exp_avg.lerp_(grad, 1-beta1)
		v[i] = v[i]*b2 + (1-b2)*g*g   // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
		bc1 := 1 - math.Pow(b1, float64(step))
		bc2 := 1 - math.Pow(b2, float64(step))
		stepSize := lr / bc1
		denom := math.Sqrt(v[i])/math.Sqrt(bc2) + eps
		param[i] += -stepSize * m[i] / denom // param.addcdiv_(exp_avg, denom, value=-step_size)
	}
}

func TestSGDMatchesPyTorch(t *testing.T) {
	param := []float64{1, -0.5, 0.25, 2}
	grad := []float64{0.5, 0.1, -0.3, 0}
	decay := []float64{1, 0, 1, 1}
	for _, hp := range []gpu.SGDParams{
		{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4},
		{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true},
		{LR: 0.05, Momentum: 0.8, Dampening: 0.3, WeightDecay: 1e-2},
		{LR: 0.1},
	} {
		p, b := append([]float64(nil), param...), []float64{0.1, 0.2, -0.1, 0}
		// PyTorch has one weight decay per parameter group: run decayed and
		// undecayed elements as two groups.
		pd, bd := append([]float64(nil), p...), append([]float64(nil), b...)
		pn, bn := append([]float64(nil), p...), append([]float64(nil), b...)
		for step := 0; step < 3; step++ {
			SGDStep(p, grad, b, decay, hp)
			torchSGD(pd, grad, bd, float64(hp.WeightDecay), float64(hp.Momentum), float64(hp.Dampening), float64(hp.LR), hp.Nesterov)
			torchSGD(pn, grad, bn, 0, float64(hp.Momentum), float64(hp.Dampening), float64(hp.LR), hp.Nesterov)
		}
		for i := range p {
			wantP, wantB := pd[i], bd[i]
			if decay[i] == 0 {
				wantP, wantB = pn[i], bn[i]
			}
			near(t, "sgd param", p[i], wantP)
			near(t, "sgd buffer", b[i], wantB)
		}
	}
}

func TestAdamMatchesPyTorch(t *testing.T) {
	param := []float64{1, -0.5, 0.25, 2}
	grads := [][]float64{{0.5, 0.1, -0.3, 0}, {0.2, -0.4, 0.1, 1e-3}, {-0.1, 0.3, 0.3, 0}}
	decay := []float64{1, 0, 1, 1}
	for _, decoupled := range []bool{false, true} {
		hp := gpu.AdamParams{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Decoupled: decoupled}
		f := func(v float32) float64 { return float64(v) }
		p, m, v := append([]float64(nil), param...), make([]float64, 4), make([]float64, 4)
		pd, md, vd := append([]float64(nil), param...), make([]float64, 4), make([]float64, 4)
		pn, mn, vn := append([]float64(nil), param...), make([]float64, 4), make([]float64, 4)
		for step, g := range grads {
			hp.Step = step + 1
			AdamStep(p, g, m, v, decay, hp)
			torchAdam(pd, g, md, vd, f(hp.LR), f(hp.Beta1), f(hp.Beta2), f(hp.Eps), f(hp.WeightDecay), decoupled, hp.Step)
			torchAdam(pn, g, mn, vn, f(hp.LR), f(hp.Beta1), f(hp.Beta2), f(hp.Eps), 0, decoupled, hp.Step)
		}
		for i := range p {
			wp, wm, wv := pd[i], md[i], vd[i]
			if decay[i] == 0 {
				wp, wm, wv = pn[i], mn[i], vn[i]
			}
			near(t, "adam param", p[i], wp)
			near(t, "adam m", m[i], wm)
			near(t, "adam v", v[i], wv)
		}
	}
	// First step by hand (the float32 betas move m and v by about 1e-8):
	// g = 0.5, m = 0.05, v = 0.00025, mhat = 0.5,
	// vhat = 0.25: param moves by lr*0.5/(0.5+eps), about lr.
	p, m, v := []float64{1}, []float64{0}, []float64{0}
	AdamStep(p, []float64{0.5}, m, v, []float64{0}, gpu.AdamParams{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1})
	if math.Abs(p[0]-0.9) > 1e-7 || math.Abs(m[0]-0.05) > 1e-7 || math.Abs(v[0]-0.00025) > 1e-8 {
		t.Errorf("first Adam step: param %g m %g v %g, want 0.9 0.05 0.00025", p[0], m[0], v[0])
	}
	// AdamW with zero gradient only decays: param = 1 - lr*wd*1 and then a
	// zero update (m = v = 0).
	p, m, v = []float64{1}, []float64{0}, []float64{0}
	AdamStep(p, []float64{0}, m, v, []float64{1}, gpu.AdamParams{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5, Decoupled: true, Step: 1})
	if math.Abs(p[0]-0.95) > 1e-7 {
		t.Errorf("AdamW decay step: param %g, want 0.95", p[0])
	}
}
