//go:build cuda

package cuda_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/backends"
	"repro/gpu/cpu/cputest"
	"repro/gpu/cuda"
	"repro/gpu/gputest"
	"repro/model"
)

// open returns the GPU backend, or skips the test with the reason when this
// machine has none (CI): the GPU half of the checks runs on a GPU machine
// through scripts/device-check.sh.
func open(t *testing.T, opts gpu.Options) gpu.Backend {
	t.Helper()
	b, err := cuda.New(opts)
	if err != nil {
		if os.Getenv("REPRO_REQUIRE_GPU") == "1" {
			t.Fatalf("REPRO_REQUIRE_GPU=1 but the cuda backend does not open: %v", err)
		}
		t.Skipf("no usable GPU here (the device check runs these): %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// smallNet plans cfg for a batch of 8 on b with weights from seed 3, and
// fills its input with a fixed random batch; it returns the net, labels
// 0..7 and a metrics slice.
func smallNet(t *testing.T, b gpu.Backend, cfg model.Config, batch int) (*model.Net, gpu.IntSlice, gpu.Slice) {
	t.Helper()
	if batch != 8 {
		t.Fatalf("smallNet: batch %d, want 8", batch)
	}
	net, err := model.New(b, cfg, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Init(3); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = 2*gpu.Uniform(gpu.Mix(9, uint64(i))) - 1
	}
	labels, err := b.AllocInt(batch)
	if err != nil {
		t.Fatal(err)
	}
	met, err := b.Alloc(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(b.UploadTensor(net.Input, x), b.UploadInt(labels, []int32{0, 1, 2, 3, 4, 5, 6, 7})); err != nil {
		t.Fatal(err)
	}
	return net, labels, met
}

// TestConformanceStrictFP32 holds every op to the float64 reference at the
// CPU's accuracy.
// Each test of this file that runs convolutions runs them both ways: with
// the algorithms of cuDNN's legacy search and with the backend API's engines.
func TestConformanceStrictFP32(t *testing.T) {
	for _, algos := range convAlgos() {
		t.Run(algos, func(t *testing.T) {
			b := open(t, gpu.Options{StrictFP32: true, Deterministic: true, ConvAlgos: algos})
			t.Log(b.Describe())
			gputest.Run(t, b, 1e-5)
			usedEngines(t, b, algos)
		})
	}
}

// usedEngines logs how b chose its convolution algorithms and, under
// -conv-algos graph, fails unless backend-API engines ran: a backend API
// that failed everywhere falls back to cudnnFind, and every value would
// still pass.
func usedEngines(t *testing.T, b gpu.Backend, algos string) {
	t.Helper()
	cb := b.(*cuda.Backend)
	t.Log(cb.Report())
	if c := cb.ConvChoices(); algos == "graph" && c.Engines == 0 {
		t.Errorf("-conv-algos graph planned no backend-API engine: %s", cb.Report())
	}
}

// convAlgos are the Options.ConvAlgos the GPU tests run under.
func convAlgos() []string { return []string{"legacy", "graph"} }

// TestConformanceTF32 allows TF32 convolutions, as training does by default.
func TestConformanceTF32(t *testing.T) {
	for _, algos := range convAlgos() {
		t.Run(algos, func(t *testing.T) {
			b := open(t, gpu.Options{ConvAlgos: algos})
			gputest.Run(t, b, 2e-3)
			usedEngines(t, b, algos)
		})
	}
}

// The tests named TestSwitches* run what the tests above run with the
// switches a device check measures (Options.WGradStream, OurBatchNorm) on,
// so that the check can give them a step and a time limit of their own.

// TestSwitchesConformanceOurBatchNorm holds the batch norms to the reference
// with Options.OurBatchNorm, which moves the plain ones off cuDNN onto our
// kernels.
func TestSwitchesConformanceOurBatchNorm(t *testing.T) {
	b := open(t, gpu.Options{StrictFP32: true, Deterministic: true, OurBatchNorm: true})
	for _, c := range gputest.Cases() {
		if strings.HasPrefix(c.Name, "batchnorm/") {
			t.Run(c.Name, func(t *testing.T) {
				if err := c.Check(b, 1e-5); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// aSwitch is a setting of the TestSwitches* tests: options, and whether
// every engine weight gradient is planned with beta 0 and added
// (cuda.ForceOverwrite, which only engines take: -conv-algos graph).
type aSwitch struct {
	name      string
	opts      gpu.Options
	overwrite bool
}

func switches() []aSwitch {
	return []aSwitch{{"wgrad-stream", gpu.Options{WGradStream: true}, false}, {"our-bn", gpu.Options{OurBatchNorm: true}, false},
		{"wgrad-overwrite-stream", gpu.Options{WGradStream: true}, true}}
}

// openSwitch opens the backend of sw under algos, or reports false when the
// setting does not apply to algos.
func openSwitch(t *testing.T, sw aSwitch, algos string, o gpu.Options) (gpu.Backend, bool) {
	if sw.overwrite && algos != "graph" {
		return nil, false
	}
	o.WGradStream, o.OurBatchNorm, o.ConvAlgos = sw.opts.WGradStream, sw.opts.OurBatchNorm, algos
	b := open(t, o)
	if sw.overwrite {
		cuda.ForceOverwrite(b)
	}
	return b, true
}

// TestModelParity runs whole small nets forward and backward on the CPU and
// on the GPU from the same weights and batch and compares logits and every
// gradient.
func TestModelParity(t *testing.T) {
	for _, algos := range convAlgos() {
		t.Run(algos, func(t *testing.T) { modelParityUnder(t, gpu.Options{ConvAlgos: algos}) })
	}
}

// TestSwitchesModelParity is TestModelParity under each of switches.
func TestSwitchesModelParity(t *testing.T) {
	for _, algos := range convAlgos() {
		for _, sw := range switches() {
			t.Run(algos+"/"+sw.name, func(t *testing.T) {
				b, ok := openSwitch(t, sw, algos, gpu.Options{StrictFP32: true})
				if !ok {
					t.Skipf("%s applies to -conv-algos graph only", sw.name)
				}
				modelParity(t, b)
				usedEngines(t, b, algos)
				if c := b.(*cuda.Backend).ConvChoices(); sw.overwrite && c.Overwrites == 0 {
					t.Errorf("no weight gradient took the beta-0 path: %+v", c)
				}
			})
		}
	}
}

func modelParityUnder(t *testing.T, o gpu.Options) {
	o.StrictFP32 = true
	b := open(t, o)
	modelParity(t, b)
	usedEngines(t, b, o.ConvAlgos)
}

func modelParity(t *testing.T, g gpu.Backend) {
	c := cputest.Open(t, gpu.Options{})
	r, _ := model.Preset("resnet8")
	rb := r // option B: its projections' fused add, our statistics with cuDNN's backward
	rb.Shortcut = "B"
	d := model.Config{Arch: "densenet", Depth: 10, Growth: 4, Bottleneck: true, Compression: 0.5, Dropout: 0.1, Classes: 10, Init: "fan_out"}
	dp := d // every batch norm computing its own statistics
	dp.PerLayerBNStats = true
	dg := d // new channels packed, then copied into the block
	dg.PackedGrowth, dg.Dropout = true, 0
	for name, cfg := range map[string]model.Config{"resnet8": r, "resnet8-B": rb, "densenet-bc10": d, "densenet-bc10-per-layer-stats": dp,
		"densenet-bc10-packed-growth": dg} {
		t.Run(name, func(t *testing.T) {
			const batch = 8
			run := func(b gpu.Backend) (logits, grads []float32) {
				net, labels, met := smallNet(t, b, cfg, batch)
				b.Zero(net.Grads)
				if err := errors.Join(net.SetSeed(5), net.Forward(true)); err != nil {
					t.Fatal(err)
				}
				if err := b.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch); err != nil {
					t.Fatal(err)
				}
				if err := net.Backward(); err != nil {
					t.Fatal(err)
				}
				logits = make([]float32, batch*10)
				b.DownloadTensor(logits, net.Logits)
				grads = make([]float32, net.Grads.Len)
				b.Download(grads, net.Grads)
				return
			}
			lc, gc := run(c)
			lg, gg := run(g)
			if e := gputest.RelErr(lg, wide(lc)); e > 1e-4 {
				t.Errorf("logits differ: relative error %.3g", e)
			}
			if e := gputest.RelErr(gg, wide(gc)); e > 1e-3 {
				t.Errorf("gradients differ: relative error %.3g", e)
			}
		})
	}
}

// TestMissingLibrariesFallBack is the half that runs in CI: with no CUDA
// library to be found, -backend cuda fails naming what it tried, and auto
// falls back to the CPU saying why.
func TestMissingLibrariesFallBack(t *testing.T) {
	if _, err := cuda.New(gpu.Options{}); err == nil {
		t.Skip("this machine has a working GPU; the not-found path is checked on machines without one")
	}
	t.Setenv("REPRO_CUDA_LIBS", t.TempDir())
	_, err := cuda.New(gpu.Options{})
	if err == nil {
		t.Skip("CUDA libraries found outside REPRO_CUDA_LIBS, and no GPU")
	}
	msg := err.Error()
	if strings.Contains(msg, "libcuda.so.1") && !strings.Contains(msg, os.Getenv("REPRO_CUDA_LIBS")) {
		t.Errorf("error does not list the folder from REPRO_CUDA_LIBS: %v", err)
	}
	if strings.Count(msg, "\n") > 0 {
		t.Errorf("error is not one line: %q", msg)
	}
	if _, _, err := backends.Open("cuda", gpu.Options{}); err == nil {
		t.Error("-backend cuda opened without a GPU")
	}
	b, note, err := backends.Open("auto", gpu.Options{Threads: 1})
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	defer b.Close()
	if b.Name() != "cpu" || !strings.Contains(note, "cpu") || note == "" {
		t.Errorf("auto gave %s with note %q", b.Name(), note)
	}
}

func wide(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestRecordedStepMatchesDirect trains a small net for a few steps issued op
// by op, then, from the same weights and on the same net (so the same
// convolution algorithms: each plan searches its own, by timing), for the
// same steps recorded once as a CUDA graph and replayed, and wants the same
// weights bit for bit: for a ResNet, and for a DenseNet with dropout, whose
// replays must draw each step's masks from the seed stored before them (a
// replay that kept the recorded step's masks trains differently). It also
// checks that an op that waits for the device fails the recording and leaves
// the backend working, and that NoGraphs turns recording off.
func TestRecordedStepMatchesDirect(t *testing.T) {
	for _, algos := range convAlgos() {
		t.Run(algos, func(t *testing.T) {
			recordedStepMatchesDirect(t, open(t, gpu.Options{StrictFP32: true, Deterministic: true, ConvAlgos: algos}))
		})
	}
}

// TestSwitchesRecordedStep is TestRecordedStepMatchesDirect under each of
// switches.
func TestSwitchesRecordedStep(t *testing.T) {
	for _, algos := range convAlgos() {
		for _, sw := range switches() {
			t.Run(algos+"/"+sw.name, func(t *testing.T) {
				b, ok := openSwitch(t, sw, algos, gpu.Options{StrictFP32: true, Deterministic: true})
				if !ok {
					t.Skipf("%s applies to -conv-algos graph only", sw.name)
				}
				recordedStepMatchesDirect(t, b)
			})
		}
	}
}

func recordedStepMatchesDirect(t *testing.T, b gpu.Backend) {
	resnet, _ := model.Preset("resnet8")
	dropout := model.Config{Arch: "densenet", Depth: 10, Growth: 4, Bottleneck: true, Compression: 0.5, Dropout: 0.2, Classes: 10, Init: "fan_out"}
	for _, cfg := range []model.Config{resnet, dropout} {
		t.Run(cfg.Name(), func(t *testing.T) { replayedStepsMatchDirect(t, b, cfg) })
	}

	s, _ := b.Alloc(16)
	if _, err := b.(gpu.Recorder).Record(func() error { return b.Sync() }); err == nil {
		t.Error("recording an op that waits for the device succeeded")
	}
	if err := b.Upload(s, make([]float32, 16)); err != nil {
		t.Errorf("after a failed recording the backend no longer works: %v", err)
	}
	off := open(t, gpu.Options{NoGraphs: true})
	if _, err := off.(gpu.Recorder).Record(func() error { return nil }); err != gpu.ErrRecordingOff {
		t.Errorf("Record with NoGraphs: %v, want ErrRecordingOff", err)
	}
}

func replayedStepsMatchDirect(t *testing.T, b gpu.Backend, cfg model.Config) {
	const batch, steps = 8, 4
	net, labels, met := smallNet(t, b, cfg, batch)
	mom, _ := b.Alloc(net.Params.Len)
	decay, _ := b.Alloc(net.Params.Len)
	w0 := make([]float32, net.Params.Len)
	state0 := make([]float32, net.State.Len)
	b.Download(w0, net.Params)
	b.Download(state0, net.State)
	ops := func() error {
		if err := b.Zero(net.Grads); err != nil {
			return err
		}
		if err := net.Forward(true); err != nil {
			return err
		}
		if err := b.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch); err != nil {
			return err
		}
		return net.Backward()
	}
	train := func(record bool) []float32 {
		b.Upload(net.Params, w0)
		b.Upload(net.State, state0)
		b.Zero(mom)
		var rec gpu.Recording
		for s := 0; s < steps; s++ {
			err := net.SetSeed(gpu.Mix(5, uint64(s)))
			switch {
			case err != nil:
			case rec != nil:
				err = rec.Replay()
			case record && s == 1:
				if rec, err = b.(gpu.Recorder).Record(ops); err == nil {
					err = rec.Replay()
				}
			default:
				err = ops()
			}
			if err != nil {
				t.Fatalf("step %d (record %v): %v", s, record, err)
			}
			if err := b.SGDStep(net.Params, net.Grads, mom, decay, gpu.SGDParams{LR: 0.1, Momentum: 0.9}); err != nil {
				t.Fatal(err)
			}
		}
		if record {
			if rec == nil {
				t.Fatal("nothing was recorded")
			}
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
		}
		w := make([]float32, net.Params.Len)
		if err := b.Download(w, net.Params); err != nil {
			t.Fatal(err)
		}
		return w
	}
	direct, replayed := train(false), train(true)
	for i := range direct {
		if direct[i] != replayed[i] {
			t.Fatalf("weight %d after %d steps: direct %v, replayed %v", i, steps, direct[i], replayed[i])
		}
	}
	if direct[0] == w0[0] {
		t.Fatal("the steps did not change the weights")
	}
}
