//go:build cuda

package lib

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// DevicePtr is a device address (CUdeviceptr, 64 bits). Arithmetic on it is
// byte offsets, as in C.
type DevicePtr uint64

// Stream is a CUDA stream (CUstream). The zero Stream is the NULL (legacy
// default) stream.
type Stream struct{ s C.CUstream }

// Module is a loaded PTX module (CUmodule).
type Module struct{ m C.CUmodule }

// Function is a kernel of a Module (CUfunction).
type Function struct{ f C.CUfunction }

// Graph is a captured CUDA graph (CUgraph).
type Graph struct{ g C.CUgraph }

// GraphExec is an instantiated, launchable CUDA graph (CUgraphExec).
type GraphExec struct{ e C.CUgraphExec }

// Init is cuInit(0); call it once before anything but DriverVersion.
func (l *Libs) Init() error { return l.cuErr("cuInit", C.repro_cu_init(l.t)) }

// DeviceCount is cuDeviceGetCount.
func (l *Libs) DeviceCount() (int, error) {
	var n C.int
	if err := l.cuErr("cuDeviceGetCount", C.repro_cu_device_count(l.t, &n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

func (l *Libs) device(ord int) (C.CUdevice, error) {
	if ord < 0 || ord > math.MaxInt32 {
		return 0, fmt.Errorf("cuDeviceGet: device ordinal %d out of range", ord)
	}
	var d C.CUdevice
	if err := l.cuErr("cuDeviceGet", C.repro_cu_device_get(l.t, C.int(ord), &d)); err != nil {
		return 0, err
	}
	return d, nil
}

// DeviceName is cuDeviceGetName of device ord, e.g. "NVIDIA H100 80GB HBM3".
func (l *Libs) DeviceName(ord int) (string, error) {
	d, err := l.device(ord)
	if err != nil {
		return "", err
	}
	const n = 1024
	buf := (*C.char)(C.calloc(1, n))
	defer C.free(unsafe.Pointer(buf))
	if err := l.cuErr("cuDeviceGetName", C.repro_cu_device_name(l.t, d, buf, n)); err != nil {
		return "", err
	}
	return C.GoStringN(buf, C.int(C.strnlen(buf, n))), nil
}

// DeviceTotalMem is cuDeviceTotalMem_v2 of device ord, in bytes.
func (l *Libs) DeviceTotalMem(ord int) (uint64, error) {
	d, err := l.device(ord)
	if err != nil {
		return 0, err
	}
	var b C.size_t
	if err := l.cuErr("cuDeviceTotalMem_v2", C.repro_cu_device_total_mem(l.t, d, &b)); err != nil {
		return 0, err
	}
	return uint64(b), nil
}

// Context is a device's primary context, retained by RetainPrimaryContext.
//
// The current CUDA context is per OS thread and a goroutine can change
// threads between two calls, so no method relies on a context made current
// earlier: every method that needs the context makes it current with
// cuCtxSetCurrent itself, in the same C call as the library call. Calls may
// therefore come from any goroutine, one after another. Calls on the same
// stream or handle from several goroutines at once need the caller's own
// ordering (cuBLAS and cuDNN handles are not safe for concurrent use).
type Context struct {
	l   *Libs
	c   C.CUcontext
	dev C.CUdevice
	ord int
}

// RetainPrimaryContext is cuDeviceGet + cuDevicePrimaryCtxRetain of device
// ord. Release it when done.
func (l *Libs) RetainPrimaryContext(ord int) (*Context, error) {
	d, err := l.device(ord)
	if err != nil {
		return nil, err
	}
	var c C.CUcontext
	if err := l.cuErr("cuDevicePrimaryCtxRetain", C.repro_cu_primary_retain(l.t, d, &c)); err != nil {
		return nil, err
	}
	return &Context{l: l, c: c, dev: d, ord: ord}, nil
}

// Libs is the libraries this context's calls go to.
func (c *Context) Libs() *Libs { return c.l }

// Device is the device ordinal.
func (c *Context) Device() int { return c.ord }

// Release is cuDevicePrimaryCtxRelease_v2. Releasing more often than
// retaining is an error of the driver's.
func (c *Context) Release() error {
	return c.l.cuErr("cuDevicePrimaryCtxRelease_v2", C.repro_cu_primary_release(c.l.t, c.dev))
}

// MemAlloc is cuMemAlloc_v2.
func (c *Context) MemAlloc(bytes uint64) (DevicePtr, error) {
	var p C.CUdeviceptr
	if err := c.l.cuErr("cuMemAlloc_v2", C.repro_cu_mem_alloc(c.l.t, c.c, C.size_t(bytes), &p)); err != nil {
		return 0, err
	}
	return DevicePtr(p), nil
}

// MemFree is cuMemFree_v2.
func (c *Context) MemFree(p DevicePtr) error {
	return c.l.cuErr("cuMemFree_v2", C.repro_cu_mem_free(c.l.t, c.c, C.CUdeviceptr(p)))
}

// MemGetInfo is cuMemGetInfo_v2: free and total device memory in bytes.
func (c *Context) MemGetInfo() (free, total uint64, err error) {
	var f, t C.size_t
	if err := c.l.cuErr("cuMemGetInfo_v2", C.repro_cu_mem_info(c.l.t, c.c, &f, &t)); err != nil {
		return 0, 0, err
	}
	return uint64(f), uint64(t), nil
}

// NewStream is cuStreamCreate with CU_STREAM_NON_BLOCKING: the stream does
// not synchronize with the NULL stream.
func (c *Context) NewStream() (Stream, error) {
	var s C.CUstream
	if err := c.l.cuErr("cuStreamCreate", C.repro_cu_stream_create(c.l.t, c.c, CU_STREAM_NON_BLOCKING, &s)); err != nil {
		return Stream{}, err
	}
	return Stream{s}, nil
}

// StreamSync is cuStreamSynchronize: it waits for everything issued to s.
func (c *Context) StreamSync(s Stream) error {
	return c.l.cuErr("cuStreamSynchronize", C.repro_cu_stream_sync(c.l.t, c.c, s.s))
}

// DestroyStream is cuStreamDestroy_v2.
func (c *Context) DestroyStream(s Stream) error {
	return c.l.cuErr("cuStreamDestroy_v2", C.repro_cu_stream_destroy(c.l.t, c.c, s.s))
}

// HtoD is cuMemcpyHtoDAsync_v2: bytes from host src to device dst, in stream
// order. src must stay valid and unchanged until the copy has happened. The
// CUDA documentation ("API synchronization behavior") says that from pageable
// host memory (any Go or malloc'd memory; this package never pins memory) the
// call returns once the source has been copied to a staging buffer, so the
// source may be reused when HtoD returns; the transfer to the device may still
// be in flight. src is a Go or C pointer to memory holding no Go pointers.
func (c *Context) HtoD(dst DevicePtr, src unsafe.Pointer, bytes uint64, s Stream) error {
	return c.l.cuErr("cuMemcpyHtoDAsync_v2",
		C.repro_cu_htod(c.l.t, c.c, C.CUdeviceptr(dst), src, C.size_t(bytes), s.s))
}

// DtoH is cuMemcpyDtoHAsync_v2: bytes from device src to host dst, in stream
// order. To pageable memory the call returns only once the copy has completed
// ("API synchronization behavior"); sync the stream before reading dst anyway.
func (c *Context) DtoH(dst unsafe.Pointer, src DevicePtr, bytes uint64, s Stream) error {
	return c.l.cuErr("cuMemcpyDtoHAsync_v2",
		C.repro_cu_dtoh(c.l.t, c.c, dst, C.CUdeviceptr(src), C.size_t(bytes), s.s))
}

// DtoD is cuMemcpyDtoDAsync_v2: bytes from device src to device dst, async.
func (c *Context) DtoD(dst, src DevicePtr, bytes uint64, s Stream) error {
	return c.l.cuErr("cuMemcpyDtoDAsync_v2",
		C.repro_cu_dtod(c.l.t, c.c, C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes), s.s))
}

// MemsetD32 is cuMemsetD32Async: count 32-bit words at dst set to value
// (math.Float32bits(x) for a float), async.
func (c *Context) MemsetD32(dst DevicePtr, value uint32, count uint64, s Stream) error {
	return c.l.cuErr("cuMemsetD32Async",
		C.repro_cu_memset32(c.l.t, c.c, C.CUdeviceptr(dst), C.uint(value), C.size_t(count), s.s))
}

// jitLogBytes is the size of the JIT error log buffer given to
// cuModuleLoadDataEx.
const jitLogBytes = 16 << 10

// LoadModule is cuModuleLoadDataEx of PTX text, with the options
// CU_JIT_ERROR_LOG_BUFFER and CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES so that a
// JIT failure's log is part of the error (folded into one line). The driver
// JIT-compiles the PTX for this context's device.
func (c *Context) LoadModule(ptx []byte) (Module, error) {
	if len(ptx) == 0 {
		return Module{}, errors.New("cuModuleLoadDataEx: empty PTX")
	}
	img := C.malloc(C.size_t(len(ptx) + 1)) // PTX must be NUL-terminated
	defer C.free(img)
	copy(unsafe.Slice((*byte)(img), len(ptx)), ptx)
	*(*byte)(unsafe.Add(img, len(ptx))) = 0
	log := (*C.char)(C.calloc(1, jitLogBytes))
	defer C.free(unsafe.Pointer(log))
	var m C.CUmodule
	r := C.repro_cu_module_load(c.l.t, c.c, img, &m, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
		log, jitLogBytes)
	if err := c.l.cuErr("cuModuleLoadDataEx", r); err != nil {
		if jit := oneLine(C.GoString(log)); jit != "" {
			return Module{}, fmt.Errorf("%w; JIT log: %s", err, jit)
		}
		return Module{}, err
	}
	return Module{m}, nil
}

// Function is cuModuleGetFunction: the kernel called name (its extern "C"
// name) in m.
func (c *Context) Function(m Module, name string) (Function, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f C.CUfunction
	if err := c.l.cuErr("cuModuleGetFunction", C.repro_cu_module_function(c.l.t, c.c, m.m, cname, &f)); err != nil {
		return Function{}, fmt.Errorf("kernel %q: %w", name, err)
	}
	return Function{f}, nil
}

// UnloadModule is cuModuleUnload.
func (c *Context) UnloadModule(m Module) error {
	return c.l.cuErr("cuModuleUnload", C.repro_cu_module_unload(c.l.t, c.c, m.m))
}

// MaxArgs is the capacity of an Args block.
const MaxArgs = 32

// MaxArgs and the C block's REPRO_MAX_ARGS must agree (both arrays would
// have a negative length otherwise).
var (
	_ [MaxArgs - C.REPRO_MAX_ARGS]struct{}
	_ [C.REPRO_MAX_ARGS - MaxArgs]struct{}
)

// Args is a kernel's argument block, in C memory and reused from launch to
// launch, so that Launch allocates nothing: slot i holds argument i (8 bytes),
// and the kernelParams array given to cuLaunchKernel points at the slots.
// Reset it, add the arguments in the kernel's parameter order, then Launch.
// Adding more than MaxArgs arguments records an error that Launch returns.
// Each argument's kind is kept as a PTX parameter type (Types), for checking
// a launch against its kernel's entry. An Args is not safe for concurrent
// use.
type Args struct {
	c     *C.repro_args
	n     int
	err   error
	kinds [MaxArgs]byte
}

// The kinds of arguments, as their PTX parameter types: a pointer or an
// unsigned long long is .u64, an int .u32 (nvcc declares int parameters so),
// a float .f32.
const (
	KindU64 = 'u'
	KindU32 = 'i'
	KindF32 = 'f'
)

// NewArgs allocates an argument block. Free it when done.
func NewArgs() *Args {
	a := (*C.repro_args)(C.calloc(1, C.sizeof_repro_args))
	C.repro_args_init(a)
	return &Args{c: a}
}

var errArgsFreed = errors.New("cuLaunchKernel: kernel argument block used after Free")

// Reset empties the block (and clears a recorded error).
func (a *Args) Reset() { a.n, a.err = 0, nil }

// Len is the number of arguments added since the last Reset.
func (a *Args) Len() int { return a.n }

func (a *Args) next(kind byte) *C.uint64_t {
	if a.c == nil {
		a.err = errArgsFreed
		return nil
	}
	if a.n >= MaxArgs {
		if a.err == nil {
			a.err = fmt.Errorf("cuLaunchKernel: more than %d kernel arguments", MaxArgs)
		}
		return nil
	}
	p := &a.c.slot[a.n]
	a.kinds[a.n] = kind
	a.n++
	*p = 0
	return p
}

// Matches says whether the arguments are, in number and order, of the kinds
// in types (one of KindU64, KindU32, KindF32 per parameter). It allocates
// nothing.
func (a *Args) Matches(types string) bool {
	if len(types) != a.n {
		return false
	}
	for i := 0; i < a.n; i++ {
		if a.kinds[i] != types[i] {
			return false
		}
	}
	return true
}

// Types returns the arguments' kinds as Matches reads them (for messages).
func (a *Args) Types() string { return string(a.kinds[:a.n]) }

// Ptr adds a device pointer argument (a T* parameter, 8 bytes).
func (a *Args) Ptr(p DevicePtr) {
	if s := a.next(KindU64); s != nil {
		*s = C.uint64_t(p)
	}
}

// Int adds an int argument (4 bytes at the start of the slot).
func (a *Args) Int(v int32) {
	if s := a.next(KindU32); s != nil {
		*(*int32)(unsafe.Pointer(s)) = v
	}
}

// Float adds a float argument (4 bytes at the start of the slot).
func (a *Args) Float(v float32) {
	if s := a.next(KindF32); s != nil {
		*(*float32)(unsafe.Pointer(s)) = v
	}
}

// U64 adds an unsigned long long argument (8 bytes).
func (a *Args) U64(v uint64) {
	if s := a.next(KindU64); s != nil {
		*s = C.uint64_t(v)
	}
}

// slot is the raw 8 bytes of argument i (for tests).
func (a *Args) slot(i int) uint64 { return uint64(a.c.slot[i]) }

// Free releases the C memory. The Args must not be used afterwards.
func (a *Args) Free() {
	if a.c != nil {
		C.free(unsafe.Pointer(a.c))
		a.c = nil
	}
}

// Launch is cuLaunchKernel of f on a grid of grid blocks of block threads,
// with sharedBytes of dynamic shared memory, on stream s, with the arguments
// in a (nil for none). It allocates nothing. The driver copies the argument
// values during the call, so a may be reset and refilled as soon as Launch
// returns.
func (c *Context) Launch(f Function, grid, block [3]uint32, sharedBytes uint32, s Stream, a *Args) error {
	var params *unsafe.Pointer
	if a != nil {
		if a.c == nil {
			return errArgsFreed
		}
		if a.err != nil {
			return a.err
		}
		if a.n > 0 {
			params = &a.c.ptr[0]
		}
	}
	return c.l.cuErr("cuLaunchKernel", C.repro_cu_launch(c.l.t, c.c, f.f,
		C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]), C.uint(block[2]),
		C.uint(sharedBytes), s.s, params))
}

// BeginCapture is cuStreamBeginCapture_v2: work issued to s is recorded into
// a graph instead of run, until EndCapture. mode is one of
// CU_STREAM_CAPTURE_MODE_GLOBAL, _THREAD_LOCAL or _RELAXED.
func (c *Context) BeginCapture(s Stream, mode int) error {
	return c.l.cuErr("cuStreamBeginCapture_v2",
		C.repro_cu_begin_capture(c.l.t, c.c, s.s, C.CUstreamCaptureMode(mode)))
}

// EndCapture is cuStreamEndCapture: the graph captured on s.
func (c *Context) EndCapture(s Stream) (Graph, error) {
	var g C.CUgraph
	if err := c.l.cuErr("cuStreamEndCapture", C.repro_cu_end_capture(c.l.t, c.c, s.s, &g)); err != nil {
		return Graph{}, err
	}
	return Graph{g}, nil
}

// Instantiate is cuGraphInstantiateWithFlags(flags 0). (cuGraphInstantiate
// itself changed signature between CUDA 11 and 12; this function exists,
// unchanged, in both since CUDA 11.4.)
func (c *Context) Instantiate(g Graph) (GraphExec, error) {
	var e C.CUgraphExec
	if err := c.l.cuErr("cuGraphInstantiateWithFlags", C.repro_cu_graph_instantiate(c.l.t, c.c, g.g, &e)); err != nil {
		return GraphExec{}, err
	}
	return GraphExec{e}, nil
}

// LaunchGraph is cuGraphLaunch of e on stream s.
func (c *Context) LaunchGraph(e GraphExec, s Stream) error {
	return c.l.cuErr("cuGraphLaunch", C.repro_cu_graph_launch(c.l.t, c.c, e.e, s.s))
}

// DestroyGraphExec is cuGraphExecDestroy.
func (c *Context) DestroyGraphExec(e GraphExec) error {
	return c.l.cuErr("cuGraphExecDestroy", C.repro_cu_graph_exec_destroy(c.l.t, c.c, e.e))
}

// DestroyGraph is cuGraphDestroy.
func (c *Context) DestroyGraph(g Graph) error {
	return c.l.cuErr("cuGraphDestroy", C.repro_cu_graph_destroy(c.l.t, c.c, g.g))
}

// fitsInt reports whether every v fits a C int (int32), for messages.
func fitsInt(vs ...int) bool {
	for _, v := range vs {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return false
		}
	}
	return true
}

// Event is a CUDA event (CUevent).
type Event struct{ e C.CUevent }

// NewEvent is cuEventCreate with CU_EVENT_DEFAULT: timing enabled, for
// Elapsed.
func (c *Context) NewEvent() (Event, error) { return c.newEvent(CU_EVENT_DEFAULT) }

// NewSyncEvent is cuEventCreate with CU_EVENT_DISABLE_TIMING: an event only
// for ordering streams (StreamWaitEvent), the cheapest kind.
func (c *Context) NewSyncEvent() (Event, error) { return c.newEvent(CU_EVENT_DISABLE_TIMING) }

func (c *Context) newEvent(flags C.uint) (Event, error) {
	var e C.CUevent
	err := c.l.cuErr("cuEventCreate", C.repro_cu_event_create(c.l.t, c.c, flags, &e))
	return Event{e}, err
}

// StreamWaitEvent is cuStreamWaitEvent: work issued to s after it waits
// until e's last RecordEvent has completed. Recorded in a CUDA graph
// capture, it is an edge between the two streams' nodes (a stream that
// waits on the capturing stream's event joins the capture).
func (c *Context) StreamWaitEvent(s Stream, e Event) error {
	return c.l.cuErr("cuStreamWaitEvent", C.repro_cu_stream_wait_event(c.l.t, c.c, s.s, e.e))
}

// RecordEvent is cuEventRecord of e on stream s: e completes when the work
// issued to s before it has.
func (c *Context) RecordEvent(e Event, s Stream) error {
	return c.l.cuErr("cuEventRecord", C.repro_cu_event_record(c.l.t, c.c, e.e, s.s))
}

// Elapsed waits for end (cuEventSynchronize) and returns the GPU time between
// the two recorded events in milliseconds (cuEventElapsedTime).
func (c *Context) Elapsed(start, end Event) (float32, error) {
	var ms C.float
	err := c.l.cuErr("cuEventSynchronize/cuEventElapsedTime", C.repro_cu_event_elapsed(c.l.t, c.c, start.e, end.e, &ms))
	return float32(ms), err
}

// DestroyEvent is cuEventDestroy_v2.
func (c *Context) DestroyEvent(e Event) error {
	if e.e == nil {
		return nil
	}
	return c.l.cuErr("cuEventDestroy_v2", C.repro_cu_event_destroy(c.l.t, c.c, e.e))
}
