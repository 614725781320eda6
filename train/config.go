package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"repro/model"
)

// Config is the complete recipe of one training run: what experiments.toml
// says for a cell, after the experiment's base, the cell and the command
// line's -set overrides are laid over Defaults. Its TOML form is what a run
// folder's config.toml holds.
type Config struct {
	// Model is a model.Preset name: resnet20..resnet110, densenet40,
	// densenet-bc100.
	Model string `toml:"model"`
	// Arch overrides fields of the preset (shortcut, dropout, growth, ...).
	Arch ArchOverrides `toml:"arch"`
	// Epochs is the number of epochs; one epoch is Augment.Passes passes over
	// the training pool.
	Epochs int `toml:"epochs"`
	// Batch is the mini-batch size; a last partial batch of an epoch is
	// dropped (every image still takes part, the order changing each epoch).
	Batch int `toml:"batch"`
	// Seed fixes initialization, sample order, augmentation and dropout.
	Seed uint64 `toml:"seed"`

	Data      DataConfig      `toml:"data"`
	Augment   AugmentConfig   `toml:"augment"`
	Optimizer OptimizerConfig `toml:"optimizer"`
	Schedule  ScheduleConfig  `toml:"schedule"`

	// UnfusedReLU is model.Config.UnfusedReLU: the same math, so not a
	// recipe key; repro bench -fused-relu=false sets it.
	UnfusedReLU bool `toml:"-"`
	// PerLayerBNStats is model.Config.PerLayerBNStats, likewise; repro bench
	// -shared-bn-stats=false sets it.
	PerLayerBNStats bool `toml:"-"`
	// PackedGrowth is model.Config.PackedGrowth, likewise; repro bench
	// -packed-growth sets it.
	PackedGrowth bool `toml:"-"`
}

// ArchOverrides change a preset; unset fields keep the preset's value.
type ArchOverrides struct {
	Shortcut    *string  `toml:"shortcut,omitempty"`
	Growth      *int     `toml:"growth,omitempty"`
	Bottleneck  *bool    `toml:"bottleneck,omitempty"`
	Compression *float64 `toml:"compression,omitempty"`
	Dropout     *float64 `toml:"dropout,omitempty"`
	Init        *string  `toml:"init,omitempty"`
}

// DataConfig selects the images and their normalization.
type DataConfig struct {
	// Normalization is none, pixel_mean (ResNet paper), channel_meanstd
	// (DenseNet paper) or gcn (global contrast normalization).
	Normalization string `toml:"normalization"`
	// Subset keeps the first Subset training images of each class (0: all).
	Subset int `toml:"subset"`
	// TestSubset keeps the first TestSubset test images of each class (0: all).
	TestSubset int `toml:"test_subset"`
	// Validation holds out this many training images, stratified by class,
	// and reports their error beside the test error (5000 for the ResNet
	// paper's 45k/5k split; 0: none).
	Validation int `toml:"validation"`
}

// AugmentConfig is the training-time augmentation.
type AugmentConfig struct {
	// Crop is "pad" (zero-pad Pad pixels, random 32x32 crop: the papers),
	// "resize" (resize to Resize x Resize, random 32x32 crop: the write-up)
	// or "none".
	Crop   string `toml:"crop"`
	Pad    int    `toml:"pad"`
	Resize int    `toml:"resize"`
	// Flip mirrors half of the images horizontally.
	Flip bool `toml:"flip"`
	// Copies is 0 for fresh random augmentation every epoch, or the size of
	// a static pool of augmented copies of the training set fixed for the
	// whole run (the write-up's 2x and 3x).
	Copies int `toml:"copies"`
	// KeepOriginal makes copy 0 of a static pool the unaugmented images.
	KeepOriginal bool `toml:"keep_original"`
	// Passes is the number of passes over the pool per epoch (a control for
	// the extra steps that a larger pool brings).
	Passes int `toml:"passes"`
}

// OptimizerConfig is SGD, Adam or AdamW with weight decay.
type OptimizerConfig struct {
	Name        string  `toml:"name"` // sgd, adam, adamw
	LR          float64 `toml:"lr"`
	Momentum    float64 `toml:"momentum"`
	Dampening   float64 `toml:"dampening"`
	Nesterov    bool    `toml:"nesterov"`
	WeightDecay float64 `toml:"weight_decay"`
	// DecayBN and DecayBias apply weight decay to batch-norm scales and
	// shifts and to the classifier's bias too (off: only conv and linear
	// weights decay).
	DecayBN   bool    `toml:"decay_bn"`
	DecayBias bool    `toml:"decay_bias"`
	Beta1     float64 `toml:"beta1"`
	Beta2     float64 `toml:"beta2"`
	Eps       float64 `toml:"eps"`
}

// ScheduleConfig is the learning-rate schedule: Optimizer.LR multiplied by
// Gamma at each milestone epoch, after an optional warm-up.
type ScheduleConfig struct {
	// Kind is "constant" or "steps".
	Kind string `toml:"kind"`
	// Milestones are epochs after which the rate is multiplied by Gamma.
	Milestones []int `toml:"milestones"`
	// MilestoneFractions are milestones as fractions of Epochs (DenseNet:
	// 0.5, 0.75); used instead of Milestones when given.
	MilestoneFractions []float64 `toml:"milestone_fractions"`
	Gamma              float64   `toml:"gamma"`
	// WarmupIters steps run at WarmupLR first (the ResNet-110 recipe: 0.01
	// for 400 iterations).
	WarmupIters int     `toml:"warmup_iters"`
	WarmupLR    float64 `toml:"warmup_lr"`
}

// Defaults is the ResNet paper's CIFAR-10 recipe for ResNet-20 (section
// 4.2): batch 128, SGD with momentum 0.9, lr 0.1 divided by 10 at 32k and 48k
// iterations and stopped at 64k, which on the 50k training images at 391
// iterations an epoch is epochs 82 and 123 of 164; weight decay 1e-4; 4-pixel
// zero-pad crop and horizontal flip; per-pixel mean subtraction.
func Defaults() Config {
	return Config{
		Model:  "resnet20",
		Epochs: 164,
		Batch:  128,
		Seed:   1,
		Data:   DataConfig{Normalization: "pixel_mean"},
		Augment: AugmentConfig{
			Crop: "pad", Pad: 4, Resize: 36, Flip: true, KeepOriginal: true, Passes: 1,
		},
		Optimizer: OptimizerConfig{
			Name: "sgd", LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4,
			Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		},
		Schedule: ScheduleConfig{Kind: "steps", Milestones: []int{82, 123}, Gamma: 0.1, WarmupLR: 0.01},
	}
}

// ModelConfig resolves Model and Arch into a model.Config.
func (c Config) ModelConfig() (model.Config, error) {
	m, err := model.Preset(c.Model)
	if err != nil {
		return m, err
	}
	a := c.Arch
	if a.Shortcut != nil {
		m.Shortcut = *a.Shortcut
	}
	if a.Growth != nil {
		m.Growth = *a.Growth
	}
	if a.Bottleneck != nil {
		m.Bottleneck = *a.Bottleneck
	}
	if a.Compression != nil {
		m.Compression = *a.Compression
	}
	if a.Dropout != nil {
		m.Dropout = *a.Dropout
	}
	if a.Init != nil {
		m.Init = *a.Init
	}
	m.UnfusedReLU = c.UnfusedReLU
	m.PerLayerBNStats = c.PerLayerBNStats
	m.PackedGrowth = c.PackedGrowth
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("arch: %w", err)
	}
	return m, nil
}

// Validate checks every key and names the first bad one.
func (c Config) Validate() error {
	if _, err := c.ModelConfig(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("%s = %v: want %s", key, v, want)
	}
	switch {
	case c.Epochs < 1:
		return bad("epochs", c.Epochs, "at least 1")
	case c.Batch < 2:
		return bad("batch", c.Batch, "at least 2 (batch norm needs two samples)")
	case !oneOf(c.Data.Normalization, "none", "pixel_mean", "channel_meanstd", "gcn"):
		return bad("data.normalization", fmt.Sprintf("%q", c.Data.Normalization), "none, pixel_mean, channel_meanstd or gcn")
	case c.Data.Subset < 0:
		return bad("data.subset", c.Data.Subset, "0 (all) or images per class")
	case c.Data.TestSubset < 0:
		return bad("data.test_subset", c.Data.TestSubset, "0 (all) or images per class")
	case c.Data.Validation < 0:
		return bad("data.validation", c.Data.Validation, "0 or a number of held-out images")
	case !oneOf(c.Augment.Crop, "pad", "resize", "none"):
		return bad("augment.crop", fmt.Sprintf("%q", c.Augment.Crop), "pad, resize or none")
	case c.Augment.Crop == "pad" && (c.Augment.Pad < 1 || c.Augment.Pad > 16):
		return bad("augment.pad", c.Augment.Pad, "1..16 pixels")
	case c.Augment.Crop == "resize" && (c.Augment.Resize <= 32 || c.Augment.Resize > 64):
		return bad("augment.resize", c.Augment.Resize, "33..64 pixels")
	case c.Augment.Copies < 0:
		return bad("augment.copies", c.Augment.Copies, "0 (fresh every epoch) or the number of static copies")
	case c.Augment.Passes < 1:
		return bad("augment.passes", c.Augment.Passes, "at least 1")
	case !oneOf(c.Optimizer.Name, "sgd", "adam", "adamw"):
		return bad("optimizer.name", fmt.Sprintf("%q", c.Optimizer.Name), "sgd, adam or adamw")
	case !(c.Optimizer.LR > 0):
		return bad("optimizer.lr", c.Optimizer.LR, "a positive rate")
	case c.Optimizer.Momentum < 0 || c.Optimizer.Momentum >= 1:
		return bad("optimizer.momentum", c.Optimizer.Momentum, "in [0, 1)")
	case c.Optimizer.Dampening < 0 || c.Optimizer.Dampening > 1:
		return bad("optimizer.dampening", c.Optimizer.Dampening, "in [0, 1]")
	case c.Optimizer.Nesterov && (c.Optimizer.Momentum == 0 || c.Optimizer.Dampening != 0):
		return bad("optimizer.nesterov", true, "momentum > 0 and dampening 0")
	case c.Optimizer.WeightDecay < 0:
		return bad("optimizer.weight_decay", c.Optimizer.WeightDecay, "0 or more")
	case c.Optimizer.Beta1 < 0 || c.Optimizer.Beta1 >= 1:
		return bad("optimizer.beta1", c.Optimizer.Beta1, "in [0, 1)")
	case c.Optimizer.Beta2 < 0 || c.Optimizer.Beta2 >= 1:
		return bad("optimizer.beta2", c.Optimizer.Beta2, "in [0, 1)")
	case !(c.Optimizer.Eps > 0):
		return bad("optimizer.eps", c.Optimizer.Eps, "a positive number")
	case !oneOf(c.Schedule.Kind, "constant", "steps"):
		return bad("schedule.kind", fmt.Sprintf("%q", c.Schedule.Kind), "constant or steps")
	case !(c.Schedule.Gamma > 0 && c.Schedule.Gamma <= 1):
		return bad("schedule.gamma", c.Schedule.Gamma, "in (0, 1]")
	case c.Schedule.WarmupIters < 0:
		return bad("schedule.warmup_iters", c.Schedule.WarmupIters, "0 or more")
	case c.Schedule.WarmupIters > 0 && !(c.Schedule.WarmupLR > 0):
		return bad("schedule.warmup_lr", c.Schedule.WarmupLR, "a positive rate")
	}
	for i, m := range c.Schedule.Milestones {
		if m < 1 || (i > 0 && m <= c.Schedule.Milestones[i-1]) {
			return bad("schedule.milestones", c.Schedule.Milestones, "increasing epochs >= 1")
		}
	}
	for i, f := range c.Schedule.MilestoneFractions {
		if !(f > 0 && f < 1) || (i > 0 && f <= c.Schedule.MilestoneFractions[i-1]) {
			return bad("schedule.milestone_fractions", c.Schedule.MilestoneFractions, "increasing fractions in (0, 1)")
		}
	}
	return nil
}

func oneOf(s string, set ...string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// TOML is the canonical text of c, as written to config.toml.
func (c Config) TOML() string {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		panic("train: encoding a Config cannot fail: " + err.Error())
	}
	return buf.String()
}

// Hash identifies c; a checkpoint carries it so that a resume never mixes
// two recipes.
func (c Config) Hash() [32]byte { return sha256.Sum256([]byte(c.TOML())) }

// HashHex is Hash in hexadecimal.
func (c Config) HashHex() string {
	h := c.Hash()
	return hex.EncodeToString(h[:])
}

// Set applies one "key=value" override in TOML syntax (a dotted key such as
// optimizer.lr=0.05); a bare word value is taken as a string
// (model=resnet56). Unknown keys are an error naming the key.
func (c *Config) Set(kv string) error {
	key, value, ok := strings.Cut(kv, "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !ok || key == "" || value == "" {
		return fmt.Errorf("-set %q: want key=value, e.g. epochs=2 or optimizer.lr=0.05", kv)
	}
	doc := key + " = " + value
	md, err := toml.Decode(doc, c)
	if err != nil {
		// a bare word: retry as a string
		var err2 error
		if md, err2 = toml.Decode(key+" = "+fmt.Sprintf("%q", value), c); err2 != nil {
			return fmt.Errorf("-set %s: %v", kv, err)
		}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("-set %s: unknown key %q", kv, und[0].String())
	}
	return nil
}
