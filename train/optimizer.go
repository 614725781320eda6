package train

import (
	"fmt"

	"repro/gpu"
	"repro/model"
)

// optimizer updates a net's flat parameters from its flat gradients in one
// fused pass per step.
type optimizer struct {
	b             gpu.Backend
	cfg           OptimizerConfig
	params, grads gpu.Slice
	m, v          gpu.Slice // SGD momentum, or Adam's first and second moments
	decay         gpu.Slice // 1 where weight decay applies, else 0
}

func newOptimizer(b gpu.Backend, net *model.Net, cfg OptimizerConfig) (*optimizer, error) {
	o := &optimizer{b: b, cfg: cfg, params: net.Params, grads: net.Grads}
	var err error
	if cfg.Name == "sgd" && cfg.Momentum > 0 || cfg.Name != "sgd" {
		if o.m, err = b.Alloc(net.Params.Len); err != nil {
			return nil, fmt.Errorf("optimizer state: %w", err)
		}
	}
	if cfg.Name != "sgd" {
		if o.v, err = b.Alloc(net.Params.Len); err != nil {
			return nil, fmt.Errorf("optimizer state: %w", err)
		}
	}
	if o.decay, err = b.Alloc(net.Params.Len); err != nil {
		return nil, fmt.Errorf("optimizer decay mask: %w", err)
	}
	if err := b.Upload(o.decay, DecayMask(net.Info, net.Params.Len, cfg)); err != nil {
		return nil, fmt.Errorf("optimizer decay mask: %w", err)
	}
	return o, nil
}

// DecayMask is 1 for every parameter that takes weight decay: convolution
// and linear weights always, batch-norm scales and shifts with DecayBN, the
// classifier bias with DecayBias.
func DecayMask(info []model.Param, n int, cfg OptimizerConfig) []float32 {
	mask := make([]float32, n)
	for _, p := range info {
		on := false
		switch p.Kind {
		case model.ConvWeight, model.LinearWeight:
			on = true
		case model.BNScale, model.BNShift:
			on = cfg.DecayBN
		case model.LinearBias:
			on = cfg.DecayBias
		}
		if on {
			for i := p.Off; i < p.Off+p.Len; i++ {
				mask[i] = 1
			}
		}
	}
	return mask
}

// step applies update number t (1-based) with rate lr.
func (o *optimizer) step(lr float64, t int) error {
	c := o.cfg
	switch c.Name {
	case "sgd":
		damp := c.Dampening
		if t == 1 {
			damp = 0 // PyTorch starts the momentum buffer at the first gradient
		}
		return o.b.SGDStep(o.params, o.grads, o.m, o.decay, gpu.SGDParams{
			LR: float32(lr), Momentum: float32(c.Momentum), Dampening: float32(damp),
			WeightDecay: float32(c.WeightDecay), Nesterov: c.Nesterov,
		})
	default:
		return o.b.AdamStep(o.params, o.grads, o.m, o.v, o.decay, gpu.AdamParams{
			LR: float32(lr), Beta1: float32(c.Beta1), Beta2: float32(c.Beta2), Eps: float32(c.Eps),
			WeightDecay: float32(c.WeightDecay), Decoupled: c.Name == "adamw", Step: t,
		})
	}
}

// state lists the optimizer's buffers, for checkpoints.
func (o *optimizer) state() []gpu.Slice {
	var s []gpu.Slice
	for _, b := range []gpu.Slice{o.m, o.v} {
		if b.Buf != nil {
			s = append(s, b)
		}
	}
	return s
}

// learningRate is the schedule's rate for a step of an epoch (both 0-based):
// WarmupLR during the first WarmupIters steps of the run, else LR times Gamma
// for each milestone epoch already reached (PyTorch's MultiStepLR).
func learningRate(c Config, epoch, globalStep int) float64 {
	s := c.Schedule
	if globalStep < s.WarmupIters {
		return s.WarmupLR
	}
	lr := c.Optimizer.LR
	if s.Kind != "steps" {
		return lr
	}
	if len(s.MilestoneFractions) > 0 {
		for _, f := range s.MilestoneFractions {
			if epoch >= fractionEpoch(f, c.Epochs) {
				lr *= s.Gamma
			}
		}
		return lr
	}
	for _, m := range s.Milestones {
		if epoch >= m {
			lr *= s.Gamma
		}
	}
	return lr
}

// fractionEpoch is the milestone epoch of a fraction of the run.
func fractionEpoch(f float64, epochs int) int { return int(f*float64(epochs) + 0.5) }
