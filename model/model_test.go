package model_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/cpu/cputest"
	"repro/gpu/profile"
	"repro/model"
)

// The reference counts: conv weights without bias, batch-norm scale and
// shift, linear weight and bias (akamaster's resnet.py and the DenseNet
// paper's Table 2 for DenseNet-BC-100 at 0.8M).
func TestParameterCounts(t *testing.T) {
	want := map[string]int{
		"resnet20":       269722,
		"resnet32":       464154,
		"resnet44":       658586,
		"resnet56":       853018,
		"resnet110":      1727962,
		"densenet40":     1019722,
		"densenet-bc100": 769162,
	}
	for name, n := range want {
		c, err := model.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		params, total, err := model.Layout(c)
		if err != nil {
			t.Fatal(err)
		}
		if total != n {
			t.Errorf("%s: %d parameters, want %d", name, total, n)
		}
		sum := 0
		for i, p := range params {
			if p.Off != sum {
				t.Fatalf("%s: param %d (%s) at %d, want %d: layout has gaps", name, i, p.Name, p.Off, sum)
			}
			sum += p.Len
		}
	}
}

// DEPENDENCIES.md's table: forward GFLOP per image.
func TestForwardFLOPs(t *testing.T) {
	for name, want := range map[string]float64{"resnet20": 0.081, "resnet56": 0.251, "densenet-bc100": 0.576, "densenet40": 0.530} {
		c, _ := model.Preset(name)
		f, err := model.ForwardFLOPs(c)
		if err != nil {
			t.Fatal(err)
		}
		if g := f / 1e9; math.Abs(g-want) > 0.0015 {
			t.Errorf("%s: %.4f GFLOP forward, want %.3f", name, g, want)
		}
	}
}

func TestOptionBAddsProjections(t *testing.T) {
	c, _ := model.Preset("resnet20")
	c.Shortcut = "B"
	_, total, err := model.Layout(c)
	if err != nil {
		t.Fatal(err)
	}
	// two projections: 16->32 and 32->64 1x1 convs with batch norm
	want := 269722 + 16*32 + 2*32 + 32*64 + 2*64
	if total != want {
		t.Errorf("resnet20 option B: %d parameters, want %d", total, want)
	}
}

func TestPresetErrors(t *testing.T) {
	for _, name := range []string{"resnet21", "resnet", "densenet41", "densenet-bc40x", "vgg16"} {
		if _, err := model.Preset(name); err == nil {
			t.Errorf("Preset(%q) accepted", name)
		}
	}
}

// tiny returns small but complete configurations of each architecture.
func tiny() map[string]model.Config {
	r, _ := model.Preset("resnet8")
	rb := r
	rb.Shortcut = "B"
	d := model.Config{Arch: "densenet", Depth: 7, Growth: 3, Compression: 1, Classes: 10, Init: "fan_out"}
	dbc := model.Config{Arch: "densenet", Depth: 10, Growth: 3, Bottleneck: true, Compression: 0.5, Classes: 10, Init: "fan_in"}
	ddrop := dbc
	ddrop.Dropout = 0.2
	return map[string]model.Config{"resnet8": r, "resnet8-B": rb, "densenet7": d, "densenet-bc10": dbc, "densenet-bc10-dropout": ddrop}
}

// tinyNet plans c for a batch on b, initializes it from initSeed and fills
// its input with uniform values in [-1, 1) drawn from inputSeed.
func tinyNet(t *testing.T, b gpu.Backend, c model.Config, batch int, initSeed, inputSeed uint64) *model.Net {
	t.Helper()
	net, err := model.New(b, c, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Init(initSeed); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = 2*gpu.Uniform(gpu.Mix(inputSeed, uint64(i))) - 1
	}
	if err := b.UploadTensor(net.Input, x); err != nil {
		t.Fatal(err)
	}
	return net
}

// TestGradientDirectional checks the whole net's wiring: for random
// directions d, the analytic dL.d must match (L(p+hd)-L(p-hd))/2h. Each op is
// checked exactly elsewhere (gpu/ref, gpu/gputest); this catches a layer
// reading or writing the wrong buffer.
func TestGradientDirectional(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	const batch = 4
	for name, c := range tiny() {
		t.Run(name, func(t *testing.T) {
			net := tinyNet(t, b, c, batch, 7, 1)
			labels, _ := b.AllocInt(batch)
			b.UploadInt(labels, []int32{3, 1, 4, 1})
			met, _ := b.Alloc(3)
			host := make([]float32, 3)
			loss := func() float64 {
				b.Zero(met)
				if err := errors.Join(net.SetSeed(99), net.Forward(true)); err != nil {
					t.Fatal(err)
				}
				if err := b.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch); err != nil {
					t.Fatal(err)
				}
				b.Download(host, met)
				return float64(host[0]) / batch
			}
			p0 := make([]float32, net.Params.Len)
			b.Download(p0, net.Params)
			// the state is updated by every training forward; keep it fixed
			s0 := make([]float32, net.State.Len)
			b.Download(s0, net.State)

			loss()
			b.Zero(net.Grads)
			if err := net.Backward(); err != nil {
				t.Fatal(err)
			}
			g := make([]float32, net.Grads.Len)
			b.Download(g, net.Grads)

			// Along d = g_T/|g_T| (the gradient restricted to tensor T, or
			// to all of them), the loss must change at rate |g_T|: a tensor
			// whose gradient is wrong in direction or size fails.
			const h = 2e-3
			shifted := func(d []float64, s float64) float64 {
				p := make([]float32, len(p0))
				for i := range p {
					p[i] = p0[i] + float32(s*h*d[i])
				}
				b.Upload(net.Params, p)
				b.Upload(net.State, s0)
				return loss()
			}
			check := func(what string, lo, hi int) {
				d := make([]float64, len(p0))
				var norm float64
				for i := lo; i < hi; i++ {
					norm += float64(g[i]) * float64(g[i])
				}
				norm = math.Sqrt(norm)
				if norm < 1e-3 {
					return // too flat to measure in float32
				}
				for i := lo; i < hi; i++ {
					d[i] = float64(g[i]) / norm
				}
				num := (shifted(d, 1) - shifted(d, -1)) / (2 * h)
				if rel := math.Abs(num-norm) / norm; rel > 0.05 {
					t.Errorf("%s: |g| = %.6g, numerical slope along g %.6g (relative error %.3g)", what, norm, num, rel)
				}
			}
			check("all parameters", 0, len(p0))
			for _, p := range net.Info {
				check(p.Name, p.Off, p.Off+p.Len)
			}
		})
	}
}

// TestInferenceIsPerSample checks that evaluation mode does not mix samples:
// padding a batch must not change the other samples' logits.
func TestInferenceIsPerSample(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	c, _ := model.Preset("resnet8")
	net, err := model.New(b, c, 3)
	if err != nil {
		t.Fatal(err)
	}
	net.Init(3)
	x := make([]float32, 3*3*32*32)
	for i := range x {
		x[i] = gpu.Uniform(gpu.Mix(5, uint64(i)))
	}
	run := func() []float32 {
		b.UploadTensor(net.Input, x)
		if err := net.Forward(false); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 3*10)
		b.DownloadTensor(out, net.Logits)
		return out
	}
	a := run()
	for i := 2 * 3 * 32 * 32; i < len(x); i++ {
		x[i] = 0
	}
	z := run()
	for i := 0; i < 20; i++ {
		if a[i] != z[i] {
			t.Fatalf("logit %d changed from %v to %v when another sample changed", i, a[i], z[i])
		}
	}
}

// TestFusedReLUMatchesUnfused: a net whose batch norms carry the fused ReLU
// computes what the same net with separate ReLU ops does, forward and
// backward (the CPU computes both from the same float32 expressions, so
// exactly).
// stepResult is what one forward and backward pass left: the logits, the
// gradients, the running statistics, and the calls per op kind (the
// profile's first word: "relu", "batchnorm+relu", ...) and per row.
type stepResult struct {
	logits, grads, state []float32
	kinds, rows          map[string]int
}

// oneStep runs c once forward (training) and backward on b, counting ops.
func oneStep(t *testing.T, b gpu.Backend, c model.Config) stepResult {
	t.Helper()
	const batch = 4
	p := profile.Wrap(b)
	pb := gpu.Backend(p)
	net := tinyNet(t, pb, c, batch, 5, 2)
	labels, _ := pb.AllocInt(batch)
	met, _ := pb.Alloc(3)
	if err := errors.Join(pb.UploadInt(labels, []int32{0, 9, 2, 7}), pb.Zero(net.Grads), net.SetSeed(3), net.Forward(true)); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(pb.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch), net.Backward()); err != nil {
		t.Fatal(err)
	}
	r := stepResult{logits: make([]float32, batch*c.Classes), grads: make([]float32, net.Grads.Len),
		state: make([]float32, net.State.Len), kinds: map[string]int{}, rows: map[string]int{}}
	if err := errors.Join(pb.DownloadTensor(r.logits, net.Logits), pb.Download(r.grads, net.Grads), pb.Download(r.state, net.State)); err != nil {
		t.Fatal(err)
	}
	for _, row := range p.Rows() {
		r.kinds[strings.Fields(row.Op)[0]] += row.Calls
		r.rows[row.Op] += row.Calls
	}
	return r
}

// count sums the calls of rows whose op starts with prefix and contains
// part.
func count(rows map[string]int, prefix, part string) int {
	n := 0
	for op, calls := range rows {
		if strings.HasPrefix(op, prefix) && strings.Contains(op, part) {
			n += calls
		}
	}
	return n
}

// sameStep fails unless two runs' logits and gradients are bit-identical.
func sameStep(t *testing.T, what string, a, b stepResult) {
	t.Helper()
	if !slices.Equal(a.logits, b.logits) {
		t.Errorf("logits differ: %s %v", what, [][]float32{a.logits[:4], b.logits[:4]})
	}
	for i := range a.grads {
		if a.grads[i] != b.grads[i] {
			t.Fatalf("gradient %d differs: %s %v, %v", i, what, a.grads[i], b.grads[i])
		}
	}
}

func TestFusedReLUMatchesUnfused(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	for name, c := range tiny() {
		t.Run(name, func(t *testing.T) {
			c.UnfusedReLU = false
			fused := oneStep(t, b, c)
			c.UnfusedReLU = true
			unfused := oneStep(t, b, c)
			// the two runs must differ in how they issue the ReLUs and adds:
			// each fused ReLU's forward and backward, and each fused add's
			// forward (its backward is the caller's), as ops of their own
			f, u := fused.rows, unfused.rows
			relu := count(f, "batchnorm+relu ", "")
			add := count(f, "batchnorm+add+relu ", "forward")
			if relu == 0 || (c.Arch == "resnet" && add == 0) || count(u, "batchnorm+", "") != 0 ||
				count(u, "relu ", "") != count(f, "relu ", "")+relu+add || count(u, "add", "") != count(f, "add", "")+add {
				t.Fatalf("fused run issued %v, unfused %v: want every fused ReLU and add as an op of its own in the second", f, u)
			}
			sameStep(t, "fused, unfused", fused, unfused)
		})
	}
}

// layersPerBlock is the number of layers in each of a DenseNet's 3 blocks.
func layersPerBlock(c model.Config) int {
	if c.Bottleneck {
		return (c.Depth - 4) / 6
	}
	return (c.Depth - 4) / 3
}

// TestSharedBNStatsMatchPerLayer checks that DenseNet's shared batch
// statistics train exactly as every batch norm computing its own: on the CPU
// a channel's statistics do not depend on the channels around it, so the
// logits and gradients are bit-identical. The running statistics are
// updated from the float32 statistics rather than float64 ones, so they may
// differ in the last bits.
func TestSharedBNStatsMatchPerLayer(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	for name, c := range tiny() {
		if c.Arch != "densenet" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			c.PerLayerBNStats = false
			shared := oneStep(t, b, c)
			c.PerLayerBNStats = true
			perLayer := oneStep(t, b, c)
			// every DenseNet batch norm but the bottleneck's reads the block:
			// one Stats per layer and per stem or transition
			layers := layersPerBlock(c)
			stats, fromStats := 0, 0
			for op, n := range shared.rows {
				if strings.Contains(op, " stats") && !strings.Contains(op, "from stats") {
					stats += n
				}
				if strings.Contains(op, "from stats") {
					fromStats += n
				}
			}
			if want := 3*layers + 3; stats != want || fromStats != 3*layers+3 {
				t.Fatalf("shared run: %d Stats and %d ForwardTrainFromStats calls (%v), want %d and %d", stats, fromStats, shared.rows, want, 3*layers+3)
			}
			for op := range perLayer.rows {
				if strings.Contains(op, "stats") {
					t.Fatalf("per-layer run issued %q", op)
				}
			}
			sameStep(t, "shared, per-layer", shared, perLayer)
			for i, v := range shared.state {
				if w := perLayer.state[i]; math.Abs(float64(v-w)) > 1e-6*math.Abs(float64(w)) {
					t.Fatalf("running statistic %d: shared %v, per-layer %v", i, v, w)
				}
			}
		})
	}
}

// TestPackedGrowthMatchesInPlace: a DenseNet layer writing its new channels
// packed and copying them into the block (and its gradient likewise) trains
// bit for bit as writing them in place, with one copy each way per layer
// (none with dropout, whose ops write the block already).
func TestPackedGrowthMatchesInPlace(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	for name, c := range tiny() {
		if c.Arch != "densenet" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			inPlace := oneStep(t, b, c)
			c.PackedGrowth = true
			packed := oneStep(t, b, c)
			want := 2 * 3 * layersPerBlock(c)
			if c.Dropout > 0 {
				want = 0
			}
			if got := packed.rows["copy"] - inPlace.rows["copy"]; got != want {
				t.Errorf("packed growth issued %d more copies, want %d (%v)", got, want, packed.rows)
			}
			sameStep(t, "in place, packed", inPlace, packed)
		})
	}
}

// TestDropoutFollowsSeed: a net with dropout draws its training masks from
// the seed SetSeed stored last (the same seed, the same logits; another,
// others); nets without dropout ops, ResNets with Dropout set included,
// have no seed to store.
func TestDropoutFollowsSeed(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	r, _ := model.Preset("resnet8")
	r.Dropout = 0.2
	for name, c := range map[string]model.Config{"resnet8 (Dropout ignored)": r, "densenet-bc10": tiny()["densenet-bc10"]} {
		if net := tinyNet(t, b, c, 2, 1, 2); net.UsesDropout() {
			t.Errorf("%s: UsesDropout", name)
		}
	}
	net := tinyNet(t, b, tiny()["densenet-bc10-dropout"], 2, 1, 2)
	if !net.UsesDropout() {
		t.Fatal("densenet-bc10-dropout: !UsesDropout")
	}
	logits := func(seed uint64) []float32 {
		if err := errors.Join(net.SetSeed(seed), net.Forward(true)); err != nil {
			t.Fatal(err)
		}
		v := make([]float32, net.Logits.Elems())
		if err := b.DownloadTensor(v, net.Logits); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, again, other := logits(5), logits(5), logits(6)
	if !slices.Equal(a, again) {
		t.Error("the same seed gave other logits")
	}
	if slices.Equal(a, other) {
		t.Error("another seed gave the same logits")
	}
}
