//go:build cuda

package cuda_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/cuda"
	"repro/gpu/cuda/lib"
	"repro/model"
	"repro/train"
)

// TestFakeLibraries runs small nets through the whole CUDA backend, on the
// fake driver, cuBLAS and cuDNN of package lib's tests (lib/testdata/fake.c,
// built here with gcc), for every convolution path and with the fused ops
// on and off: planning, a training step forward and backward, an SGD step
// and an evaluation pass. The fakes compute nothing, so this checks no
// value; it checks what a GPU run would otherwise be the first to find: that
// every launch packs as many arguments as its kernel's PTX entry takes (the
// backend refuses one that does not), and that each op's Go path, down to
// the library calls, runs without error. The fakes must not be loaded in the
// process that runs the GPU tests, so the nets run in a child process.
func TestFakeLibraries(t *testing.T) {
	if os.Getenv("REPRO_FAKE_CHILD") == "1" {
		fakeLibrariesChild(t)
		return
	}
	dir := t.TempDir()
	src := filepath.Join("lib", "testdata", "fake.c")
	for _, lib := range [][]string{
		{"libcuda.so.1", "-DFAKE_DRIVER"},
		{"libcublasLt.so.12", "-DFAKE_BLASLT", "-Wl,-soname,libcublasLt.so.12"},
		{"libcublas.so.12", "-DFAKE_BLAS", "-L" + dir, "-l:libcublasLt.so.12"},
		{"libcudnn.so.9", "-DFAKE_DNN"},
	} {
		args := append([]string{"-shared", "-fPIC", "-O1", "-o", filepath.Join(dir, lib[0]), src}, lib[1:]...)
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeLibraries$", "-test.v")
	cmd.Env = append(os.Environ(), "REPRO_FAKE_CHILD=1", "REPRO_CUDA_LIBS="+dir, "FAKE_NUMBERED_STREAMS=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fake libraries: ") {
		t.Fatalf("the child process on the fake libraries: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "fake libraries: ") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func fakeLibrariesChild(t *testing.T) {
	tiny := map[string]model.Config{
		"resnet8":   {Arch: "resnet", Depth: 8, Shortcut: "A", Classes: 10, Init: "fan_out"},
		"resnet8-B": {Arch: "resnet", Depth: 8, Shortcut: "B", Classes: 10, Init: "fan_out"},
		"densenet-bc10": {Arch: "densenet", Depth: 10, Growth: 3, Bottleneck: true, Compression: 0.5, Classes: 10,
			Init: "fan_in"},
		"densenet7-dropout": {Arch: "densenet", Depth: 7, Growth: 3, Compression: 1, Dropout: 0.2, Classes: 10,
			Init: "fan_out"},
	}
	runs := 0
	for _, opts := range []gpu.Options{
		{ConvAlgos: "legacy"}, {ConvAlgos: "graph"}, {ConvAlgos: "all"}, {ConvAlgos: "legacy", OurBatchNorm: true},
		{ConvAlgos: "legacy", WGradStream: true}, {ConvAlgos: "graph", WGradStream: true},
	} {
		// fused or not, statistics shared or not, DenseNet's growth in place or packed
		for variant := 0; variant < 8; variant++ {
			unfused, perLayer, packed := variant&1 == 1, variant&2 == 2, variant&4 == 4
			b, err := cuda.New(opts)
			if err != nil {
				t.Fatalf("cuda.New on the fake libraries: %v", err)
			}
			if !strings.Contains(b.Describe(), "Fake GPU") {
				t.Fatalf("not the fake libraries: %s", b.Describe())
			}
			for name, cfg := range tiny {
				cfg.UnfusedReLU, cfg.PerLayerBNStats, cfg.PackedGrowth = unfused, perLayer, packed
				if err := fakeStep(b, cfg); err != nil {
					t.Errorf("%s, options %+v, unfused %v, per-layer statistics %v, packed growth %v: %v", name, opts, unfused, perLayer, packed, err)
				}
				runs++
			}
			// every search of these modes took its own kind of algorithm
			c := b.(*cuda.Backend).ConvChoices()
			if c.Engines+c.Legacy == 0 || c.Fallbacks > 0 ||
				(opts.ConvAlgos == "legacy" && c.Engines > 0) || (opts.ConvAlgos == "graph" && c.Legacy > 0) {
				t.Errorf("options %+v: %s", opts, b.(gpu.Reporter).Report())
			}
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}
	// whole training steps as train runs them: the data set on the device,
	// batches built there, the step recorded as a CUDA graph and replayed
	// (with the side stream: its fork and join inside the recording); then
	// without graphs, where every op's Go code runs each step (as with
	// -graphs=false). Neither may allocate.
	// Last, the engines' weight gradients planned with beta 0 and added, the
	// scratch growing for each model once the one before closed its
	// recordings.
	for i, opts := range []gpu.Options{{ConvAlgos: "all", WGradStream: true}, {ConvAlgos: "all", WGradStream: true, NoGraphs: true},
		{ConvAlgos: "graph", WGradStream: true}} {
		b, err := cuda.New(opts)
		if err != nil {
			t.Fatalf("cuda.New on the fake libraries: %v", err)
		}
		if i == 2 {
			cuda.ForceOverwrite(b)
		}
		for _, m := range []string{"resnet20", "densenet-bc100", "densenet40-dropout"} {
			r, err := train.Bench(b, benchConfig(m), 2, 3)
			if err != nil {
				t.Errorf("bench %s, options %+v: %v", m, opts, err)
				continue
			}
			for _, n := range r.Notes {
				if strings.Contains(n, "one by one") {
					t.Errorf("bench %s: %s", m, n) // a recording that failed and fell back
				}
			}
			if r.AllocsPerStep != 0 {
				t.Errorf("bench %s, options %+v: a step allocates %v times (%v bytes)", m, opts, r.AllocsPerStep, r.BytesPerStep)
			}
			runs++
		}
		if c := b.(*cuda.Backend).ConvChoices(); i == 2 && c.Overwrites == 0 {
			t.Errorf("forced overwrites: %+v", c)
		}
		b.Close()
	}
	runs += fakeEnginesFail(t, tiny["densenet-bc10"])
	fakeWgradOverwrites(t)
	t.Logf("fake libraries: %d nets planned and stepped", runs)
	fakeWgradStreamJoins(t)
}

// benchConfig is the bench recipe of model m at batch 8; a name ending in
// -dropout adds dropout 0.2 (recorded too: its seed in device memory).
func benchConfig(m string) train.Config {
	cfg := train.BenchConfig(strings.TrimSuffix(m, "-dropout"), 8)
	if strings.HasSuffix(m, "-dropout") {
		cfg.Arch.Dropout = new(float64)
		*cfg.Arch.Dropout = 0.2
	}
	return cfg
}

// fakeEnginesFail runs cfg under -conv-algos graph with a backend API that
// finalizes no plan: every search falls back to cudnnFind, the first one is
// noted once, and ConvChoices counts them all.
func fakeEnginesFail(t *testing.T, cfg model.Config) int {
	os.Setenv("FAKE_ENGINES_FAIL", "1")
	defer os.Unsetenv("FAKE_ENGINES_FAIL")
	var notes []string
	b, err := cuda.New(gpu.Options{ConvAlgos: "graph", Log: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatalf("cuda.New on the fake libraries: %v", err)
	}
	defer b.Close()
	if err := fakeStep(b, cfg); err != nil {
		t.Errorf("with no engine: %v", err)
	}
	c := b.(*cuda.Backend).ConvChoices()
	report := b.(gpu.Reporter).Report()
	if c.Engines != 0 || c.Legacy == 0 || c.Fallbacks != c.Legacy || !strings.Contains(c.FirstFallback, "FAKE_ENGINES_FAIL") ||
		!strings.Contains(report, fmt.Sprintf("%d where the backend API had no usable engine", c.Fallbacks)) {
		t.Errorf("with no engine: %+v, report %q", c, report)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "FAKE_ENGINES_FAIL") {
		t.Errorf("with no engine, the notes: %q, want one naming the first fallback", notes)
	}
	return 1
}

// fakeWgradStreamJoins checks the order of a convolution Backward's calls
// with the side stream, from the fake driver's history (device 6's name):
// the side stream waits for the main one, cuDNN moves to the side stream for
// dw and back for dx, and the main stream waits for the side one. Without
// dx, dw runs on the main stream alone. Streams are numbered in the child
// (FAKE_NUMBERED_STREAMS): the backend's main stream is made first.
func fakeWgradStreamJoins(t *testing.T) {
	fakeBackwardCalls(t, gpu.Options{WGradStream: true}, func(withDx bool) []string {
		if !withDx {
			return []string{"conv_bwd_filter"}
		}
		return []string{"cuEventRecord M", "cuStreamWaitEvent S", "cudnnSetStream S", "conv_bwd_filter",
			"cudnnSetStream M", "conv_bwd_data", "cuEventRecord S", "cuStreamWaitEvent M"}
	}, nil)
}

// fakeWgradOverwrites: where no engine takes beta 1 for a weight gradient
// (FAKE_BETA_REFUSED), the engine of beta 0 writes to scratch and a kernel
// adds the scratch to dw, on the stream of the weight gradient (the side
// stream with WGradStream).
func fakeWgradOverwrites(t *testing.T) {
	os.Setenv("FAKE_BETA_REFUSED", "1")
	defer os.Unsetenv("FAKE_BETA_REFUSED")
	for _, side := range []bool{false, true} {
		b := fakeBackwardCalls(t, gpu.Options{ConvAlgos: "graph", WGradStream: side}, func(withDx bool) []string {
			switch {
			case !withDx:
				return []string{"cudnnBackendExecute", "cuLaunchKernel M"}
			case !side:
				return []string{"cudnnBackendExecute", "cuLaunchKernel M", "cudnnBackendExecute"}
			}
			return []string{"cuEventRecord M", "cuStreamWaitEvent S", "cudnnSetStream S", "cudnnBackendExecute",
				"cuLaunchKernel S", "cudnnSetStream M", "cudnnBackendExecute", "cuEventRecord S", "cuStreamWaitEvent M"}
		}, func(withDx bool, exec, add string) {
			if withDx {
				return // the last engine run is dx's
			}
			// the filter engine's weight pointer (the second of x, w, y) is
			// the add's source, at dw's offset within 256 bytes, not dw
			ptrs := strings.Split(field(exec, "ptrs="), ",")
			args := strings.Split(field(add, "args="), ",")
			if len(ptrs) != 3 || len(args) != 8 {
				t.Fatalf("side stream %v: cannot read the engine's pointers or the add's arguments:\n%s\n%s", side, exec, add)
			}
			w, errW := strconv.ParseUint(strings.TrimPrefix(ptrs[1], "0x"), 16, 64)
			dst, errD := strconv.ParseUint(args[0], 16, 64)
			src, errS := strconv.ParseUint(args[4], 16, 64)
			if errors.Join(errW, errD, errS) != nil || src != w || dst == src || dst%256 != src%256 {
				t.Errorf("side stream %v: the engine wrote to %#x, the add took %#x into %#x: want the engine's output added into dw at the same offset modulo 256", side, w, src, dst)
			}
		})
		c := b.(*cuda.Backend).ConvChoices()
		if c.Overwrites == 0 || c.Fallbacks != 0 || !strings.Contains(b.(gpu.Reporter).Report(), "added to dw by a kernel") {
			t.Errorf("side stream %v: %+v, report %q", side, c, b.(gpu.Reporter).Report())
		}
	}
	// a data gradient that adds to dx has no beta-0 retry (nothing would
	// add the output): it falls back to cudnnFind
	b, err := cuda.New(gpu.Options{ConvAlgos: "graph"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c := newFakeConv(t, b)
	if err := c.conv.Backward(c.dx, c.dw, c.dy, c.x, c.w, true); err != nil {
		t.Fatal(err)
	}
	if c := b.(*cuda.Backend).ConvChoices(); c.Fallbacks != 1 || c.Overwrites != 1 || !strings.Contains(c.FirstFallback, "backward data") {
		t.Errorf("an accumulating dx with beta 1 refused: %+v, want its data gradient fallen back and its weight gradient overwriting", c)
	}
}

// fakeBackwardCalls runs a convolution's Backward on a backend of opts,
// planning first (with dx, twice: the first call plans), and checks that the
// fake driver's history ends with want(with dx): each entry a call's name
// and, where given, the role of its stream (M the stream of the first call
// that names one, S another). check, when not nil, reads the whole records of
// the last engine run and the last kernel launch after each Backward. It
// returns the backend, closed when the test ends.
func fakeBackwardCalls(t *testing.T, opts gpu.Options, want func(withDx bool) []string, check func(withDx bool, exec, launch string)) gpu.Backend {
	libs, err := lib.Load(strings.Split(os.Getenv("REPRO_CUDA_LIBS"), ":"))
	if err != nil {
		t.Fatal(err)
	}
	history := func() []string {
		h, err := libs.DeviceName(6)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(h, "\n"), "\n")
	}
	history()
	b, err := cuda.New(opts)
	if err != nil {
		t.Fatalf("cuda.New on the fake libraries: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	c := newFakeConv(t, b)
	// the first calls plan (algorithm searches); the second are the step's
	for _, withDx := range []bool{true, true, false} {
		d := c.dx
		if !withDx {
			d = gpu.Tensor{}
		}
		history()
		if err := c.conv.Backward(d, c.dw, c.dy, c.x, c.w, false); err != nil {
			t.Fatal(err)
		}
		got, want := history(), want(withDx)
		if len(got) < len(want) {
			t.Fatalf("options %+v, dx given %v: the backward's calls %q, want them to end with %q", opts, withDx, got, want)
		}
		tail := got[len(got)-len(want):]
		streams := map[string]string{}
		for i, wl := range want {
			name, role, _ := strings.Cut(wl, " ")
			stream := streamOf(tail[i])
			if role != "" && streams[role] == "" {
				streams[role] = stream
			}
			twoStreams := streams["M"] == "" || streams["M"] != streams["S"]
			if !strings.HasPrefix(tail[i], name+" ") || (role != "" && stream != streams[role]) || !twoStreams {
				t.Fatalf("options %+v, dx given %v: the backward's calls end with\n%s\nwant, in order (M and S two streams):\n%s",
					opts, withDx, strings.Join(tail, "\n"), strings.Join(want, "\n"))
			}
		}
		if check != nil {
			last, err := libs.DeviceName(8)
			if err != nil {
				t.Fatal(err)
			}
			exec, launch, _ := strings.Cut(last, "\n")
			check(withDx, exec, launch)
		}
	}
	return b
}

// fakeConv is a small 3x3 convolution on a fake backend with its tensors;
// dw sits one float into its buffer, not where a fresh allocation starts.
type fakeConv struct {
	conv      gpu.Conv
	x, dx, dy gpu.Tensor
	w, dw     gpu.Slice
}

func newFakeConv(t *testing.T, b gpu.Backend) fakeConv {
	t.Helper()
	s := gpu.ConvSpec{N: 2, InC: 3, InH: 8, InW: 8, OutC: 4, Kernel: 3, Stride: 1, Pad: 1}
	conv, err := b.NewConv(s)
	if err != nil {
		t.Fatal(err)
	}
	x, err1 := b.NewTensor(2, 3, 8, 8)
	dx, err2 := b.NewTensor(2, 3, 8, 8)
	dy, err3 := b.NewTensor(2, 4, 8, 8)
	w, err4 := b.Alloc(s.WeightLen())
	dwAll, err5 := b.Alloc(s.WeightLen() + 1)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	return fakeConv{conv: conv, x: x, dx: dx, dy: dy, w: w, dw: dwAll.Sub(1, s.WeightLen())}
}

// field is the value of a record's name=value field, or "".
func field(record, name string) string {
	for _, f := range strings.Fields(record) {
		if v, ok := strings.CutPrefix(f, name); ok {
			return v
		}
	}
	return ""
}

// streamOf is the s= field of a fake driver record, or "".
func streamOf(record string) string {
	for _, f := range strings.Fields(record) {
		if strings.HasPrefix(f, "s=") {
			return f
		}
	}
	return ""
}

// fakeStep plans cfg for a batch of 8 on b, then runs a training step
// (forward, loss, backward, SGD) and an evaluation forward.
func fakeStep(b gpu.Backend, cfg model.Config) error {
	const batch = 8
	net, err := model.New(b, cfg, batch)
	if err != nil {
		return err
	}
	labels, err := b.AllocInt(batch)
	if err != nil {
		return err
	}
	met, err := b.Alloc(3)
	if err != nil {
		return err
	}
	velocity, err := b.Alloc(net.Params.Len)
	if err != nil {
		return err
	}
	decay, err := b.Alloc(net.Params.Len)
	if err != nil {
		return err
	}
	return errors.Join(
		net.Init(3),
		b.Zero(net.Grads),
		net.SetSeed(7),
		net.Forward(true),
		b.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch),
		net.Backward(),
		b.SGDStep(net.Params, net.Grads, velocity, decay, gpu.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4}),
		net.Forward(false),
		b.Sync())
}
