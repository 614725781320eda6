package model

import (
	"fmt"
	"math"

	"repro/gpu"
)

// Net is a model planned for one batch size on one backend.
type Net struct {
	Cfg   Config
	Batch int
	B     gpu.Backend

	// Params and Grads are the flat parameter and gradient buffers; Info
	// says where each tensor lives in them.
	Params, Grads gpu.Slice
	Info          []Param
	// State holds the batch-norm running means and variances (saved in
	// checkpoints, not trained).
	State gpu.Slice
	// RunVarRanges lists the [off, off+len) ranges of State that are running
	// variances (initialized to 1, the rest to 0).
	RunVarRanges [][2]int

	// Input is the batch the caller fills (N x 3 x 32 x 32); Logits the
	// output; DLogits the gradient of the loss that Backward starts from.
	Input, Logits, DLogits gpu.Tensor

	layers []layer
	// stepSeed holds the seed of the dropout masks (SetSeed); allocated
	// by the builder's first dropout op, so only when the net has one
	stepSeed gpu.IntSlice
}

// layer is one stage of the network's forward and backward pass; the net
// runs layers in order forward and in reverse order backward.
type layer interface {
	forward(train bool) error
	backward() error
}

// New plans c for batches of batch images of 3 x 32 x 32 on b.
func New(b gpu.Backend, c Config, batch int) (*Net, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if batch < 1 {
		return nil, fmt.Errorf("model: batch %d, want >= 1", batch)
	}
	// A first pass without a backend sizes the flat buffers.
	dry := &builder{cfg: c, batch: batch}
	if err := dry.build(); err != nil {
		return nil, err
	}
	bl := &builder{cfg: c, batch: batch, b: b, net: &Net{Cfg: c, Batch: batch, B: b}}
	var err error
	n := bl.net
	if n.Params, err = b.Alloc(dry.nParams); err != nil {
		return nil, fmt.Errorf("model %s: params: %w", c.Name(), err)
	}
	if n.Grads, err = b.Alloc(dry.nParams); err != nil {
		return nil, fmt.Errorf("model %s: grads: %w", c.Name(), err)
	}
	if n.State, err = b.Alloc(dry.nState); err != nil {
		return nil, fmt.Errorf("model %s: state: %w", c.Name(), err)
	}
	if bl.saved, err = b.Alloc(dry.nSaved); err != nil {
		return nil, fmt.Errorf("model %s: saved statistics: %w", c.Name(), err)
	}
	if err := bl.build(); err != nil {
		return nil, fmt.Errorf("model %s: %w", c.Name(), err)
	}
	n.Info = bl.params
	return n, nil
}

// Forward runs the batch in Input through the net into Logits. In training
// mode batch norm uses and updates batch statistics and dropout is active,
// with masks drawn from the seed SetSeed stored last; otherwise running
// statistics are used.
func (n *Net) Forward(train bool) error {
	for _, l := range n.layers {
		if err := l.forward(train); err != nil {
			return err
		}
	}
	return nil
}

// SetSeed stores the seed that the dropout of the next training-mode Forward
// and its Backward draw their masks from (nothing, in a net without
// dropout). It is an op on the backend, issued in order with the others:
// called before replaying a recorded Forward, it gives the replay new masks.
// It must not be called between a Forward and its Backward, nor inside a
// recording (which would keep the value it stored).
func (n *Net) SetSeed(seed uint64) error {
	if n.stepSeed.Buf == nil {
		return nil
	}
	return n.B.SetSeed(n.stepSeed, seed)
}

// UsesDropout reports whether the net has dropout ops, so that a training
// Forward depends on the seed SetSeed stored. (ResNets ignore Cfg.Dropout.)
func (n *Net) UsesDropout() bool { return n.stepSeed.Buf != nil }

// Backward propagates DLogits back through the last training-mode Forward,
// accumulating parameter gradients into Grads.
func (n *Net) Backward() error {
	for i := len(n.layers) - 1; i >= 0; i-- {
		if err := n.layers[i].backward(); err != nil {
			return err
		}
	}
	return nil
}

// Init sets the parameters to their initial values, drawn from seed: He
// normal convolution weights (fan per Cfg.Init), batch-norm scale 1 and shift
// 0, linear weight and bias uniform in +-1/sqrt(in) (PyTorch's default); and
// the running statistics to mean 0, variance 1.
func (n *Net) Init(seed uint64) error {
	p := make([]float32, n.Params.Len)
	for i, info := range n.Info {
		dst := p[info.Off : info.Off+info.Len]
		key := gpu.Mix(seed, uint64(i))
		switch info.Kind {
		case ConvWeight:
			out, in, k := info.Shape[0], info.Shape[1], info.Shape[2]
			fan := k * k * out
			if n.Cfg.Init == "fan_in" {
				fan = k * k * in
			}
			std := math.Sqrt(2 / float64(fan))
			for j := range dst {
				dst[j] = float32(std * normal(key, uint64(j)))
			}
		case BNScale:
			for j := range dst {
				dst[j] = 1
			}
		case BNShift:
		case LinearWeight, LinearBias:
			in := info.Shape[len(info.Shape)-1]
			if info.Kind == LinearBias {
				in = n.Info[i-1].Shape[1]
			}
			bound := 1 / math.Sqrt(float64(in))
			for j := range dst {
				dst[j] = float32(bound * (2*float64(gpu.Uniform(gpu.Mix(key, uint64(j)))) - 1))
			}
		}
	}
	if err := n.B.Upload(n.Params, p); err != nil {
		return fmt.Errorf("model init: %w", err)
	}
	s := make([]float32, n.State.Len)
	for _, r := range n.RunVarRanges {
		for j := r[0]; j < r[1]; j++ {
			s[j] = 1
		}
	}
	if err := n.B.Upload(n.State, s); err != nil {
		return fmt.Errorf("model init: %w", err)
	}
	return nil
}

// normal is a standard normal deviate from (key, j) by Box-Muller.
func normal(key, j uint64) float64 {
	u1 := (float64(gpu.Mix(key, 2*j)>>11) + 1) / (1 << 53) // (0, 1]
	u2 := float64(gpu.Mix(key, 2*j+1)>>11) / (1 << 53)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}
