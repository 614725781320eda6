//go:build cuda

package lib

/*
#include "shim.h"
*/
import "C"

import "fmt"

// Error is a failed call into the CUDA driver, cuBLAS or cuDNN. Its text is
// one line: "<function>: <status name and description> (<code>)", e.g.
// "cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY, out of memory (2)". When making
// the caller's context current failed first, Func is
// "cuCtxSetCurrent (before <function>)" and Code is that CUresult.
type Error struct {
	Lib    string // "driver", "cuBLAS" or "cuDNN": whose status Code is
	Func   string // the exported symbol that failed
	Status string // the library's own name and description of Code
	Code   int    // CUresult, cublasStatus_t or cudnnStatus_t
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (%d)", e.Func, e.Status, e.Code) }

// cuErr turns a driver call's outcome into an error (nil on success). It
// allocates only on failure.
func (l *Libs) cuErr(fn string, r C.repro_rc) error {
	if r.code == 0 {
		return nil
	}
	if r.ctxfail != 0 {
		return l.cuError("cuCtxSetCurrent (before "+fn+")", int(r.code))
	}
	return l.cuError(fn, int(r.code))
}

func (l *Libs) cuError(fn string, code int) error {
	var name, desc *C.char
	C.repro_cu_error(l.t, C.CUresult(code), &name, &desc)
	s := "unknown CUresult"
	if name != nil {
		s = C.GoString(name)
	}
	if desc != nil {
		s += ", " + C.GoString(desc)
	}
	return &Error{Lib: "driver", Func: fn, Status: s, Code: code}
}

// blasStatusNames is the fallback when cublasGetStatusName is absent
// (cublasStatus_t in [cublas_api.h 12.6]).
var blasStatusNames = map[int]string{
	CUBLAS_STATUS_SUCCESS:          "CUBLAS_STATUS_SUCCESS",
	CUBLAS_STATUS_NOT_INITIALIZED:  "CUBLAS_STATUS_NOT_INITIALIZED",
	CUBLAS_STATUS_ALLOC_FAILED:     "CUBLAS_STATUS_ALLOC_FAILED",
	CUBLAS_STATUS_INVALID_VALUE:    "CUBLAS_STATUS_INVALID_VALUE",
	CUBLAS_STATUS_ARCH_MISMATCH:    "CUBLAS_STATUS_ARCH_MISMATCH",
	CUBLAS_STATUS_MAPPING_ERROR:    "CUBLAS_STATUS_MAPPING_ERROR",
	CUBLAS_STATUS_EXECUTION_FAILED: "CUBLAS_STATUS_EXECUTION_FAILED",
	CUBLAS_STATUS_INTERNAL_ERROR:   "CUBLAS_STATUS_INTERNAL_ERROR",
	CUBLAS_STATUS_NOT_SUPPORTED:    "CUBLAS_STATUS_NOT_SUPPORTED",
	CUBLAS_STATUS_LICENSE_ERROR:    "CUBLAS_STATUS_LICENSE_ERROR",
}

// blasStatus is cuBLAS's name and description of a status: from
// cublasGetStatusName/cublasGetStatusString where the library has them, else
// from blasStatusNames.
func (l *Libs) blasStatus(code int) string {
	name := blasStatusNames[code]
	if p := C.repro_blas_status_name(l.t, C.cublasStatus_t(code)); p != nil {
		name = C.GoString(p)
	}
	if name == "" {
		name = "unknown cublasStatus_t"
	}
	if p := C.repro_blas_status_string(l.t, C.cublasStatus_t(code)); p != nil {
		if d := C.GoString(p); d != "" && d != name {
			name += ", " + d
		}
	}
	return name
}

func (l *Libs) blasErr(fn string, r C.repro_rc) error {
	if r.code == 0 {
		return nil
	}
	if r.ctxfail != 0 {
		return l.cuError("cuCtxSetCurrent (before "+fn+")", int(r.code))
	}
	return &Error{Lib: "cuBLAS", Func: fn, Status: l.blasStatus(int(r.code)), Code: int(r.code)}
}

func (l *Libs) dnnStatus(code int) string {
	if p := C.repro_dnn_error_string(l.t, C.cudnnStatus_t(code)); p != nil {
		return C.GoString(p)
	}
	return "unknown cudnnStatus_t"
}

func (l *Libs) dnnErr(fn string, r C.repro_rc) error {
	if r.code == 0 {
		return nil
	}
	if r.ctxfail != 0 {
		return l.cuError("cuCtxSetCurrent (before "+fn+")", int(r.code))
	}
	return &Error{Lib: "cuDNN", Func: fn, Status: l.dnnStatus(int(r.code)), Code: int(r.code)}
}
