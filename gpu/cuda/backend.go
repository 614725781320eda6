//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"repro/gpu"
	"repro/gpu/cuda/lib"
	"repro/kernels"
)

// ErrNotBuilt is kept for API parity with builds without the cuda tag.
var ErrNotBuilt = errors.New("the cuda backend is not in this binary: build with -tags cuda")

// buffer is float32 device memory.
type buffer struct {
	ptr lib.DevicePtr
	n   int
}

func (b *buffer) Len() int { return b.n }

// intBuffer is int32 device memory.
type intBuffer struct {
	ptr lib.DevicePtr
	n   int
}

func (b *intBuffer) Len() int { return b.n }

// Backend is the CUDA backend: one GPU, one stream, cuDNN and cuBLAS handles
// bound to that stream, and the kernels of package kernels. Ops are issued
// asynchronously in order; Download and Sync wait for them.
type Backend struct {
	opts   gpu.Options
	libs   *lib.Libs
	ctx    *lib.Context
	stream lib.Stream
	blas   *lib.BLAS
	dnn    *lib.DNN
	module lib.Module
	fn     functions
	args   *lib.Args
	name   string

	bytes int64
	owned []lib.DevicePtr // freed by Close

	// workspace is the convolution workspace shared by every conv, grown
	// only while a conv chooses its algorithms (the first step).
	workspace      lib.DevicePtr
	workspaceBytes uint64
	// the algorithm searches' workspace and output scratch, kept once made
	// (each search runs on the first step) and freed by Close
	searchWS, searchScratchPtr        lib.DevicePtr
	searchWSBytes, searchScratchBytes uint64
	// descriptors to destroy on Close
	tensorDescs []lib.TensorDesc
	filterDescs []lib.FilterDesc
	convDescs   []lib.ConvDesc
	// bnScratch holds per-channel coefficients of the batch-norm kernels,
	// bnPart the partial sums of their segmented reductions (bnPartLen
	// doubles) and bnCount their per-channel segment counters (bnCountLen
	// int32, zeroed when made and left at zero by every reduction).
	bnScratch   lib.DevicePtr
	bnScratchCh int
	bnPart      lib.DevicePtr
	bnPartLen   int
	bnCount     lib.DevicePtr
	bnCountLen  int
	// algos are the convolution algorithms chosen so far, by shape
	algos map[algoKey]convChoice
	// engines are the backend-API plans chosen, destroyed by Close
	engines []*lib.EnginePlan
	// events time the backend-API engines (timeConv), made on first use
	events [2]lib.Event
	// side runs each convolution's weight gradient beside its input
	// gradient on b.stream when opts.WGradStream. forkJoin orders the two
	// streams (each Backward forks and joins), sideWS is the side's own
	// workspace.
	side        lib.Stream
	forkJoin    [2]lib.Event
	sideWS      lib.DevicePtr
	sideWSBytes uint64
	// wgradScratch is where an engine that overwrites writes a weight
	// gradient before a kernel adds it to dw (convChoice.overwrites)
	wgradScratch      lib.DevicePtr
	wgradScratchBytes uint64
	// forceOverwrite (tests) plans every engine weight gradient with beta 0,
	// so that the GPU tests cover that path where beta 1 has engines too
	forceOverwrite bool
	// convChoices counts how convolution algorithms were chosen
	convChoices ConvChoices
	// logAlgos prints each convolution's chosen algorithm ($REPRO_CUDA_ALGOS=1)
	logAlgos bool
	// recordings are the live CUDA graphs made by Record (a recording's
	// Close removes it; the backend's Close destroys those left)
	recordings []*recording
	closed     bool
}

// kernel is one of our kernels, resolved once, with the parameter types its
// PTX entry declares (kernels.ParamTypes, in lib.Args' kinds: launch checks
// them).
type kernel struct {
	f     lib.Function
	name  string
	types string
}

// functions are the kernels.
type functions struct {
	fill, copy, reluF, reluB, add, residual, shortcutB kernel
	avgF, avgB, gapF, gapB, dropout, xent              kernel
	biasRows, biasGrad, sgd, adam, buildBatch          kernel
	bnStats, bnCoeffsTrain, bnCoeffsInfer, bnApply     kernel
	bnGradStats, bnGradApply                           kernel
}

// New opens GPU opts.Device: loads the driver, cuBLAS and cuDNN at run time
// (from $REPRO_CUDA_LIBS, the loader's path, pip wheels' nvidia/*/lib and
// /usr/local/cuda/lib64), creates a stream, the library handles and the
// kernels' module.
func New(opts gpu.Options) (gpu.Backend, error) {
	var extra []string
	if d := os.Getenv("REPRO_CUDA_LIBS"); d != "" {
		extra = strings.Split(d, ":")
	}
	libs, err := lib.Load(extra)
	if err != nil {
		return nil, err
	}
	b := &Backend{opts: opts, libs: libs, logAlgos: os.Getenv("REPRO_CUDA_ALGOS") == "1", algos: map[algoKey]convChoice{}}
	if err := b.open(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) open() error {
	l := b.libs
	if err := l.Init(); err != nil {
		return err
	}
	n, err := l.DeviceCount()
	if err != nil {
		return err
	}
	if b.opts.Device < 0 || b.opts.Device >= n {
		return fmt.Errorf("GPU %d: this machine has %d", b.opts.Device, n)
	}
	if b.name, err = l.DeviceName(b.opts.Device); err != nil {
		return err
	}
	if b.ctx, err = l.RetainPrimaryContext(b.opts.Device); err != nil {
		return err
	}
	if b.stream, err = b.ctx.NewStream(); err != nil {
		return err
	}
	if b.blas, err = b.ctx.NewBLAS(b.stream); err != nil {
		return err
	}
	if err := b.blas.SetTF32(!b.opts.StrictFP32); err != nil {
		return err
	}
	if b.dnn, err = b.ctx.NewDNN(b.stream); err != nil {
		return err
	}
	if b.opts.WGradStream {
		if b.side, err = b.ctx.NewStream(); err != nil {
			return err
		}
		for i := range b.forkJoin {
			if b.forkJoin[i], err = b.ctx.NewSyncEvent(); err != nil {
				return err
			}
		}
	}
	if b.module, err = b.ctx.LoadModule(kernels.PTX()); err != nil {
		return fmt.Errorf("loading kernels (source %s): %w", kernels.SourceHash(), err)
	}
	params, err := kernels.ParamTypes()
	if err != nil {
		return err
	}
	get := func(dst *kernel, name string) {
		if err != nil {
			return
		}
		types, ok := params[name]
		if !ok {
			err = fmt.Errorf("kernel %s: no entry in the PTX", name)
			return
		}
		*dst = kernel{name: name, types: types}
		dst.f, err = b.ctx.Function(b.module, name)
	}
	f := &b.fn
	get(&f.fill, "fill_view")
	get(&f.copy, "copy_view")
	get(&f.reluF, "relu_forward")
	get(&f.reluB, "relu_backward")
	get(&f.add, "add_forward")
	get(&f.residual, "residual_forward")
	get(&f.shortcutB, "shortcut_backward")
	get(&f.avgF, "avgpool_forward")
	get(&f.avgB, "avgpool_backward")
	get(&f.gapF, "gap_forward")
	get(&f.gapB, "gap_backward")
	get(&f.dropout, "dropout")
	get(&f.xent, "softmax_xent")
	get(&f.biasRows, "bias_rows")
	get(&f.biasGrad, "bias_grad")
	get(&f.sgd, "sgd_step")
	get(&f.adam, "adam_step")
	get(&f.buildBatch, "build_batch")
	get(&f.bnStats, "bn_stats")
	get(&f.bnCoeffsTrain, "bn_coeffs_train")
	get(&f.bnCoeffsInfer, "bn_coeffs_infer")
	get(&f.bnApply, "bn_apply")
	get(&f.bnGradStats, "bn_grad_stats")
	get(&f.bnGradApply, "bn_grad_apply")
	if err != nil {
		return err
	}
	b.args = lib.NewArgs()
	return nil
}

// Name is "cuda".
func (b *Backend) Name() string { return "cuda" }

// Describe names the GPU, the library versions and the math settings.
func (b *Backend) Describe() string {
	math := "TF32 convolutions and classifier"
	if b.opts.StrictFP32 {
		math = "strict FP32"
	}
	if b.opts.Deterministic {
		math += ", deterministic algorithms"
	}
	switch b.opts.ConvAlgos {
	case "graph":
		math += ", convolutions by cuDNN backend-API engines"
	case "all":
		math += ", convolutions by the faster of cudnnFind and backend-API engines"
	default:
		math += ", convolutions by cudnnFind"
	}
	if b.opts.OurBatchNorm {
		math += ", every batch norm on our kernels"
	}
	if b.opts.WGradStream {
		math += ", weight gradients on a second stream"
	}
	free, total, _ := b.ctx.MemGetInfo()
	return fmt.Sprintf("cuda: GPU %d %s (%.1f of %.1f GiB free), %s, %s", b.opts.Device, b.name,
		float64(free)/(1<<30), float64(total)/(1<<30), b.libs.Describe(), math)
}

// MemoryInUse is the device memory this backend allocated.
func (b *Backend) MemoryInUse() int64 { return b.bytes }

// Close frees every allocation and the handles.
func (b *Backend) Close() error {
	if b.closed || b.ctx == nil {
		return nil
	}
	b.ctx.StreamSync(b.stream)
	for _, r := range slices.Clone(b.recordings) { // each Close removes itself
		r.Close()
	}
	b.closed = true
	for _, p := range append(b.owned, b.workspace, b.sideWS, b.wgradScratch, b.searchWS, b.searchScratchPtr) {
		if p != 0 {
			b.ctx.MemFree(p)
		}
	}
	b.owned = nil
	for _, d := range b.tensorDescs {
		d.Destroy()
	}
	for _, d := range b.filterDescs {
		d.Destroy()
	}
	for _, d := range b.convDescs {
		d.Destroy()
	}
	for _, e := range b.engines {
		e.Destroy()
	}
	for _, e := range append(b.events[:], b.forkJoin[:]...) {
		b.ctx.DestroyEvent(e)
	}
	if b.module != (lib.Module{}) {
		b.ctx.UnloadModule(b.module)
	}
	if b.args != nil {
		b.args.Free()
	}
	if b.dnn != nil {
		b.dnn.Destroy()
	}
	if b.blas != nil {
		b.blas.Destroy()
	}
	b.ctx.DestroyStream(b.stream)
	if b.side != (lib.Stream{}) {
		b.ctx.DestroyStream(b.side)
	}
	return b.ctx.Release()
}

// Sync waits for every issued op.
func (b *Backend) Sync() error { return b.ctx.StreamSync(b.stream) }

func (b *Backend) malloc(bytes uint64) (lib.DevicePtr, error) {
	if bytes == 0 {
		bytes = 4
	}
	p, err := b.ctx.MemAlloc(bytes)
	if err != nil {
		return 0, fmt.Errorf("cuda alloc of %d bytes (%d in use): %w", bytes, b.bytes, err)
	}
	b.owned = append(b.owned, p)
	b.bytes += int64(bytes)
	return p, nil
}

// Alloc returns n zeroed float32.
func (b *Backend) Alloc(n int) (gpu.Slice, error) {
	if n < 0 {
		return gpu.Slice{}, fmt.Errorf("cuda alloc: %d elements", n)
	}
	p, err := b.malloc(uint64(4 * n))
	if err != nil {
		return gpu.Slice{}, err
	}
	if n > 0 {
		if err := b.ctx.MemsetD32(p, 0, uint64(n), b.stream); err != nil {
			return gpu.Slice{}, err
		}
	}
	return gpu.Slice{Buf: &buffer{ptr: p, n: n}, Len: n}, nil
}

// AllocInt returns n zeroed int32.
func (b *Backend) AllocInt(n int) (gpu.IntSlice, error) {
	if n < 0 {
		return gpu.IntSlice{}, fmt.Errorf("cuda alloc int: %d elements", n)
	}
	p, err := b.malloc(uint64(4 * n))
	if err != nil {
		return gpu.IntSlice{}, err
	}
	if n > 0 {
		if err := b.ctx.MemsetD32(p, 0, uint64(n), b.stream); err != nil {
			return gpu.IntSlice{}, err
		}
	}
	return gpu.IntSlice{Buf: &intBuffer{ptr: p, n: n}, Len: n}, nil
}

// NewTensor allocates a zeroed NCHW tensor.
func (b *Backend) NewTensor(n, c, h, w int) (gpu.Tensor, error) {
	return gpu.AllocTensor(b.Alloc, n, c, h, w)
}

var errForeign = errors.New("memory of another backend")

// dslice resolves a Slice to its device address.
func dslice(s gpu.Slice) (lib.DevicePtr, error) {
	buf, ok := s.Buf.(*buffer)
	if !ok {
		if s.Buf == nil {
			return 0, errors.New("nil buffer")
		}
		return 0, errForeign
	}
	if s.Off < 0 || s.Len < 0 || s.Off+s.Len > buf.n {
		return 0, fmt.Errorf("slice [%d:%d] outside buffer of %d", s.Off, s.Off+s.Len, buf.n)
	}
	return buf.ptr + lib.DevicePtr(4*s.Off), nil
}

func dints(s gpu.IntSlice) (lib.DevicePtr, error) {
	buf, ok := s.Buf.(*intBuffer)
	if !ok {
		if s.Buf == nil {
			return 0, errors.New("nil int buffer")
		}
		return 0, errForeign
	}
	if s.Off < 0 || s.Len < 0 || s.Off+s.Len > buf.n {
		return 0, fmt.Errorf("int slice [%d:%d] outside buffer of %d", s.Off, s.Off+s.Len, buf.n)
	}
	return buf.ptr + lib.DevicePtr(4*s.Off), nil
}

// view is a tensor resolved to the device: element (n,c,h,w) at
// ptr + 4*(n*stride + c*H*W + h*W + w).
type view struct {
	ptr        lib.DevicePtr
	n, c, h, w int
	stride     int // floats between images: ParentC*H*W
}

func (v view) chw() int     { return v.c * v.h * v.w }
func (v view) packed() bool { return v.stride == v.chw() }

func resolve(t gpu.Tensor) (view, error) {
	buf, ok := t.Buf.(*buffer)
	if !ok {
		if t.Buf == nil {
			return view{}, errors.New("nil tensor buffer")
		}
		return view{}, errForeign
	}
	if err := gpu.CheckTensor(t, buf.n); err != nil {
		return view{}, err
	}
	hw := t.H * t.W
	return view{ptr: buf.ptr + lib.DevicePtr(4*(t.Off+t.C0*hw)), n: t.N, c: t.C, h: t.H, w: t.W, stride: t.ParentC * hw}, nil
}

func resolve2(a, c gpu.Tensor) (view, view, error) {
	va, err := resolve(a)
	if err != nil {
		return view{}, view{}, err
	}
	vc, err := resolve(c)
	return va, vc, err
}

// transfer copies n 32-bit values between Go memory at host and the device
// at dev, and waits for it: the copy reads or writes Go memory, which must
// stay put until the stream has passed it.
func (b *Backend) transfer(toDevice bool, dev lib.DevicePtr, host unsafe.Pointer, n int) error {
	if n > 0 {
		var err error
		if toDevice {
			err = b.ctx.HtoD(dev, host, uint64(4*n), b.stream)
		} else {
			err = b.ctx.DtoH(host, dev, uint64(4*n), b.stream)
		}
		if err != nil {
			return err
		}
	}
	return b.Sync()
}

// Upload copies src into dst.
func (b *Backend) Upload(dst gpu.Slice, src []float32) error {
	p, err := dslice(dst)
	if err != nil || len(src) != dst.Len {
		return fmt.Errorf("cuda upload: %d values into a slice of %d (%v)", len(src), dst.Len, err)
	}
	err = b.transfer(true, p, unsafe.Pointer(unsafe.SliceData(src)), len(src))
	runtime.KeepAlive(src)
	return err
}

// Download copies src into dst, waiting for every op issued before.
func (b *Backend) Download(dst []float32, src gpu.Slice) error {
	p, err := dslice(src)
	if err != nil || len(dst) != src.Len {
		return fmt.Errorf("cuda download: slice of %d into %d values (%v)", src.Len, len(dst), err)
	}
	err = b.transfer(false, p, unsafe.Pointer(unsafe.SliceData(dst)), len(dst))
	runtime.KeepAlive(dst)
	return err
}

// UploadInt copies src into dst.
func (b *Backend) UploadInt(dst gpu.IntSlice, src []int32) error {
	p, err := dints(dst)
	if err != nil || len(src) != dst.Len {
		return fmt.Errorf("cuda upload int: %d values into a slice of %d (%v)", len(src), dst.Len, err)
	}
	err = b.transfer(true, p, unsafe.Pointer(unsafe.SliceData(src)), len(src))
	runtime.KeepAlive(src)
	return err
}

// DownloadInt copies src into dst.
func (b *Backend) DownloadInt(dst []int32, src gpu.IntSlice) error {
	p, err := dints(src)
	if err != nil || len(dst) != src.Len {
		return fmt.Errorf("cuda download int: slice of %d into %d values (%v)", src.Len, len(dst), err)
	}
	err = b.transfer(false, p, unsafe.Pointer(unsafe.SliceData(dst)), len(dst))
	runtime.KeepAlive(dst)
	return err
}

// UploadTensor copies NCHW src into t, image by image (a view's images are
// contiguous runs of C*H*W floats).
func (b *Backend) UploadTensor(t gpu.Tensor, src []float32) error {
	v, err := resolve(t)
	if err != nil || len(src) != t.Elems() {
		return fmt.Errorf("cuda upload tensor %v: %d values (%v)", t, len(src), err)
	}
	chw := v.chw()
	for n := 0; n < v.n; n++ {
		if err := b.ctx.HtoD(v.ptr+lib.DevicePtr(4*n*v.stride), unsafe.Pointer(&src[n*chw]), uint64(4*chw), b.stream); err != nil {
			return err
		}
	}
	err = b.Sync()
	runtime.KeepAlive(src)
	return err
}

// DownloadTensor copies t into dst in NCHW order.
func (b *Backend) DownloadTensor(dst []float32, t gpu.Tensor) error {
	v, err := resolve(t)
	if err != nil || len(dst) != t.Elems() {
		return fmt.Errorf("cuda download tensor %v: %d values (%v)", t, len(dst), err)
	}
	chw := v.chw()
	for n := 0; n < v.n; n++ {
		if err := b.ctx.DtoH(unsafe.Pointer(&dst[n*chw]), v.ptr+lib.DevicePtr(4*n*v.stride), uint64(4*chw), b.stream); err != nil {
			return err
		}
	}
	err = b.Sync()
	runtime.KeepAlive(dst)
	return err
}

// Zero sets s to 0.
func (b *Backend) Zero(s gpu.Slice) error {
	p, err := dslice(s)
	if err != nil {
		return fmt.Errorf("cuda zero: %w", err)
	}
	if s.Len == 0 {
		return nil
	}
	return b.ctx.MemsetD32(p, 0, uint64(s.Len), b.stream)
}

// note passes a one-line note to Options.Log, if any.
func (b *Backend) note(s string) {
	if b.opts.Log != nil {
		b.opts.Log(s)
	}
}
