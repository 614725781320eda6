// Package model builds the CIFAR ResNets of He et al. 2015 and the DenseNets
// of Huang et al. 2017 from gpu ops, for one batch size.
//
// Depths and parameter counts (conv weights without bias, batch-norm scale and
// shift, linear weight and bias), pinned by TestParameterCounts:
//
//	model            blocks/stage  width   params     paper C10+ error
//	resnet20         3             16-64   269,722    8.75 %
//	resnet32         5             16-64   464,154    7.51 %
//	resnet44         7             16-64   658,586    7.17 %
//	resnet56         9             16-64   853,018    6.97 %
//	resnet110        18            16-64   1,727,962  6.43 %
//	densenet40       12 (k=12)     16-448  1,019,722  5.24 %
//	densenet-bc100   16 (k=12)     24-342  769,162    4.51 %
//
// Contract: New plans every op and allocates every buffer once; Forward and
// Backward then allocate nothing. All learnable parameters live in one flat
// buffer (Params) with a same-shaped gradient buffer (Grads); batch-norm
// running statistics live in State. Backward accumulates into Grads, so the
// caller zeroes Grads once per step. Params lists every tensor's name, kind
// and place, which is what weight decay masks and checkpoints are made from.
package model

import (
	"fmt"
	"strings"
)

// Config selects an architecture.
type Config struct {
	// Arch is "resnet" or "densenet".
	Arch string `toml:"arch"`
	// Depth is the number of weighted layers: 6n+2 for ResNet, L for DenseNet
	// (3n+4, or 6n+4 with Bottleneck).
	Depth int `toml:"depth"`
	// Shortcut is the ResNet shortcut where the shape changes: "A" zero-pads
	// and subsamples the identity (the paper's CIFAR choice, no parameters),
	// "B" projects with a 1x1 convolution and batch norm.
	Shortcut string `toml:"shortcut"`
	// Growth is DenseNet's k.
	Growth int `toml:"growth"`
	// Bottleneck adds DenseNet-B's 1x1 convolution of 4k channels before each
	// 3x3 one.
	Bottleneck bool `toml:"bottleneck"`
	// Compression is DenseNet's theta: a transition keeps floor(theta*C)
	// channels (0.5 for DenseNet-BC, 1 for DenseNet).
	Compression float64 `toml:"compression"`
	// Dropout is the rate of DenseNet's dropout after every convolution but
	// the first (0.2 in the paper when there is no data augmentation).
	Dropout float64 `toml:"dropout"`
	// Classes is the number of outputs.
	Classes int `toml:"classes"`
	// Init is the He initialization's fan: "fan_out" (std sqrt(2/(K*K*out)),
	// as fb.resnet.torch and the DenseNet code) or "fan_in" (sqrt(2/(K*K*in)),
	// as He et al. 2015 for the forward pass and PyTorch's kaiming_normal_).
	Init string `toml:"init"`
	// UnfusedReLU runs the ReLU after each batch norm, and the shortcut add
	// before a ResNet block's last ReLU, as ops of their own instead of
	// fused into the batch norm: the same math, for measuring what the
	// fusion gains (repro bench -fused-relu=false). Not a recipe key.
	UnfusedReLU bool `toml:"-"`
	// PerLayerBNStats has each of DenseNet's batch norms compute the batch
	// statistics of its input, instead of sharing the statistics of each
	// block's channels, computed once when they are written: the same math,
	// for measuring what sharing gains (repro bench -shared-bn-stats=false).
	// Not a recipe key.
	PerLayerBNStats bool `toml:"-"`
	// PackedGrowth has each DenseNet layer's 3x3 convolution write its new
	// channels to a tensor of their own, copied into the block, and read
	// their gradient from a copy, instead of writing and reading the block
	// in place (a channel view, whose batch stride a GPU's convolution
	// engines may serve less well): the same math, two small copies more,
	// for measuring (repro bench -packed-growth). Not a recipe key.
	PackedGrowth bool `toml:"-"`
}

// Preset returns the configuration of a named model: resnet20, resnet32,
// resnet44, resnet56, resnet110, resnet<6n+2>, densenet40, densenet100,
// densenet-bc100, densenet-bc<L> and densenet<L>.
func Preset(name string) (Config, error) {
	var depth int
	switch {
	case strings.HasPrefix(name, "resnet"):
		if _, err := fmt.Sscanf(name, "resnet%d", &depth); err != nil || fmt.Sprint("resnet", depth) != name {
			break
		}
		c := Config{Arch: "resnet", Depth: depth, Shortcut: "A", Classes: 10, Init: "fan_out"}
		return c, c.Validate()
	case strings.HasPrefix(name, "densenet-bc"):
		if _, err := fmt.Sscanf(name, "densenet-bc%d", &depth); err != nil || fmt.Sprint("densenet-bc", depth) != name {
			break
		}
		c := Config{Arch: "densenet", Depth: depth, Growth: 12, Bottleneck: true, Compression: 0.5, Classes: 10, Init: "fan_out"}
		return c, c.Validate()
	case strings.HasPrefix(name, "densenet"):
		if _, err := fmt.Sscanf(name, "densenet%d", &depth); err != nil || fmt.Sprint("densenet", depth) != name {
			break
		}
		c := Config{Arch: "densenet", Depth: depth, Growth: 12, Compression: 1, Classes: 10, Init: "fan_out"}
		return c, c.Validate()
	}
	return Config{}, fmt.Errorf("model %q: want resnet<6n+2> (resnet20, resnet32, resnet44, resnet56, resnet110), densenet<3n+4> (densenet40) or densenet-bc<6n+4> (densenet-bc100)", name)
}

// Name is the preset name of c, e.g. "resnet56" or "densenet-bc100".
func (c Config) Name() string {
	switch {
	case c.Arch == "resnet":
		return fmt.Sprint("resnet", c.Depth)
	case c.Bottleneck && c.Compression < 1:
		return fmt.Sprint("densenet-bc", c.Depth)
	case c.Bottleneck:
		return fmt.Sprint("densenet-b", c.Depth)
	case c.Compression < 1:
		return fmt.Sprint("densenet-c", c.Depth)
	}
	return fmt.Sprint("densenet", c.Depth)
}

// Validate reports a configuration that names no model.
func (c Config) Validate() error {
	if c.Classes < 2 {
		return fmt.Errorf("model: classes %d, want at least 2", c.Classes)
	}
	if c.Init != "fan_out" && c.Init != "fan_in" {
		return fmt.Errorf("model: init %q, want fan_out or fan_in", c.Init)
	}
	switch c.Arch {
	case "resnet":
		if c.Depth < 8 || (c.Depth-2)%6 != 0 {
			return fmt.Errorf("model: resnet depth %d, want 6n+2 (20, 32, 44, 56, 110)", c.Depth)
		}
		if c.Shortcut != "A" && c.Shortcut != "B" {
			return fmt.Errorf("model: resnet shortcut %q, want A or B", c.Shortcut)
		}
	case "densenet":
		per := 3
		if c.Bottleneck {
			per = 6
		}
		if c.Depth < 4+per || (c.Depth-4)%per != 0 {
			return fmt.Errorf("model: densenet depth %d, want %dn+4", c.Depth, per)
		}
		if c.Growth < 1 {
			return fmt.Errorf("model: densenet growth %d, want >= 1", c.Growth)
		}
		if !(c.Compression > 0 && c.Compression <= 1) {
			return fmt.Errorf("model: densenet compression %v, want in (0, 1]", c.Compression)
		}
		if !(c.Dropout >= 0 && c.Dropout < 1) {
			return fmt.Errorf("model: dropout %v, want in [0, 1)", c.Dropout)
		}
	default:
		return fmt.Errorf("model: arch %q, want resnet or densenet", c.Arch)
	}
	return nil
}

// Kind says what a parameter tensor is, for weight decay masks.
type Kind int

const (
	ConvWeight Kind = iota
	BNScale
	BNShift
	LinearWeight
	LinearBias
)

func (k Kind) String() string {
	return [...]string{"conv_weight", "bn_scale", "bn_shift", "linear_weight", "linear_bias"}[k]
}

// Param is one named tensor inside the flat parameter buffer.
type Param struct {
	Name  string
	Kind  Kind
	Shape []int
	Off   int
	Len   int
}

// ForwardFLOPs is the floating-point operations of one image's forward pass
// through the convolutions and the classifier (2 per multiply-add); a
// training step costs about three times as much.
func ForwardFLOPs(c Config) (float64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	bl := &builder{cfg: c, batch: 1}
	if err := bl.build(); err != nil {
		return 0, err
	}
	return bl.flops, nil
}

// Layout returns the parameter tensors of c in buffer order and their total,
// without a backend.
func Layout(c Config) ([]Param, int, error) {
	if err := c.Validate(); err != nil {
		return nil, 0, err
	}
	bl := &builder{cfg: c, batch: 1}
	if err := bl.build(); err != nil {
		return nil, 0, err
	}
	return bl.params, bl.nParams, nil
}
