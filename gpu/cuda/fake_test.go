//go:build cuda

package cuda_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd.Env = append(os.Environ(), "REPRO_FAKE_CHILD=1", "REPRO_CUDA_LIBS="+dir)
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
	for _, v := range []struct{ algos, bn, wgrad string }{
		{"legacy", "", ""}, {"graph", "", ""}, {"all", "", ""}, {"legacy", "ours", ""}, {"legacy", "", "1"}, {"graph", "", "1"},
	} {
		algos := v.algos
		// read by New (in a child process of its own)
		os.Setenv("REPRO_CUDA_BN", v.bn)
		os.Setenv("REPRO_CUDA_WGRAD_STREAM", v.wgrad)
		for _, unfused := range []bool{false, true} {
			b, err := cuda.New(gpu.Options{ConvAlgos: algos})
			if err != nil {
				t.Fatalf("cuda.New on the fake libraries: %v", err)
			}
			if !strings.Contains(b.Describe(), "Fake GPU") {
				t.Fatalf("not the fake libraries: %s", b.Describe())
			}
			for name, cfg := range tiny {
				cfg.UnfusedReLU, cfg.PerLayerBNStats = unfused, unfused
				if err := fakeStep(b, cfg); err != nil {
					t.Errorf("%s, -conv-algos %s, REPRO_CUDA_BN=%q, REPRO_CUDA_WGRAD_STREAM=%q, unfused %v: %v", name, algos, v.bn, v.wgrad, unfused, err)
				}
				runs++
			}
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}
	// whole training steps as train runs them: the data set on the device,
	// batches built there, the step recorded as a CUDA graph and replayed
	// (with the side stream: its fork and join inside the recording)
	os.Setenv("REPRO_CUDA_BN", "")
	os.Setenv("REPRO_CUDA_WGRAD_STREAM", "1")
	b, err := cuda.New(gpu.Options{ConvAlgos: "all"})
	if err != nil {
		t.Fatalf("cuda.New on the fake libraries: %v", err)
	}
	defer b.Close()
	for _, m := range []string{"resnet20", "densenet-bc100"} {
		r, err := train.Bench(b, train.BenchConfig(m, 8), 2, 2)
		if err != nil {
			t.Errorf("bench %s: %v", m, err)
			continue
		}
		for _, n := range r.Notes {
			if strings.Contains(n, "one by one") {
				t.Errorf("bench %s: %s", m, n) // a recording that failed and fell back
			}
		}
		runs++
	}
	t.Logf("fake libraries: %d nets planned and stepped", runs)
	fakeWgradStreamJoins(t)
}

// fakeWgradStreamJoins checks that with the side stream a convolution's
// Backward ends with the main stream waiting for it (the fake driver's last
// call, which the fake returns as the name of device 7).
func fakeWgradStreamJoins(t *testing.T) {
	os.Setenv("REPRO_CUDA_WGRAD_STREAM", "1")
	b, err := cuda.New(gpu.Options{})
	if err != nil {
		t.Fatalf("cuda.New on the fake libraries: %v", err)
	}
	defer b.Close()
	s := gpu.ConvSpec{N: 2, InC: 3, InH: 8, InW: 8, OutC: 4, Kernel: 3, Stride: 1, Pad: 1}
	conv, err := b.NewConv(s)
	if err != nil {
		t.Fatal(err)
	}
	x, err1 := b.NewTensor(2, 3, 8, 8)
	dx, err2 := b.NewTensor(2, 3, 8, 8)
	dy, err3 := b.NewTensor(2, 4, 8, 8)
	w, err4 := b.Alloc(s.WeightLen())
	dw, err5 := b.Alloc(s.WeightLen())
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		t.Fatal(err)
	}
	libs, err := lib.Load(strings.Split(os.Getenv("REPRO_CUDA_LIBS"), ":"))
	if err != nil {
		t.Fatal(err)
	}
	for _, withDx := range []bool{true, false} {
		d := dx
		if !withDx {
			d = gpu.Tensor{}
		}
		if err := conv.Backward(d, dw, dy, x, w, false); err != nil {
			t.Fatal(err)
		}
		last, err := libs.DeviceName(7)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.HasPrefix(last, "cuStreamWaitEvent ")
		if joined != withDx {
			t.Errorf("dx given %v: the backward's last driver call was %q", withDx, last)
		}
	}
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
		net.Forward(true, 7),
		b.SoftmaxCrossEntropy(net.DLogits, met, net.Logits, labels, 1.0/batch),
		net.Backward(),
		b.SGDStep(net.Params, net.Grads, velocity, decay, gpu.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4}),
		net.Forward(false, 0),
		b.Sync())
}
