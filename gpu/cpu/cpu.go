// Package cpu is the CPU implementation of gpu.Backend, always built: what CI,
// development machines and every machine without a GPU train with.
//
// Activations are stored NHWC (a pixel's channels contiguous) so that a 1x1
// convolution is one GEMM, im2col copies contiguous channel runs, and a
// DenseNet channel view is a fixed column range of every pixel row. Matrix
// products go through package gemm (OpenBLAS loaded at run time when
// present, else pure Go), one thread per call; this package alone decides the
// parallelism, splitting every op over a fixed pool of worker goroutines, so
// OpenBLAS threads and Go's never compete for the cores. All memory,
// including each worker's scratch, is allocated when a tensor or an op is
// planned: a training step allocates nothing.
//
// The loops over pixels (batch norm, ReLU, adds, im2col and the Winograd
// transforms of 3x3 stride-1 convolutions) live in package vec, as C that
// gcc vectorizes when cgo is on and as Go loops otherwise; Go's compiler
// does not vectorize, and these loops would otherwise cost as much as the
// GEMMs.
package cpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"repro/gpu"
	"repro/gpu/cpu/gemm"
	"repro/gpu/cpu/vec"
)

// winogradFromEnv reads REPRO_CPU_WINOGRAD, the algorithm of 3x3 stride-1
// convolutions: unset or 4 for F(4x4, 3x3), the fastest; 2 for F(2x2, 3x3),
// whose transforms only add; 0 for none (im2col and GEMM, the plainest), to
// compare them.
func winogradFromEnv() (vec.Winograd, error) {
	switch v := os.Getenv("REPRO_CPU_WINOGRAD"); v {
	case "", "4":
		return vec.F4, nil
	case "2":
		return vec.F2, nil
	case "0":
		return 0, nil
	default:
		return 0, fmt.Errorf("cpu backend: REPRO_CPU_WINOGRAD=%q: want 4 (F(4x4, 3x3), the default), 2 (F(2x2, 3x3)) or 0 (no Winograd)", v)
	}
}

// buffer is float32 memory on the host.
type buffer struct{ data []float32 }

func (b *buffer) Len() int { return len(b.data) }

// intBuffer is int32 memory on the host.
type intBuffer struct{ data []int32 }

func (b *intBuffer) Len() int { return len(b.data) }

// Backend is the CPU backend. Its methods must be called from one goroutine
// at a time, like a device queue.
type Backend struct {
	gemm    []gemm.Impl // one per worker
	gemmWhy string
	pool    *pool
	bytes   int64
	// scratch[w] is worker w's private float32 scratch, grown only by planners.
	scratch [][]float32
	// red holds per-worker float64 partial sums (batch-norm statistics, pooled
	// reductions), grown only by planners.
	red    [][]float64
	closed bool
	// winograd is the algorithm of 3x3 stride-1 convolutions, 0 for none
	// (im2col and GEMM): see winogradFromEnv.
	winograd vec.Winograd

	// Task state of the ops that have no plan object, kept here so that
	// handing them to the pool allocates nothing.
	zeroT zeroTask
	ew    elementwise
	opt   optimizer
	batch batchBuilder
}

// New opens the CPU backend with opts.Threads workers (all cores when 0),
// using OpenBLAS when it loads and pure-Go GEMM otherwise.
func New(opts gpu.Options) (*Backend, error) {
	impl, why := gemm.New()
	return NewWithGEMM(opts, impl, why)
}

// NewWithGEMM opens the CPU backend with GEMMs made by newGEMM, one per
// worker (tests run the conformance suite with each implementation).
func NewWithGEMM(opts gpu.Options, newGEMM func() gemm.Impl, why string) (*Backend, error) {
	threads := opts.Threads
	if threads < 0 {
		return nil, fmt.Errorf("cpu backend: threads %d: want 0 (all cores) or more", threads)
	}
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	wino, err := winogradFromEnv()
	if err != nil {
		return nil, err
	}
	b := &Backend{gemmWhy: why, pool: newPool(threads), winograd: wino}
	for w := 0; w < threads; w++ {
		b.gemm = append(b.gemm, newGEMM())
	}
	b.scratch = make([][]float32, threads)
	b.red = make([][]float64, threads)
	return b, nil
}

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Describe names the threads and the GEMM in use.
func (b *Backend) Describe() string {
	conv := "3x3 convolutions by im2col (REPRO_CPU_WINOGRAD=0)"
	if b.winograd != 0 {
		conv = "3x3 convolutions by Winograd " + b.winograd.String()
	}
	return fmt.Sprintf("cpu: %d threads, %s, %s, %s", b.pool.n, b.gemmWhy, conv, vec.Impl)
}

// Threads is the number of worker goroutines.
func (b *Backend) Threads() int { return b.pool.n }

// MemoryInUse is the bytes of tensors, slices and scratch allocated.
func (b *Backend) MemoryInUse() int64 { return b.bytes }

// Close stops the workers. The backend must not be used afterwards.
func (b *Backend) Close() error {
	if !b.closed {
		b.closed = true
		b.pool.close()
	}
	return nil
}

// Sync returns nil: every op has finished when it returns.
func (b *Backend) Sync() error { return nil }

// growScratch makes every worker's scratch hold at least n float32 and m
// float64; called by planners only.
func (b *Backend) growScratch(n, m int) {
	for w := range b.scratch {
		if len(b.scratch[w]) < n {
			b.bytes += int64(4 * (n - len(b.scratch[w])))
			b.scratch[w] = make([]float32, n)
		}
		if len(b.red[w]) < m {
			b.bytes += int64(8 * (m - len(b.red[w])))
			b.red[w] = make([]float64, m)
		}
	}
}

// Alloc returns n zeroed float32.
func (b *Backend) Alloc(n int) (gpu.Slice, error) {
	if n < 0 {
		return gpu.Slice{}, fmt.Errorf("cpu alloc: %d elements", n)
	}
	b.bytes += int64(4 * n)
	return gpu.Slice{Buf: &buffer{data: make([]float32, n)}, Len: n}, nil
}

// AllocInt returns n zeroed int32.
func (b *Backend) AllocInt(n int) (gpu.IntSlice, error) {
	if n < 0 {
		return gpu.IntSlice{}, fmt.Errorf("cpu alloc int: %d elements", n)
	}
	b.bytes += int64(4 * n)
	return gpu.IntSlice{Buf: &intBuffer{data: make([]int32, n)}, Len: n}, nil
}

// NewTensor allocates a zeroed NHWC tensor.
func (b *Backend) NewTensor(n, c, h, w int) (gpu.Tensor, error) {
	return gpu.AllocTensor(b.Alloc, n, c, h, w)
}

var errForeign = errors.New("memory of another backend")

func floats(s gpu.Slice) ([]float32, error) {
	buf, ok := s.Buf.(*buffer)
	if !ok {
		if s.Buf == nil {
			return nil, errors.New("nil buffer")
		}
		return nil, errForeign
	}
	if s.Off < 0 || s.Len < 0 || s.Off+s.Len > len(buf.data) {
		return nil, fmt.Errorf("slice [%d:%d] outside buffer of %d", s.Off, s.Off+s.Len, len(buf.data))
	}
	return buf.data[s.Off : s.Off+s.Len : s.Off+s.Len], nil
}

func ints(s gpu.IntSlice) ([]int32, error) {
	buf, ok := s.Buf.(*intBuffer)
	if !ok {
		if s.Buf == nil {
			return nil, errors.New("nil int buffer")
		}
		return nil, errForeign
	}
	if s.Off < 0 || s.Len < 0 || s.Off+s.Len > len(buf.data) {
		return nil, fmt.Errorf("int slice [%d:%d] outside buffer of %d", s.Off, s.Off+s.Len, len(buf.data))
	}
	return buf.data[s.Off : s.Off+s.Len : s.Off+s.Len], nil
}

// view is a tensor resolved to host memory: element (n,c,h,w) is
// data[((n*H+h)*W+w)*ld + c].
type view struct {
	data       []float32
	n, c, h, w int
	ld         int // floats between consecutive pixels: the parent's channels
}

// pix is the number of pixels, N*H*W.
func (v view) pix() int { return v.n * v.h * v.w }

// from returns the data from pixel p on: row p-relative r is at r*ld.
func (v view) from(p int) []float32 { return v.data[p*v.ld:] }

// row returns the C channels of pixel p (p = (n*H+h)*W+w).
func (v view) row(p int) []float32 {
	o := p * v.ld
	return v.data[o : o+v.c : o+v.c]
}

func resolve(t gpu.Tensor) (view, error) {
	buf, ok := t.Buf.(*buffer)
	if !ok {
		if t.Buf == nil {
			return view{}, errors.New("nil tensor buffer")
		}
		return view{}, errForeign
	}
	if err := gpu.CheckTensor(t, len(buf.data)); err != nil {
		return view{}, err
	}
	start := t.Off + t.C0
	end := t.Off + t.N*t.H*t.W*t.ParentC
	return view{data: buf.data[start:end], n: t.N, c: t.C, h: t.H, w: t.W, ld: t.ParentC}, nil
}

// resolveAll resolves tensors and checks the error once.
func resolve2(a, b gpu.Tensor) (view, view, error) {
	va, err := resolve(a)
	if err != nil {
		return view{}, view{}, err
	}
	vb, err := resolve(b)
	return va, vb, err
}

// Upload copies src into dst.
func (b *Backend) Upload(dst gpu.Slice, src []float32) error {
	d, err := floats(dst)
	if err != nil {
		return fmt.Errorf("cpu upload: %w", err)
	}
	if len(src) != len(d) {
		return fmt.Errorf("cpu upload: %d values into a slice of %d", len(src), len(d))
	}
	copy(d, src)
	return nil
}

// Download copies src into dst.
func (b *Backend) Download(dst []float32, src gpu.Slice) error {
	s, err := floats(src)
	if err != nil {
		return fmt.Errorf("cpu download: %w", err)
	}
	if len(dst) != len(s) {
		return fmt.Errorf("cpu download: slice of %d into %d values", len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

// UploadInt copies src into dst.
func (b *Backend) UploadInt(dst gpu.IntSlice, src []int32) error {
	d, err := ints(dst)
	if err != nil {
		return fmt.Errorf("cpu upload int: %w", err)
	}
	if len(src) != len(d) {
		return fmt.Errorf("cpu upload int: %d values into a slice of %d", len(src), len(d))
	}
	copy(d, src)
	return nil
}

// DownloadInt copies src into dst.
func (b *Backend) DownloadInt(dst []int32, src gpu.IntSlice) error {
	s, err := ints(src)
	if err != nil {
		return fmt.Errorf("cpu download int: %w", err)
	}
	if len(dst) != len(s) {
		return fmt.Errorf("cpu download int: slice of %d into %d values", len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

// UploadTensor copies NCHW src into t.
func (b *Backend) UploadTensor(t gpu.Tensor, src []float32) error {
	v, err := resolve(t)
	if err != nil {
		return fmt.Errorf("cpu upload tensor: %w", err)
	}
	if len(src) != t.Elems() {
		return fmt.Errorf("cpu upload tensor %v: %d values, want %d", t, len(src), t.Elems())
	}
	hw := v.h * v.w
	for p := 0; p < v.pix(); p++ {
		n, s := p/hw, p%hw
		r := v.row(p)
		for c := range r {
			r[c] = src[(n*v.c+c)*hw+s]
		}
	}
	return nil
}

// DownloadTensor copies t into dst in NCHW order.
func (b *Backend) DownloadTensor(dst []float32, t gpu.Tensor) error {
	v, err := resolve(t)
	if err != nil {
		return fmt.Errorf("cpu download tensor: %w", err)
	}
	if len(dst) != t.Elems() {
		return fmt.Errorf("cpu download tensor %v: %d values, want %d", t, len(dst), t.Elems())
	}
	hw := v.h * v.w
	for p := 0; p < v.pix(); p++ {
		n, s := p/hw, p%hw
		r := v.row(p)
		for c, x := range r {
			dst[(n*v.c+c)*hw+s] = x
		}
	}
	return nil
}

// Zero sets s to 0.
func (b *Backend) Zero(s gpu.Slice) error {
	d, err := floats(s)
	if err != nil {
		return fmt.Errorf("cpu zero: %w", err)
	}
	b.zeroT.d = d
	b.pool.run(&b.zeroT, len(d))
	return nil
}

type zeroTask struct{ d []float32 }

// SetSeed stores seed in dst's two elements, low half first.
func (b *Backend) SetSeed(dst gpu.IntSlice, seed uint64) error {
	d, err := seedCell(dst)
	if err != nil {
		return fmt.Errorf("cpu set seed: %w", err)
	}
	w := gpu.SeedWords(seed)
	d[0], d[1] = w[0], w[1]
	return nil
}

// seedValue reads the seed that SetSeed stored in s.
func seedValue(s gpu.IntSlice) (uint64, error) {
	d, err := seedCell(s)
	if err != nil {
		return 0, err
	}
	return gpu.SeedFromWords(d[0], d[1]), nil
}

// seedCell is the seed's two elements in s.
func seedCell(s gpu.IntSlice) ([]int32, error) {
	d, err := ints(s)
	if err == nil && len(d) != 2 {
		err = fmt.Errorf("%d elements, want 2", len(d))
	}
	return d, err
}

func (z *zeroTask) run(_, lo, hi int) { clear(z.d[lo:hi]) }

// ZeroTensor sets t to 0.
func (b *Backend) ZeroTensor(t gpu.Tensor) error {
	v, err := resolve(t)
	if err != nil {
		return fmt.Errorf("cpu zero tensor: %w", err)
	}
	if v.ld == v.c {
		b.zeroT.d = v.data[:v.pix()*v.c]
		b.pool.run(&b.zeroT, v.pix()*v.c)
		return nil
	}
	for p := 0; p < v.pix(); p++ {
		clear(v.row(p))
	}
	return nil
}

// Copy sets dst = src.
func (b *Backend) Copy(dst, src gpu.Tensor) error {
	d, s, err := resolve2(dst, src)
	if err != nil {
		return fmt.Errorf("cpu copy: %w", err)
	}
	if !gpu.SameShape(dst, src) {
		return fmt.Errorf("cpu copy: dst %v, src %v: shapes differ", dst, src)
	}
	for p := 0; p < d.pix(); p++ {
		copy(d.row(p), s.row(p))
	}
	return nil
}
