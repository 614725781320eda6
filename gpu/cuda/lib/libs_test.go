//go:build cuda

package lib

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBLASWrappers(t *testing.T) {
	l, ctx, s := fakeContext(t)
	b, err := ctx.NewBLAS(s)
	must(t, err)
	expectCall(t, l, "cublasSetStream_v2 h=0xb000 s=0x5001")
	must(t, b.SetTF32(true))
	expectCall(t, l, "cublasSetMathMode mode=3")
	must(t, b.SetTF32(false))
	expectCall(t, l, "cublasSetMathMode mode=0")
	if v, err := b.Version(); v != 120405 || err != nil {
		t.Errorf("Version = %d, %v", v, err)
	}
	must(t, b.Sgemm(true, false, 2, 3, 4, 1.5, 0x100, 5, 0x200, 6, 0.5, 0x300, 7))
	expectCall(t, l, "cublasSgemm_v2 h=0xb000 ta=1 tb=0 m=2 n=3 k=4 alpha=1.5 A=0x100 lda=5 B=0x200 ldb=6 "+
		"beta=0.5 C=0x300 ldc=7 ctx=0xc064")
	must(t, b.Sgemm(false, true, 1, 1, 1, 1, 0x1, 1, 0x2, 1, 0, 0x3, 1))
	expectCall(t, l, "cublasSgemm_v2 h=0xb000 ta=0 tb=1 m=1 n=1 k=1 alpha=1 A=0x1 lda=1 B=0x2 ldb=1 "+
		"beta=0 C=0x3 ldc=1 ctx=0xc064")

	err = b.Sgemm(false, false, -1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1)
	want := "cublasSgemm_v2: FAKE_CUBLAS_STATUS_INVALID_VALUE, an invalid value was used as an argument (7)"
	if msg := checkOneLine(t, err); msg != want {
		t.Errorf("Sgemm(m -1): %s", msg)
	}
	if err := b.Sgemm(false, false, 1<<40, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1); err == nil {
		t.Error("Sgemm with m = 2^40 succeeded")
	}
	must(t, b.Destroy())
	expectCall(t, l, "cublasDestroy_v2 h=0xb000")
	must(t, b.Destroy()) // twice is harmless
}

// A cuBLAS without cublasGetStatusName/String/GetProperty (older than
// 11.4.2) still gets status names, from the table of cublas_api.h.
func TestBLASStatusFallback(t *testing.T) {
	fakeLibs(t) // the fake cuBLAS logs through the fake driver
	dir := t.TempDir()
	if err := gcc(filepath.Join(dir, "libcublasLt.so.12"), "-DFAKE_BLASLT", "-Wl,-soname,libcublasLt.so.12"); err != nil {
		t.Fatal(err)
	}
	if err := gcc(filepath.Join(dir, "libcublas.so.12"), "-DFAKE_BLAS", "-DNO_STATUS_STRING", "-L"+dir,
		"-l:libcublasLt.so.12"); err != nil {
		t.Fatal(err)
	}
	l, err := load([]string{dir}, [3]bool{false, true, false})
	must(t, err)
	if got := l.blasStatus(CUBLAS_STATUS_INVALID_VALUE); got != "CUBLAS_STATUS_INVALID_VALUE" {
		t.Errorf("status 7 reads %q", got)
	}
	if got := l.blasStatus(1234); got != "unknown cublasStatus_t" {
		t.Errorf("status 1234 reads %q", got)
	}
	if got := l.blasVersionString(); got != "12.x" {
		t.Errorf("version %q", got)
	}
}

func TestDNNWrappers(t *testing.T) {
	l, ctx, s := fakeContext(t)
	d, err := ctx.NewDNN(s)
	must(t, err)
	expectCall(t, l, "cudnnSetStream h=0xd000 s=0x5001 ctx=0xc064")
	if v := d.Version(); v != 90100 {
		t.Errorf("Version = %d", v)
	}
	if got := d.StatusString(3000); got != "CUDNN_STATUS_NOT_SUPPORTED" {
		t.Errorf("StatusString(3000) = %q", got)
	}
	p := func(desc any) string { return fmt.Sprintf("%p", desc) }

	x, err := d.NewTensorDesc(2, 3, 4, 5, 120, 20, 5, 1)
	must(t, err)
	expectCall(t, l, "cudnnSetTensor4dDescriptorEx "+p(x.d)+" dt=0 n=2 c=3 h=4 w=5 strides=120,20,5,1")
	y, err := d.NewTensorDesc(2, 8, 4, 5, 160, 20, 5, 1)
	must(t, err)
	bn, err := d.NewTensorDesc(1, 8, 1, 1, 8, 1, 1, 1)
	must(t, err)
	must(t, d.DeriveBN(bn, y))
	expectCall(t, l, "cudnnDeriveBNTensorDescriptor dst="+p(bn.d)+" x="+p(y.d)+" mode=1")
	_, err = d.NewTensorDesc(0, 3, 4, 5, 60, 20, 5, 1)
	if msg := checkOneLine(t, err); msg != "cudnnSetTensor4dDescriptorEx: CUDNN_STATUS_BAD_PARAM (2000)" {
		t.Errorf("NewTensorDesc(n 0): %s", msg)
	}
	if got := lastCall(t, l); !strings.HasPrefix(got, "cudnnDestroyTensorDescriptor ") {
		t.Errorf("a descriptor that could not be set was not destroyed (last call %s)", got)
	}
	w, err := d.NewFilterDesc(8, 3, 3, 3)
	must(t, err)
	expectCall(t, l, "cudnnSetFilter4dDescriptor "+p(w.d)+" dt=0 format=0 k=8 c=3 h=3 w=3")
	conv, err := d.NewConvDesc(1, 2)
	must(t, err)
	expectCall(t, l, "cudnnSetConvolution2dDescriptor "+p(conv.d)+" pad=1,1 stride=2,2 dilation=1,1 mode=1 compute=0")
	must(t, conv.Set(0, 1, 2, 3, 4, 5))
	expectCall(t, l, "cudnnSetConvolution2dDescriptor "+p(conv.d)+" pad=0,1 stride=2,3 dilation=4,5 mode=1 compute=0")
	must(t, conv.SetMath(true))
	expectCall(t, l, "cudnnSetConvolutionMathType "+p(conv.d)+" m=0")
	must(t, conv.SetMath(false))
	expectCall(t, l, "cudnnSetConvolutionMathType "+p(conv.d)+" m=3")
	must(t, conv.SetMathType(CUDNN_TENSOR_OP_MATH))
	expectCall(t, l, "cudnnSetConvolutionMathType "+p(conv.d)+" m=1")

	// The fake returns two results: a usable one and one that failed.
	wantPerf := []AlgoPerf{
		{Algo: 1, Status: 0, Time: 0.25, Memory: 4096, Deterministic: true, MathType: 3},
		{Algo: 6, Status: 3000, Time: -1, Memory: 1 << 33, Deterministic: false, MathType: 0},
	}
	perf, err := d.FindForward(x, 0x100, w, 0x200, conv, y, 0x300, 0x400, 1<<20)
	must(t, err)
	if !reflect.DeepEqual(perf, wantPerf) {
		t.Errorf("FindForward = %+v", perf)
	}
	expectCall(t, l, fmt.Sprintf("fwd h=0xd000 x=%s:0x100 w=%s:0x200 conv=%s y=%s:0x300 req=%d ws=0x400:1048576",
		p(x.d), p(w.d), p(conv.d), p(y.d), maxPerf))
	perf, err = d.FindBackwardData(w, 0x200, y, 0x300, conv, x, 0x100, 0x400, 1<<20)
	must(t, err)
	if !reflect.DeepEqual(perf, wantPerf) {
		t.Errorf("FindBackwardData = %+v", perf)
	}
	expectCall(t, l, fmt.Sprintf("bwd_data h=0xd000 w=%s:0x200 dy=%s:0x300 conv=%s dx=%s:0x100 req=%d ws=0x400:1048576",
		p(w.d), p(y.d), p(conv.d), p(x.d), maxPerf))
	perf, err = d.FindBackwardFilter(x, 0x100, y, 0x300, conv, w, 0x200, 0x400, 1<<20)
	must(t, err)
	if !reflect.DeepEqual(perf, wantPerf) {
		t.Errorf("FindBackwardFilter = %+v", perf)
	}
	expectCall(t, l, fmt.Sprintf("bwd_filter h=0xd000 x=%s:0x100 dy=%s:0x300 conv=%s dw=%s:0x200 req=%d ws=0x400:1048576",
		p(x.d), p(y.d), p(conv.d), p(w.d), maxPerf))

	if n, err := d.ForwardWorkspace(x, w, conv, y, 1); n != 1001 || err != nil {
		t.Errorf("ForwardWorkspace = %d, %v", n, err)
	}
	expectCall(t, l, fmt.Sprintf("ws_fwd x=%s w=%s conv=%s y=%s algo=1", p(x.d), p(w.d), p(conv.d), p(y.d)))
	if n, err := d.BackwardDataWorkspace(w, y, conv, x, 2); n != 2002 || err != nil {
		t.Errorf("BackwardDataWorkspace = %d, %v", n, err)
	}
	expectCall(t, l, fmt.Sprintf("ws_bwd_data w=%s dy=%s conv=%s dx=%s algo=2", p(w.d), p(y.d), p(conv.d), p(x.d)))
	if n, err := d.BackwardFilterWorkspace(x, y, conv, w, 3); n != 3003 || err != nil {
		t.Errorf("BackwardFilterWorkspace = %d, %v", n, err)
	}
	expectCall(t, l, fmt.Sprintf("ws_bwd_filter x=%s dy=%s conv=%s dw=%s algo=3", p(x.d), p(y.d), p(conv.d), p(w.d)))

	must(t, d.ConvForward(0.5, x, 0x100, w, 0x200, conv, 1, 0x400, 4096, 0.25, y, 0x300))
	expectCall(t, l, fmt.Sprintf("conv_fwd alpha=0.5 x=%s:0x100 w=%s:0x200 conv=%s algo=1 ws=0x400:4096 beta=0.25 y=%s:0x300",
		p(x.d), p(w.d), p(conv.d), p(y.d)))
	must(t, d.ConvBackwardData(2, w, 0x200, y, 0x300, conv, 5, 0x400, 8, 1, x, 0x100))
	expectCall(t, l, fmt.Sprintf("conv_bwd_data alpha=2 w=%s:0x200 dy=%s:0x300 conv=%s algo=5 ws=0x400:8 beta=1 dx=%s:0x100",
		p(w.d), p(y.d), p(conv.d), p(x.d)))
	must(t, d.ConvBackwardFilter(3, x, 0x100, y, 0x300, conv, 6, 0x400, 16, 1, w, 0x200))
	expectCall(t, l, fmt.Sprintf("conv_bwd_filter alpha=3 x=%s:0x100 dy=%s:0x300 conv=%s algo=6 ws=0x400:16 beta=1 dw=%s:0x200",
		p(x.d), p(y.d), p(conv.d), p(w.d)))

	must(t, d.BNForwardTraining(1, 0.5, y, 0x100, y, 0x200, bn, 0x300, 0x400, 0.1, 0x500, 0x600, 1e-5, 0x700, 0x800))
	expectCall(t, l, fmt.Sprintf("bn_train mode=1 alpha=1 beta=0.5 x=%s:0x100 y=%s:0x200 bn=%s scale=0x300 bias=0x400 "+
		"factor=0.1 rmean=0x500 rvar=0x600 eps=1e-05 smean=0x700 sinv=0x800", p(y.d), p(y.d), p(bn.d)))
	must(t, d.BNForwardTraining(1, 0, y, 0x100, y, 0x200, bn, 0x300, 0x400, 1, 0x500, 0x600, 1e-3, 0, 0))
	expectCall(t, l, fmt.Sprintf("bn_train mode=1 alpha=1 beta=0 x=%s:0x100 y=%s:0x200 bn=%s scale=0x300 bias=0x400 "+
		"factor=1 rmean=0x500 rvar=0x600 eps=0.001 smean=(nil) sinv=(nil)", p(y.d), p(y.d), p(bn.d)))
	must(t, d.BNForwardInference(1, 0, y, 0x100, y, 0x200, bn, 0x300, 0x400, 0x500, 0x600, 1e-5))
	expectCall(t, l, fmt.Sprintf("bn_infer mode=1 alpha=1 beta=0 x=%s:0x100 y=%s:0x200 bn=%s scale=0x300 bias=0x400 "+
		"mean=0x500 var=0x600 eps=1e-05", p(y.d), p(y.d), p(bn.d)))
	must(t, d.BNBackward(1, 0.5, 0.25, 1, y, 0x100, y, 0x200, y, 0x300, bn, 0x400, 0x500, 0x600, 1e-5, 0x700, 0x800))
	expectCall(t, l, fmt.Sprintf("bn_bwd mode=1 ad=1 bd=0.5 ap=0.25 bp=1 x=%s:0x100 dy=%s:0x200 dx=%s:0x300 bn=%s "+
		"scale=0x400 dscale=0x500 dbias=0x600 eps=1e-05 smean=0x700 sinv=0x800", p(y.d), p(y.d), p(y.d), p(bn.d)))

	must(t, conv.Destroy())
	expectCall(t, l, "cudnnDestroyConvolutionDescriptor "+p(conv.d))
	must(t, w.Destroy())
	expectCall(t, l, "cudnnDestroyFilterDescriptor "+p(w.d))
	must(t, x.Destroy())
	must(t, (TensorDesc{}).Destroy()) // the zero descriptor is nothing to destroy
	must(t, d.Destroy())
	expectCall(t, l, "cudnnDestroy h=0xd000")
}

// The C struct that receives cuDNN's perf results has the layout of
// cudnnConvolutionFwdAlgoPerf_t (cudnn_cnn.h 9.6.0, cudnn_cnn_infer.h 8.2.1):
// int algo; int status; float time; size_t memory; int determinism; int
// mathType; int reserved[3]; on LP64 that is offsets 0, 4, 8, 16, 24, 28, 32
// and a size of 48. Checked as cgo sees it and as the C compiler does.
func TestPerfStructLayout(t *testing.T) {
	want := [8]uintptr{48, 0, 4, 8, 16, 24, 28, 32}
	if got := perfLayout(); got != want {
		t.Errorf("Go's view of the perf struct: %v, want %v", got, want)
	}
	if got := perfLayoutC(); got != want {
		t.Errorf("C's view of the perf struct: %v, want %v", got, want)
	}
}

func TestSymbolTable(t *testing.T) {
	seen := map[string]bool{}
	optional := map[string]bool{"cublasGetStatusName": true, "cublasGetStatusString": true, "cublasGetProperty": true,
		// the backend API (cuDNN >= 8.0) and cuDNN 9's last-error message
		"cudnnBackendCreateDescriptor": true, "cudnnBackendDestroyDescriptor": true, "cudnnBackendFinalize": true,
		"cudnnBackendSetAttribute": true, "cudnnBackendGetAttribute": true, "cudnnBackendExecute": true,
		"cudnnGetLastErrorString": true,
		// CUDA 13's driver API has only cuEventElapsedTime_v2, older drivers only the first
		"cuEventElapsedTime": true, "cuEventElapsedTime_v2": true}
	for id, n := range []int{38, 9, 35} {
		names, opt := symbolNames(id)
		if len(names) != n {
			t.Errorf("library %d: %d symbols, want %d", id, len(names), n)
		}
		for i, s := range names {
			if seen[s] {
				t.Errorf("symbol %s listed twice", s)
			}
			seen[s] = true
			if opt[i] != optional[s] {
				t.Errorf("symbol %s optional = %v", s, opt[i])
			}
		}
	}
	// Every symbol the fake libraries export must be one Load resolves: the
	// fakes and the table are kept in step.
	src, err := os.ReadFile("testdata/fake.c")
	must(t, err)
	for s := range seen {
		if !strings.Contains(string(src), s+"(") {
			t.Errorf("testdata/fake.c does not define %s", s)
		}
	}
}
