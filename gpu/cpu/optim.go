package cpu

import (
	"fmt"
	"math"

	"repro/gpu"
)

// optimizer is the fused element-wise update task.
type optimizer struct {
	adam              bool
	p, g, m, v, decay []float32
	sgd               gpu.SGDParams
	ad                gpu.AdamParams
	bias1, bias2      float32 // 1-Beta1^t, 1-Beta2^t
}

func (b *Backend) optimizerSlices(op string, params, grads, m, v, decay gpu.Slice, useV bool) error {
	o := &b.opt
	var err error
	get := func(name string, s gpu.Slice) []float32 {
		if err != nil {
			return nil
		}
		var d []float32
		if d, err = floats(s); err != nil {
			err = fmt.Errorf("cpu %s %s: %w", op, name, err)
		} else if len(d) != params.Len {
			err = fmt.Errorf("cpu %s: %s has %d values, params %d", op, name, len(d), params.Len)
		}
		return d
	}
	o.p, o.g, o.decay = get("params", params), get("grads", grads), get("decay", decay)
	if m.Buf != nil || op == "adam" {
		o.m = get("state", m)
	} else {
		o.m = nil
	}
	if useV {
		o.v = get("second moment", v)
	}
	return err
}

// SGDStep is PyTorch's SGD update; see gpu.Backend.
func (b *Backend) SGDStep(params, grads, momentum, decay gpu.Slice, hp gpu.SGDParams) error {
	if hp.Momentum != 0 && momentum.Buf == nil {
		return fmt.Errorf("cpu sgd: momentum %v needs a momentum buffer", hp.Momentum)
	}
	if err := b.optimizerSlices("sgd", params, grads, momentum, gpu.Slice{}, decay, false); err != nil {
		return err
	}
	b.opt.adam, b.opt.sgd = false, hp
	b.pool.run(&b.opt, params.Len)
	return nil
}

// AdamStep is PyTorch's Adam or AdamW update; see gpu.Backend.
func (b *Backend) AdamStep(params, grads, m, v, decay gpu.Slice, hp gpu.AdamParams) error {
	if hp.Step < 1 {
		return fmt.Errorf("cpu adam: step %d, want >= 1", hp.Step)
	}
	if err := b.optimizerSlices("adam", params, grads, m, v, decay, true); err != nil {
		return err
	}
	b.opt.adam, b.opt.ad = true, hp
	b.opt.bias1 = float32(1 - math.Pow(float64(hp.Beta1), float64(hp.Step)))
	b.opt.bias2 = float32(1 - math.Pow(float64(hp.Beta2), float64(hp.Step)))
	b.pool.run(&b.opt, params.Len)
	return nil
}

func (o *optimizer) run(_, lo, hi int) {
	p, g, d := o.p[lo:hi], o.g[lo:hi], o.decay[lo:hi]
	if !o.adam {
		hp := o.sgd
		if hp.Momentum == 0 {
			for i := range p {
				p[i] -= hp.LR * (g[i] + hp.WeightDecay*d[i]*p[i])
			}
			return
		}
		m := o.m[lo:hi]
		for i := range p {
			gi := g[i] + hp.WeightDecay*d[i]*p[i]
			m[i] = hp.Momentum*m[i] + (1-hp.Dampening)*gi
			if hp.Nesterov {
				gi += hp.Momentum * m[i]
			} else {
				gi = m[i]
			}
			p[i] -= hp.LR * gi
		}
		return
	}
	hp := o.ad
	m, v := o.m[lo:hi], o.v[lo:hi]
	for i := range p {
		gi := g[i]
		if hp.Decoupled {
			p[i] -= hp.LR * hp.WeightDecay * d[i] * p[i]
		} else {
			gi += hp.WeightDecay * d[i] * p[i]
		}
		m[i] = hp.Beta1*m[i] + (1-hp.Beta1)*gi
		v[i] = hp.Beta2*v[i] + (1-hp.Beta2)*gi*gi
		mhat := m[i] / o.bias1
		vhat := v[i] / o.bias2
		p[i] -= hp.LR * mhat / (float32(math.Sqrt(float64(vhat))) + hp.Eps)
	}
}
