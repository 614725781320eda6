package ref

import (
	"fmt"
	"math"

	"repro/gpu"
)

// SGDStep updates params in place as gpu.Backend.SGDStep (PyTorch's SGD), for
// every element, with decay 1 where weight decay applies and 0 elsewhere:
//
//	g = grad + WeightDecay*decay*param
//	if Momentum != 0: buf = Momentum*buf + (1-Dampening)*g; g = g + Momentum*buf if Nesterov else buf
//	param -= LR*g
//
// With Momentum 0 the buffer is not touched.
func SGDStep(params, grads, momentum, decay []float64, hp gpu.SGDParams) {
	const op = "SGDStep"
	need(op, "grads", grads, len(params))
	need(op, "momentum", momentum, len(params))
	need(op, "decay", decay, len(params))
	lr, mom, damp, wd := float64(hp.LR), float64(hp.Momentum), float64(hp.Dampening), float64(hp.WeightDecay)
	for i := range params {
		g := grads[i] + wd*decay[i]*params[i]
		if mom != 0 {
			momentum[i] = mom*momentum[i] + (1-damp)*g
			if hp.Nesterov {
				g += mom * momentum[i]
			} else {
				g = momentum[i]
			}
		}
		params[i] -= lr * g
	}
}

// AdamStep updates params in place as gpu.Backend.AdamStep (PyTorch's Adam,
// or AdamW when Decoupled), for every element:
//
//	Adam:  g = grad + WeightDecay*decay*param
//	AdamW: param -= LR*WeightDecay*decay*param; g = grad
//	m = Beta1*m + (1-Beta1)*g
//	v = Beta2*v + (1-Beta2)*g^2
//	mhat = m/(1-Beta1^Step); vhat = v/(1-Beta2^Step)
//	param -= LR*mhat/(sqrt(vhat)+Eps)
func AdamStep(params, grads, m, v, decay []float64, hp gpu.AdamParams) {
	const op = "AdamStep"
	if hp.Step < 1 {
		panic(fmt.Sprintf("ref.%s: step %d, want 1 or more", op, hp.Step))
	}
	need(op, "grads", grads, len(params))
	need(op, "m", m, len(params))
	need(op, "v", v, len(params))
	need(op, "decay", decay, len(params))
	lr, b1, b2, eps, wd := float64(hp.LR), float64(hp.Beta1), float64(hp.Beta2), float64(hp.Eps), float64(hp.WeightDecay)
	c1 := 1 - math.Pow(b1, float64(hp.Step))
	c2 := 1 - math.Pow(b2, float64(hp.Step))
	for i := range params {
		g := grads[i]
		if hp.Decoupled {
			params[i] -= lr * wd * decay[i] * params[i]
		} else {
			g += wd * decay[i] * params[i]
		}
		m[i] = b1*m[i] + (1-b1)*g
		v[i] = b2*v[i] + (1-b2)*g*g
		mhat, vhat := m[i]/c1, v[i]/c2
		params[i] -= lr * mhat / (math.Sqrt(vhat) + eps)
	}
}
