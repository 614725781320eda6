//go:build cgo

// OpenBLAS is loaded with cgo; a build without it has nocgo_test.go instead.

package gemm

import (
	"math"
	"os"
	"strings"
	"sync"
	"testing"
)

func TestOpenBLASNotFoundListsNames(t *testing.T) {
	t.Setenv("REPRO_OPENBLAS", "/nonexistent/libnothing.so")
	_, err := OpenBLAS()
	if err == nil {
		return // a system OpenBLAS was found after the bogus path: that is fine
	}
	if !strings.Contains(err.Error(), "/nonexistent/libnothing.so") || !strings.Contains(err.Error(), "libopenblas.so.0") {
		t.Errorf("error does not list the names tried: %v", err)
	}
}

// CI installs libopenblas0, so a missing library is a failure there.
func TestOpenBLAS(t *testing.T) {
	impl, err := OpenBLAS()
	if err != nil {
		if os.Getenv("REPRO_NO_OPENBLAS") == "1" {
			t.Skip("REPRO_NO_OPENBLAS=1:", err)
		}
		t.Fatalf("%v (CI installs libopenblas0; set REPRO_NO_OPENBLAS=1 where it is absent on purpose)", err)
	}
	check(t, impl)
	// concurrent calls on disjoint outputs, as the backend's workers make
	var wg sync.WaitGroup
	const m, n, k = 96, 32, 144
	a, b := rnd(4, m*k), rnd(5, k*n)
	want := make([]float32, m*n)
	PureGo().Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	outs := make([][]float32, 4)
	for w := range outs {
		outs[w] = make([]float32, m*n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				impl.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, outs[w], n)
			}
		}()
	}
	wg.Wait()
	for w, o := range outs {
		for i := range o {
			if d := math.Abs(float64(o[i] - want[i])); d > 1e-4 {
				t.Fatalf("goroutine %d: element %d differs by %g", w, i, d)
			}
		}
	}
}
