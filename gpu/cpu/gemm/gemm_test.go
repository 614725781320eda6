package gemm

import (
	"math"
	"testing"
)

func rnd(seed uint64, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		seed = seed*6364136223846793005 + 1442695040888963407
		out[i] = float32(int32(seed>>33))/float32(1<<31)*2 - 1
	}
	return out
}

// check compares impl against a float64 triple loop on many shapes, leading
// dimensions wider than the rows (whose gaps must stay untouched), every
// transpose combination, alpha and beta, and NaN in C with beta 0.
func check(t *testing.T, impl Impl) {
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {64, 16, 144}, {130, 33, 290}, {5, 300, 600}, {4, 4, 0}, {0, 3, 3}, {3, 0, 3}}
	for _, sh := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					m, n, k := sh[0], sh[1], sh[2]
					ar, ac := m, k
					if tA {
						ar, ac = k, m
					}
					br, bc := k, n
					if tB {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+3, bc+1, n+2
					a := rnd(1, max(1, ar*lda))
					b := rnd(2, max(1, br*ldb))
					c := rnd(3, max(1, m*ldc))
					if ab[1] == 0 {
						for i := range c {
							if i%ldc < n {
								c[i] = float32(math.NaN())
							}
						}
					}
					orig := append([]float32(nil), c...)
					impl.Sgemm(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					var maxErr, maxRef float64
					for i := 0; i < m; i++ {
						for j := 0; j < ldc; j++ {
							got := float64(c[i*ldc+j])
							if j >= n {
								if c[i*ldc+j] != orig[i*ldc+j] {
									t.Fatalf("%s %v tA=%v tB=%v: C gap (%d,%d) written", impl.Name(), sh, tA, tB, i, j)
								}
								continue
							}
							var s float64
							for p := 0; p < k; p++ {
								var av, bv float32
								if tA {
									av = a[p*lda+i]
								} else {
									av = a[i*lda+p]
								}
								if tB {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								s += float64(av) * float64(bv)
							}
							want := float64(ab[0]) * s
							if ab[1] != 0 {
								want += float64(ab[1]) * float64(orig[i*ldc+j])
							}
							maxErr = math.Max(maxErr, math.Abs(got-want))
							maxRef = math.Max(maxRef, math.Abs(want))
							if math.IsNaN(got) {
								t.Fatalf("%s %v tA=%v tB=%v alpha,beta=%v: NaN at (%d,%d)", impl.Name(), sh, tA, tB, ab, i, j)
							}
						}
					}
					if maxErr > 1e-5*math.Max(maxRef, 1) {
						t.Errorf("%s %v tA=%v tB=%v alpha,beta=%v: max error %g of %g", impl.Name(), sh, tA, tB, ab, maxErr, maxRef)
					}
				}
			}
		}
	}
}

func TestPureGo(t *testing.T) { check(t, PureGo()) }

func TestBadArgumentsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a too-short C did not panic")
		}
	}()
	PureGo().Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
}

func TestPureGoAllocatesNothing(t *testing.T) {
	g := PureGo()
	a, b, c := rnd(1, 300*300), rnd(2, 300*300), make([]float32, 300*300)
	if n := testing.AllocsPerRun(3, func() { g.Sgemm(true, false, 300, 300, 300, 1, a, 300, b, 300, 0, c, 300) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}

func benchShapes() []struct {
	name    string
	tA, tB  bool
	m, n, k int
} {
	return []struct {
		name    string
		tA, tB  bool
		m, n, k int
	}{
		{"fwd-1024x16x144", false, false, 1024, 16, 144},
		{"fwd-1024x32x288", false, false, 1024, 32, 288},
		{"fwd-1024x64x576", false, false, 1024, 64, 576},
		{"dW-144x16x1024", true, false, 144, 16, 1024},
		{"dCols-1024x144x16", false, true, 1024, 144, 16},
		{"square-512", false, false, 512, 512, 512},
	}
}

func benchImpl(b *testing.B, impl Impl) {
	for _, s := range benchShapes() {
		b.Run(s.name, func(b *testing.B) {
			ar, ac := s.m, s.k
			if s.tA {
				ar, ac = s.k, s.m
			}
			br, bc := s.k, s.n
			if s.tB {
				br, bc = s.n, s.k
			}
			a, bb, c := rnd(1, ar*ac), rnd(2, br*bc), make([]float32, s.m*s.n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				impl.Sgemm(s.tA, s.tB, s.m, s.n, s.k, 1, a, ac, bb, bc, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkPureGo(b *testing.B) { benchImpl(b, PureGo()) }

func BenchmarkOpenBLAS(b *testing.B) {
	impl, err := OpenBLAS()
	if err != nil {
		b.Skip(err)
	}
	benchImpl(b, impl)
}
