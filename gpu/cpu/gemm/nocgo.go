//go:build !cgo

package gemm

import "errors"

// OpenBLAS needs cgo to load the library; this binary was built without it.
func OpenBLAS() (Impl, error) {
	return nil, errors.New("OpenBLAS unavailable: this binary was built without cgo (CGO_ENABLED=0)")
}
