//go:build !cgo

package gemm

import (
	"strings"
	"testing"
)

// Without cgo OpenBLAS cannot be loaded; the error must say why, and New
// must fall back to the pure-Go GEMM.
func TestOpenBLASWithoutCgo(t *testing.T) {
	if _, err := OpenBLAS(); err == nil || !strings.Contains(err.Error(), "without cgo") {
		t.Errorf("OpenBLAS() error = %v, want one that says the binary was built without cgo", err)
	}
	newImpl, why := New()
	if name := newImpl().Name(); !strings.Contains(why, "pure-Go") || strings.Contains(name, "openblas") {
		t.Errorf("New() = %q (%s), want the pure-Go GEMM", name, why)
	}
}
