//go:build cuda

package lib

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// logDevice is the fake driver's device whose name is the record of the
// last call (see testdata/fake.c).
const logDevice = 7

// lastCall returns the fake libraries' record of the last call.
func lastCall(t *testing.T, l *Libs) string {
	t.Helper()
	s, err := l.DeviceName(logDevice)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func expectCall(t *testing.T, l *Libs, want string) {
	t.Helper()
	if got := lastCall(t, l); got != want {
		t.Errorf("last call\n got %s\nwant %s", got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fakeContext is the fake GPU 0's primary context (0xc064 in the records)
// and a stream (0x5001: created with flags 1, CU_STREAM_NON_BLOCKING).
func fakeContext(t *testing.T) (*Libs, *Context, Stream) {
	t.Helper()
	l := fakeLibs(t)
	must(t, l.Init())
	ctx, err := l.RetainPrimaryContext(0)
	must(t, err)
	s, err := ctx.NewStream()
	must(t, err)
	expectCall(t, l, "cuStreamCreate flags=1 ctx=0xc064")
	return l, ctx, s
}

func TestDriverWrappers(t *testing.T) {
	l := fakeLibs(t)
	must(t, l.Init())
	expectCall(t, l, "cuInit flags=0")
	if n, err := l.DeviceCount(); n != 2 || err != nil {
		t.Errorf("DeviceCount = %d, %v", n, err)
	}
	if s, err := l.DeviceName(0); s != "Fake GPU 0" || err != nil {
		t.Errorf("DeviceName(0) = %q, %v", s, err)
	}
	if b, err := l.DeviceTotalMem(1); b != 2<<30 || err != nil {
		t.Errorf("DeviceTotalMem(1) = %d, %v", b, err)
	}
	_, err := l.DeviceName(9)
	if msg := checkOneLine(t, err); msg != "cuDeviceGet: CUDA_ERROR_INVALID_DEVICE, invalid device ordinal (101)" {
		t.Errorf("DeviceName(9): %s", msg)
	}

	ctx, err := l.RetainPrimaryContext(0)
	must(t, err)
	expectCall(t, l, "cuDevicePrimaryCtxRetain dev=100")
	p, err := ctx.MemAlloc(100)
	must(t, err)
	if p != 0x10000000+100 {
		t.Errorf("MemAlloc = %#x", p)
	}
	expectCall(t, l, "cuMemAlloc_v2 bytes=100 ctx=0xc064")
	must(t, ctx.MemFree(p))
	expectCall(t, l, "cuMemFree_v2 p=0x10000064 ctx=0xc064")
	if f, tot, err := ctx.MemGetInfo(); f != 3<<30 || tot != 16<<30 || err != nil {
		t.Errorf("MemGetInfo = %d, %d, %v", f, tot, err)
	}

	_, err = ctx.MemAlloc(1 << 41)
	if msg := checkOneLine(t, err); msg != "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY, out of memory (2)" {
		t.Errorf("MemAlloc(2 TiB): %s", msg)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != 2 || e.Lib != "driver" || e.Func != "cuMemAlloc_v2" {
		t.Errorf("MemAlloc error %#v", e)
	}

	// Device 1's context is one the fake cuCtxSetCurrent refuses.
	bad, err := l.RetainPrimaryContext(1)
	must(t, err)
	_, err = bad.MemAlloc(4)
	if msg := checkOneLine(t, err); msg != "cuCtxSetCurrent (before cuMemAlloc_v2): CUDA_ERROR_INVALID_CONTEXT, invalid device context (201)" {
		t.Errorf("MemAlloc with a bad context: %s", msg)
	}

	s, err := ctx.NewStream()
	must(t, err)
	expectCall(t, l, "cuStreamCreate flags=1 ctx=0xc064")
	src := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	must(t, ctx.HtoD(0x2000, unsafe.Pointer(&src[0]), 8, s))
	expectCall(t, l, "cuMemcpyHtoDAsync_v2 dst=0x2000 n=8 s=0x5001 first=1 last=8 ctx=0xc064")
	dst := make([]byte, 5)
	must(t, ctx.DtoH(unsafe.Pointer(&dst[0]), 0x30fe, 5, s))
	if fmt.Sprint(dst) != "[254 255 0 1 2]" {
		t.Errorf("DtoH wrote %v", dst)
	}
	must(t, ctx.DtoD(0x4000, 0x5000, 64, s))
	expectCall(t, l, "cuMemcpyDtoDAsync_v2 dst=0x4000 src=0x5000 n=64 s=0x5001 ctx=0xc064")
	must(t, ctx.MemsetD32(0x6000, math.Float32bits(1), 10, s))
	expectCall(t, l, "cuMemsetD32Async dst=0x6000 v=0x3f800000 n=10 s=0x5001 ctx=0xc064")
	must(t, ctx.StreamSync(s))
	expectCall(t, l, "cuStreamSynchronize s=0x5001")

	must(t, ctx.BeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
	expectCall(t, l, "cuStreamBeginCapture_v2 s=0x5001 mode=1")
	g, err := ctx.EndCapture(s)
	must(t, err)
	ge, err := ctx.Instantiate(g)
	must(t, err)
	expectCall(t, l, "cuGraphInstantiateWithFlags g=0x8000 flags=0")
	must(t, ctx.LaunchGraph(ge, s))
	expectCall(t, l, "cuGraphLaunch e=0x9000 s=0x5001")
	must(t, ctx.DestroyGraphExec(ge))
	expectCall(t, l, "cuGraphExecDestroy e=0x9000")
	must(t, ctx.DestroyGraph(g))
	expectCall(t, l, "cuGraphDestroy g=0x8000")

	must(t, ctx.DestroyStream(s))
	expectCall(t, l, "cuStreamDestroy_v2 s=0x5001")
	must(t, ctx.Release())
	expectCall(t, l, "cuDevicePrimaryCtxRelease_v2 dev=100")
}

func TestLoadModule(t *testing.T) {
	l, ctx, _ := fakeContext(t)
	m, err := ctx.LoadModule([]byte(".version 7.0"))
	must(t, err)
	// the image arrives NUL-terminated, with the two log options
	expectCall(t, l, fmt.Sprintf("cuModuleLoadDataEx n=2 logsize=%d len=12 ctx=0xc064", jitLogBytes))
	if _, err := ctx.Function(m, "k3"); err != nil {
		t.Error(err)
	}
	_, err = ctx.Function(m, "missing")
	if msg := checkOneLine(t, err); msg != `kernel "missing": cuModuleGetFunction: CUDA_ERROR_NOT_FOUND, named symbol not found (500)` {
		t.Errorf("Function(missing): %s", msg)
	}
	must(t, ctx.UnloadModule(m))
	expectCall(t, l, "cuModuleUnload m=0x6000")

	_, err = ctx.LoadModule([]byte("bad ptx"))
	want := "cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX, a PTX JIT compilation failed (218); " +
		"JIT log: ptxas fatal   : Unresolved extern function 'f' | line two"
	if msg := checkOneLine(t, err); msg != want {
		t.Errorf("LoadModule(bad):\n got %s\nwant %s", msg, want)
	}
	if _, err := ctx.LoadModule(nil); err == nil {
		t.Error("LoadModule(nil) succeeded")
	}
}

func TestArgsPacking(t *testing.T) {
	a := NewArgs()
	defer a.Free()
	a.Ptr(0x1122334455667788)
	a.Int(-5)
	a.Float(2.5)
	a.U64(0xfedcba9876543210)
	want := []uint64{0x1122334455667788, 0xfffffffb, uint64(math.Float32bits(2.5)), 0xfedcba9876543210}
	if a.Len() != len(want) {
		t.Fatalf("Len = %d", a.Len())
	}
	for i, w := range want {
		if got := a.slot(i); got != w {
			t.Errorf("slot %d = %#016x, want %#016x", i, got, w)
		}
	}
	// the kinds, as PTX parameter types
	if a.Types() != "uifu" || !a.Matches("uifu") || a.Matches("uiiu") || a.Matches("uif") || a.Matches("uifuu") {
		t.Errorf("Types = %q; Matches wrong for a swapped kind or a count off by one", a.Types())
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.Matches("uifu") }); n != 0 {
		t.Errorf("Matches allocates %v times per call", n)
	}
	// A 4-byte argument clears what a longer one left in its slot.
	a.Reset()
	a.U64(math.MaxUint64)
	a.Reset()
	a.Int(1)
	if a.Len() != 1 || a.slot(0) != 1 {
		t.Errorf("after Reset, Int(1) left slot 0 = %#x (len %d)", a.slot(0), a.Len())
	}

	a.Reset()
	for i := 0; i <= MaxArgs; i++ {
		a.Int(int32(i))
	}
	if a.Len() != MaxArgs || a.err == nil || !strings.Contains(a.err.Error(), fmt.Sprint(MaxArgs)) {
		t.Errorf("%d arguments: len %d, err %v", MaxArgs+1, a.Len(), a.err)
	}
	a.Reset()
	if a.err != nil || a.Len() != 0 {
		t.Errorf("Reset left len %d, err %v", a.Len(), a.err)
	}
}

func TestLaunch(t *testing.T) {
	l, ctx, s := fakeContext(t)
	m, err := ctx.LoadModule([]byte("ptx"))
	must(t, err)
	k4, err := ctx.Function(m, "k4") // the fake reads 4 arguments
	must(t, err)
	a := NewArgs()
	a.Ptr(0x1122334455667788)
	a.Int(-5)
	a.Float(2.5)
	a.U64(0xfedcba9876543210)
	must(t, ctx.Launch(k4, [3]uint32{1, 2, 3}, [3]uint32{4, 5, 6}, 7, s, a))
	expectCall(t, l, "cuLaunchKernel grid=1,2,3 block=4,5,6 smem=7 s=0x5001 ctx=0xc064 extra=(nil) "+
		"args=1122334455667788,00000000fffffffb,0000000040200000,fedcba9876543210")

	// refilled in place for the next launch
	a.Reset()
	for i := 0; i < 4; i++ {
		a.Int(int32(10 + i))
	}
	must(t, ctx.Launch(k4, [3]uint32{9, 1, 1}, [3]uint32{256, 1, 1}, 0, s, a))
	expectCall(t, l, "cuLaunchKernel grid=9,1,1 block=256,1,1 smem=0 s=0x5001 ctx=0xc064 extra=(nil) "+
		"args=000000000000000a,000000000000000b,000000000000000c,000000000000000d")

	k0, err := ctx.Function(m, "k0")
	must(t, err)
	must(t, ctx.Launch(k0, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, Stream{}, nil))
	expectCall(t, l, "cuLaunchKernel grid=1,1,1 block=1,1,1 smem=0 s=(nil) ctx=0xc064 extra=(nil) args=NULL")

	a.Reset()
	for i := 0; i <= MaxArgs; i++ {
		a.Int(0)
	}
	if err := ctx.Launch(k4, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, s, a); err == nil {
		t.Error("Launch with too many arguments succeeded")
	}
	a.Free()
	if err := ctx.Launch(k4, [3]uint32{1, 1, 1}, [3]uint32{1, 1, 1}, 0, s, a); err != errArgsFreed {
		t.Errorf("Launch after Free: %v", err)
	}
	a.Free() // twice is harmless
}

// Every wrapper sets the context in the same C call (the fake clears the
// thread's current context after each call), so calls work from goroutines
// on many OS threads, one after another or at once.
func TestContextFromManyThreads(t *testing.T) {
	_, ctx, s := fakeContext(t)
	m, err := ctx.LoadModule([]byte("ptx"))
	must(t, err)
	k2, err := ctx.Function(m, "k2")
	must(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			runtime.LockOSThread() // a thread of its own; it ends with the goroutine
			a := NewArgs()
			defer a.Free()
			for i := 0; i < 200; i++ {
				a.Reset()
				a.Ptr(DevicePtr(g))
				a.Int(int32(i))
				if err := ctx.Launch(k2, [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, 0, s, a); err != nil {
					errs <- err
					return
				}
				if _, err := ctx.MemAlloc(4); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The calls of a training step allocate nothing.
func TestStepCallsDoNotAllocate(t *testing.T) {
	_, ctx, s := fakeContext(t)
	m, err := ctx.LoadModule([]byte("ptx"))
	must(t, err)
	k4, err := ctx.Function(m, "k4")
	must(t, err)
	a := NewArgs()
	defer a.Free()
	blas, err := ctx.NewBLAS(s)
	must(t, err)
	dnn, err := ctx.NewDNN(s)
	must(t, err)
	x, err := dnn.NewTensorDesc(2, 3, 4, 5, 60, 20, 5, 1)
	must(t, err)
	bn, err := dnn.NewTensorDesc(1, 3, 1, 1, 3, 1, 1, 1)
	must(t, err)
	w, err := dnn.NewFilterDesc(3, 3, 3, 3)
	must(t, err)
	conv, err := dnn.NewConvDesc(1, 1)
	must(t, err)
	g, err := ctx.EndCapture(s)
	must(t, err)
	ge, err := ctx.Instantiate(g)
	must(t, err)
	host := make([]float32, 16)
	ev, err := ctx.NewSyncEvent()
	must(t, err)
	defer ctx.DestroyEvent(ev)

	calls := map[string]func() error{
		"Launch": func() error {
			a.Reset()
			a.Ptr(1)
			a.Int(2)
			a.Float(3)
			a.U64(4)
			return ctx.Launch(k4, [3]uint32{1, 1, 1}, [3]uint32{128, 1, 1}, 0, s, a)
		},
		"Sgemm": func() error { return blas.Sgemm(true, false, 10, 20, 30, 1, 0x100, 30, 0x200, 30, 0, 0x300, 10) },
		"ConvForward": func() error {
			return dnn.ConvForward(1, x, 0x100, w, 0x200, conv, 1, 0x300, 4096, 0, x, 0x400)
		},
		"ConvBackwardData": func() error {
			return dnn.ConvBackwardData(1, w, 0x200, x, 0x400, conv, 1, 0x300, 4096, 1, x, 0x100)
		},
		"ConvBackwardFilter": func() error {
			return dnn.ConvBackwardFilter(1, x, 0x100, x, 0x400, conv, 1, 0x300, 4096, 1, w, 0x200)
		},
		"BNForwardTraining": func() error {
			return dnn.BNForwardTraining(1, 0, x, 1, x, 2, bn, 3, 4, 0.1, 5, 6, 1e-5, 7, 8)
		},
		"BNForwardInference": func() error { return dnn.BNForwardInference(1, 0, x, 1, x, 2, bn, 3, 4, 5, 6, 1e-5) },
		"BNBackward": func() error {
			return dnn.BNBackward(1, 0, 1, 1, x, 1, x, 2, x, 3, bn, 4, 5, 6, 1e-5, 7, 8)
		},
		"MemsetD32":       func() error { return ctx.MemsetD32(0x100, 0, 64, s) },
		"DtoD":            func() error { return ctx.DtoD(0x100, 0x200, 64, s) },
		"HtoD":            func() error { return ctx.HtoD(0x100, unsafe.Pointer(&host[0]), 64, s) },
		"DtoH":            func() error { return ctx.DtoH(unsafe.Pointer(&host[0]), 0x100, 64, s) },
		"StreamSync":      func() error { return ctx.StreamSync(s) },
		"LaunchGraph":     func() error { return ctx.LaunchGraph(ge, s) },
		"RecordEvent":     func() error { return ctx.RecordEvent(ev, s) },
		"StreamWaitEvent": func() error { return ctx.StreamWaitEvent(s, ev) },
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if n := testing.AllocsPerRun(100, func() { _ = call() }); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func TestEventWrappers(t *testing.T) {
	l, ctx, s := fakeContext(t)
	a, err := ctx.NewEvent()
	must(t, err)
	expectCall(t, l, "cuEventCreate flags=0")
	b, err := ctx.NewEvent()
	must(t, err)
	must(t, ctx.RecordEvent(a, s))
	expectCall(t, l, fmt.Sprintf("cuEventRecord e=%p s=0x5001", a.e))
	must(t, ctx.RecordEvent(b, s))
	ms, err := ctx.Elapsed(a, b)
	must(t, err)
	expectCall(t, l, fmt.Sprintf("cuEventElapsedTime_v2 a=%p b=%p", a.e, b.e)) // preferred where the driver has it
	if ms != 0.25 {                                                            // the fake's events are numbered; it returns a quarter of b - a
		t.Errorf("Elapsed = %g ms", ms)
	}
	must(t, ctx.DestroyEvent(a))
	expectCall(t, l, fmt.Sprintf("cuEventDestroy_v2 e=%p", a.e))
	must(t, ctx.DestroyEvent(b))
	must(t, ctx.DestroyEvent(Event{})) // the zero Event is harmless

	// an event only for ordering streams
	e, err := ctx.NewSyncEvent()
	must(t, err)
	expectCall(t, l, "cuEventCreate flags=2")
	must(t, ctx.StreamWaitEvent(s, e))
	expectCall(t, l, fmt.Sprintf("cuStreamWaitEvent s=0x5001 e=%p flags=0", e.e))
	must(t, ctx.DestroyEvent(e))
}
