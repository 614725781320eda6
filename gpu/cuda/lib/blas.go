//go:build cuda

package lib

/*
#include "shim.h"
*/
import "C"

import "fmt"

// BLAS is a cuBLAS handle (cublasHandle_t) bound to a stream. Like cuBLAS,
// it is column-major: an m×n matrix A with leading dimension lda has element
// (i, j) at A[i + j*lda]. A row-major matrix is the column-major view of its
// transpose, so a row-major product C = A·B is computed as Cᵀ = Bᵀ·Aᵀ, i.e.
// Sgemm(false, false, n, m, k, 1, B, ldb, A, lda, 0, C, ldc) on the same
// buffers. A handle is not safe for concurrent use.
type BLAS struct {
	ctx *Context
	h   C.cublasHandle_t
}

// NewBLAS is cublasCreate_v2 followed by cublasSetStream_v2(s).
func (c *Context) NewBLAS(s Stream) (*BLAS, error) {
	var h C.cublasHandle_t
	if err := c.l.blasErr("cublasCreate_v2", C.repro_blas_create(c.l.t, c.c, &h)); err != nil {
		return nil, err
	}
	b := &BLAS{ctx: c, h: h}
	if err := b.SetStream(s); err != nil {
		b.Destroy()
		return nil, err
	}
	return b, nil
}

// SetStream is cublasSetStream_v2: later calls are issued to s.
func (b *BLAS) SetStream(s Stream) error {
	return b.ctx.l.blasErr("cublasSetStream_v2", C.repro_blas_set_stream(b.ctx.l.t, b.ctx.c, b.h, s.s))
}

// SetTF32 is cublasSetMathMode: CUBLAS_TF32_TENSOR_OP_MATH when on (FP32
// GEMMs may use TF32 tensor cores, Ampere and later), CUBLAS_DEFAULT_MATH
// when off (FP32 GEMMs keep FP32 precision).
func (b *BLAS) SetTF32(on bool) error {
	mode := CUBLAS_DEFAULT_MATH
	if on {
		mode = CUBLAS_TF32_TENSOR_OP_MATH
	}
	return b.ctx.l.blasErr("cublasSetMathMode", C.repro_blas_set_math(b.ctx.l.t, b.ctx.c, b.h, C.cublasMath_t(mode)))
}

// Version is cublasGetVersion_v2 (e.g. 120405 for cuBLAS 12.4.5).
func (b *BLAS) Version() (int, error) {
	var v C.int
	if err := b.ctx.l.blasErr("cublasGetVersion_v2", C.repro_blas_version(b.ctx.l.t, b.ctx.c, b.h, &v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// Sgemm is cublasSgemm_v2, column-major: C = alpha·op(A)·op(B) + beta·C with
// op(A) m×k, op(B) k×n and C m×n; op(X) is Xᵀ when trans is true. alpha and
// beta are passed as host scalars (C locals of the shim). It allocates
// nothing.
func (b *BLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, A DevicePtr, lda int, B DevicePtr, ldb int,
	beta float32, Cm DevicePtr, ldc int) error {
	if !fitsInt(m, n, k, lda, ldb, ldc) {
		return fmt.Errorf("cublasSgemm_v2: a size or leading dimension does not fit a C int (m %d n %d k %d lda %d ldb %d ldc %d)",
			m, n, k, lda, ldb, ldc)
	}
	ta, tb := C.cublasOperation_t(CUBLAS_OP_N), C.cublasOperation_t(CUBLAS_OP_N)
	if transA {
		ta = CUBLAS_OP_T
	}
	if transB {
		tb = CUBLAS_OP_T
	}
	return b.ctx.l.blasErr("cublasSgemm_v2", C.repro_blas_sgemm(b.ctx.l.t, b.ctx.c, b.h, ta, tb,
		C.int(m), C.int(n), C.int(k), C.float(alpha), C.CUdeviceptr(A), C.int(lda), C.CUdeviceptr(B), C.int(ldb),
		C.float(beta), C.CUdeviceptr(Cm), C.int(ldc)))
}

// Destroy is cublasDestroy_v2.
func (b *BLAS) Destroy() error {
	if b.h == nil {
		return nil
	}
	err := b.ctx.l.blasErr("cublasDestroy_v2", C.repro_blas_destroy(b.ctx.l.t, b.ctx.c, b.h))
	b.h = nil
	return err
}
