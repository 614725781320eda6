// Package gemm is single-precision matrix multiplication for the CPU
// backend: OpenBLAS's cblas_sgemm loaded at run time when the library is
// present, else a blocked pure-Go implementation.
//
// Contract: Sgemm computes the row-major C = alpha*op(A)*op(B) + beta*C with
// op(X) = X or its transpose; when beta is 0, C is only written (NaN there
// does not propagate). One call runs on one thread: the caller parallelizes.
// An OpenBLAS Impl may be shared by goroutines; a pure-Go Impl owns packing
// scratch and must be used by one goroutine at a time, so New gives each
// worker its own.
package gemm

import "fmt"

// Impl is one GEMM implementation.
type Impl interface {
	Name() string
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// New returns a constructor of Impls, one per worker: OpenBLAS when it loads,
// else pure Go, and a one-line note saying which and why.
func New() (func() Impl, string) {
	ob, err := OpenBLAS()
	if err == nil {
		return func() Impl { return ob }, ob.Name()
	}
	return func() Impl { return PureGo() }, "pure-Go GEMM (" + err.Error() + ")"
}

// checkArgs panics when a matrix does not fit its slice: a programming error
// that must never reach C code.
func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols || len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("gemm: %s of %d x %d with leading dimension %d does not fit %d elements", name, rows, cols, ld, len(s)))
		}
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative size %d x %d x %d", m, n, k))
	}
	if transA {
		need("A", a, k, m, lda)
	} else {
		need("A", a, m, k, lda)
	}
	if transB {
		need("B", b, n, k, ldb)
	} else {
		need("B", b, k, n, ldb)
	}
	need("C", c, m, n, ldc)
}
