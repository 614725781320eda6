//go:build cgo

package gemm

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

// Our own declarations of the two OpenBLAS entry points we call (from
// OpenBLAS's cblas.h, 0.3.21 as Debian 12 ships it); no header is needed.
typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int);
typedef char *(*get_corename_fn)(void);

static void call_sgemm(void *f, int transA, int transB, int m, int n, int k,
		float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
	// CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 (cblas.h)
	((sgemm_fn)f)(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void call_set_threads(void *f, int n) { ((set_threads_fn)f)(n); }
static const char *call_corename(void *f) { return ((get_corename_fn)f)(); }
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"
)

type openBLAS struct {
	sgemm unsafe.Pointer
	name  string
}

// libNames and libDirs are where OpenBLAS is looked for, after $REPRO_OPENBLAS.
func libNames() []string {
	return []string{"libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.3.21.so", "libopenblaso.so.0"}
}

func libDirs() []string {
	return []string{"", "/usr/lib/x86_64-linux-gnu/openblas-pthread", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu/openblas-pthread", "/usr/lib64", "/usr/local/lib", "/opt/OpenBLAS/lib"}
}

// OpenBLAS opens OpenBLAS with dlopen, sets it to one thread and returns
// it; the error lists every file tried.
func OpenBLAS() (Impl, error) {
	var candidates []string
	if p := os.Getenv("REPRO_OPENBLAS"); p != "" {
		candidates = append(candidates, p)
	}
	for _, d := range libDirs() {
		for _, n := range libNames() {
			if d == "" {
				candidates = append(candidates, n) // the loader's own search path
			} else {
				candidates = append(candidates, filepath.Join(d, n))
			}
		}
	}
	var tried []string
	for _, path := range candidates {
		cpath := C.CString(path)
		h := C.dlopen(cpath, C.RTLD_NOW|C.RTLD_LOCAL)
		C.free(unsafe.Pointer(cpath))
		if h == nil {
			tried = append(tried, path)
			continue
		}
		sym := func(name string) unsafe.Pointer {
			cname := C.CString(name)
			defer C.free(unsafe.Pointer(cname))
			return C.dlsym(h, cname)
		}
		f := sym("cblas_sgemm")
		if f == nil {
			tried = append(tried, path+" (no cblas_sgemm)")
			C.dlclose(h)
			continue
		}
		// The caller parallelizes: OpenBLAS's own threads would compete
		// with it for the cores.
		if st := sym("openblas_set_num_threads"); st != nil {
			C.call_set_threads(st, 1)
		}
		core := ""
		if cn := sym("openblas_get_corename"); cn != nil {
			core = ", core " + C.GoString(C.call_corename(cn))
		}
		return &openBLAS{sgemm: f, name: fmt.Sprintf("openblas (%s%s, 1 thread per worker)", path, core)}, nil
	}
	return nil, fmt.Errorf("OpenBLAS not found (install libopenblas0, or set REPRO_OPENBLAS to the library); tried %s", strings.Join(tried, ", "))
}

func (o *openBLAS) Name() string { return o.name }

func (o *openBLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// C = beta*C without reading A or B
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.call_sgemm(o.sgemm, ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
