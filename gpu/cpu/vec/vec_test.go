package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// shapes covers whole tensors (ld == c), channel views (ld > c), channel
// counts that are and are not multiples of the vector widths, and one row.
var shapes = []struct{ rows, c, ld int }{
	{1, 1, 1}, {7, 3, 3}, {33, 16, 16}, {64, 12, 40}, {17, 37, 64}, {5, 64, 64}, {129, 8, 24},
}

func random(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// near reports whether a and b agree to a few float32 roundings of terms
// of size scale (the C loops may fuse multiply-adds).
func near(a, b, scale float32) bool {
	return math.Abs(float64(a-b)) <= 4e-7*float64(scale)
}

func length(rows, ld, c int) int { return (rows-1)*ld + c }

func TestReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		x := random(rng, length(s.rows, s.ld, s.c))
		x[0] = float32(math.NaN())
		if len(x) > 1 {
			x[1] = float32(math.Copysign(0, -1))
		}
		// the gaps between rows keep x's values, in place or not
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		ReLU(got, s.ld, x, s.ld, s.rows, s.c)
		refReLU(want, s.ld, x, s.ld, s.rows, s.c)
		same(t, "relu", s.rows, s.c, s.ld, got, want, 0)
		if !math.IsNaN(float64(got[0])) {
			t.Errorf("relu(NaN) = %v, want NaN", got[0])
		}
		if len(got) > 1 && math.Float32bits(got[1]) != 0 {
			t.Errorf("relu(-0) has bits %08x, want +0 (as Go's max and CUDA's fmaxf)", math.Float32bits(got[1]))
		}
		// in place
		ReLU(x, s.ld, x, s.ld, s.rows, s.c)
		same(t, "relu in place", s.rows, s.c, s.ld, x, want, 0)
	}
}

func TestReLUBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range shapes {
		n := length(s.rows, s.ld, s.c)
		dy, y := random(rng, n), random(rng, n)
		y[0] = float32(math.NaN())
		if n > 1 {
			y[1] = 0
		}
		// the gaps between rows keep dy's values, in place or not
		got, want := append([]float32(nil), dy...), append([]float32(nil), dy...)
		ReLUBackward(got, s.ld, dy, s.ld, y, s.ld, s.rows, s.c)
		refReLUBackward(want, s.ld, dy, s.ld, y, s.ld, s.rows, s.c)
		same(t, "relu backward", s.rows, s.c, s.ld, got, want, 0)
		if got[0] != 0 {
			t.Errorf("relu backward at y = NaN: %v, want 0", got[0])
		}
		// dx may be dy
		ReLUBackward(dy, s.ld, dy, s.ld, y, s.ld, s.rows, s.c)
		same(t, "relu backward in place", s.rows, s.c, s.ld, dy, want, 0)
	}
}

func TestAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range shapes {
		for _, relu := range []bool{false, true} {
			n := length(s.rows, s.ld, s.c)
			x, k1, k0 := random(rng, n), random(rng, s.c), random(rng, s.c)
			k1[0], k0[0] = 1, 0 // x[0] passes through: NaN stays NaN, -0 becomes +0 (as ReLU) only with relu
			x[0] = float32(math.NaN())
			if s.ld > 1 && s.rows > 1 {
				x[s.ld] = float32(math.Copysign(0, -1))
			}
			got, want := make([]float32, n), make([]float32, n)
			Affine(got, s.ld, x, s.ld, k1, k0, s.rows, s.c, relu)
			if !math.IsNaN(float64(got[0])) {
				t.Errorf("affine relu=%v of NaN = %v, want NaN", relu, got[0])
			}
			if s.ld > 1 && s.rows > 1 && relu && math.Float32bits(got[s.ld]) != 0 {
				t.Errorf("affine relu of -0 has bits %08x, want +0", math.Float32bits(got[s.ld]))
			}
			refAffine(want, s.ld, x, s.ld, k1, k0, s.rows, s.c, relu)
			same(t, "affine", s.rows, s.c, s.ld, got, want, 8)
			// against the math in float64
			for r := 0; r < s.rows; r++ {
				for j := 0; j < s.c; j++ {
					if r == 0 && j == 0 {
						continue // the NaN above
					}
					w := float64(x[r*s.ld+j])*float64(k1[j]) + float64(k0[j])
					if relu {
						w = max(w, 0)
					}
					if math.Abs(float64(got[r*s.ld+j])-w) > 1e-5*(1+math.Abs(w)) {
						t.Fatalf("affine relu=%v %+v [%d][%d] = %v, want %v", relu, s, r, j, got[r*s.ld+j], w)
					}
				}
			}
		}
	}
}

// reluMask is a fused ReLU's output: about half 0, the rest positive, one
// NaN (masked out, as ReLUBackward does).
func reluMask(rng *rand.Rand, n int) []float32 {
	m := random(rng, n)
	for i := range m {
		m[i] = max(m[i], 0)
	}
	m[n/2] = float32(math.NaN())
	return m
}

// maskDy is dy with the mask applied, so that the unmasked loops give the
// masked answer.
func maskDy(dy, mask []float32) []float32 {
	g := append([]float32(nil), dy...)
	for i := range g {
		if !(mask[i] > 0) {
			g[i] = 0
		}
	}
	return g
}

func TestAffineGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range shapes {
		for _, acc := range []bool{false, true} {
			n := length(s.rows, s.ld, s.c)
			dy, x := random(rng, n), random(rng, n)
			k1, k2, k0 := random(rng, s.c), random(rng, s.c), random(rng, s.c)
			got := random(rng, n)
			want := append([]float32(nil), got...)
			AffineGrad(got, s.ld, dy, s.ld, nil, 0, x, s.ld, k1, k2, k0, s.rows, s.c, acc)
			refAffineGrad(want, s.ld, dy, s.ld, nil, 0, x, s.ld, k1, k2, k0, s.rows, s.c, acc)
			same(t, "affine grad", s.rows, s.c, s.ld, got, want, 16)

			// with the mask of a fused ReLU: as the unmasked loop on masked dy
			mask := reluMask(rng, n)
			got = random(rng, n)
			want = append([]float32(nil), got...)
			AffineGrad(got, s.ld, dy, s.ld, mask, s.ld, x, s.ld, k1, k2, k0, s.rows, s.c, acc)
			refAffineGrad(want, s.ld, maskDy(dy, mask), s.ld, nil, 0, x, s.ld, k1, k2, k0, s.rows, s.c, acc)
			same(t, "affine grad masked", s.rows, s.c, s.ld, got, want, 16)
		}
	}
}

func TestSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range shapes {
		n := length(s.rows, s.ld, s.c)
		x, dy := random(rng, n), random(rng, n)
		g1, g2 := make([]float64, s.c), make([]float64, s.c)
		w1, w2 := make([]float64, s.c), make([]float64, s.c)
		for j := range g1 { // sums add to what is there
			g1[j], g2[j] = float64(j), -float64(j)
			w1[j], w2[j] = g1[j], g2[j]
		}
		Sums(g1, g2, x, s.ld, s.rows, s.c)
		refSumsSq(w1, w2, x, s.ld, s.rows, s.c)
		sameSums(t, "sums", s.c, g1, g2, w1, w2)
		GradSums(g1, g2, dy, s.ld, nil, 0, x, s.ld, s.rows, s.c)
		refSumsDot(w1, w2, dy, s.ld, nil, 0, x, s.ld, s.rows, s.c)
		sameSums(t, "grad sums", s.c, g1, g2, w1, w2)
		mask := reluMask(rng, n)
		GradSums(g1, g2, dy, s.ld, mask, s.ld, x, s.ld, s.rows, s.c)
		refSumsDot(w1, w2, maskDy(dy, mask), s.ld, nil, 0, x, s.ld, s.rows, s.c)
		sameSums(t, "grad sums masked", s.c, g1, g2, w1, w2)
	}
}

// TestRowsOutsideAreUntouched checks that channel views write their own
// columns only.
func TestRowsOutsideAreUntouched(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const rows, c, ld = 9, 5, 13
	x := random(rng, rows*ld)
	k := random(rng, c)
	y := make([]float32, rows*ld)
	for i := range y {
		y[i] = 42
	}
	ReLU(y, ld, x, ld, rows, c)
	Affine(y[c:], ld, x, ld, k, k, rows-1, c, true)
	Affine(y[c:], ld, x, ld, k, k, rows-1, c, false)
	AffineGrad(y[2*c:], ld, x, ld, x, ld, x, ld, k, k, k, rows-1, 3, true)
	AffineGrad(y[2*c:], ld, x, ld, nil, 0, x, ld, k, k, k, rows-1, 3, true)
	for i, v := range y {
		if i%ld >= 2*c+3 && v != 42 {
			t.Fatalf("y[%d] (column %d) = %v: written outside the views", i, i%ld, v)
		}
	}
}

func TestBadSizesPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("ReLU on a short slice did not panic")
		}
	}()
	ReLU(make([]float32, 10), 4, make([]float32, 12), 4, 3, 4)
}

func same(t *testing.T, op string, rows, c, ld int, got, want []float32, scale float32) {
	t.Helper()
	for r := 0; r < rows; r++ {
		for j := 0; j < c; j++ {
			i := r*ld + j
			g, w := got[i], want[i]
			if g == w || (math.IsNaN(float64(g)) && math.IsNaN(float64(w))) || (scale > 0 && near(g, w, scale)) {
				continue
			}
			t.Fatalf("%s (%d rows of %d, stride %d) [%d][%d] = %v, reference %v (%s)", op, rows, c, ld, r, j, g, w, Impl)
		}
	}
	for i := range got { // the gaps between rows are not written
		if i%ld >= c && got[i] != want[i] {
			t.Fatalf("%s wrote outside its rows at %d", op, i)
		}
	}
}

func sameSums(t *testing.T, op string, c int, g1, g2, w1, w2 []float64) {
	t.Helper()
	for j := 0; j < c; j++ {
		if math.Abs(g1[j]-w1[j]) > 1e-9*(1+math.Abs(w1[j])) || math.Abs(g2[j]-w2[j]) > 1e-9*(1+math.Abs(w2[j])) {
			t.Fatalf("%s channel %d: (%v, %v), reference (%v, %v) (%s)", op, j, g1[j], g2[j], w1[j], w2[j], Impl)
		}
	}
}

// im2colShapes and im2colWindows are what the im2col tests run: whole
// tensors and a channel view; padded and not, strides 1 and 2, odd sizes,
// padding wider than the kernel's reach, 1x1 kernels.
var (
	im2colShapes  = []struct{ c, ld, images int }{{3, 3, 2}, {16, 16, 1}, {12, 40, 3}}
	im2colWindows = []Window{
		{H: 5, W: 6, OH: 5, OW: 6, K: 3, Stride: 1, Pad: 1},
		{H: 8, W: 8, OH: 4, OW: 4, K: 3, Stride: 2, Pad: 1},
		{H: 7, W: 9, OH: 4, OW: 5, K: 3, Stride: 2, Pad: 1},
		{H: 4, W: 4, OH: 4, OW: 4, K: 3, Stride: 1, Pad: 1},
		{H: 7, W: 5, OH: 5, OW: 3, K: 3, Stride: 1, Pad: 0},
		{H: 3, W: 3, OH: 5, OW: 5, K: 3, Stride: 1, Pad: 2},
		{H: 6, W: 6, OH: 6, OW: 6, K: 1, Stride: 1, Pad: 0},
		{H: 7, W: 5, OH: 4, OW: 3, K: 1, Stride: 2, Pad: 0},
	}
)

// TestCol2im checks Col2im as the transpose of Im2col: <Im2col(x), g> =
// <x, Col2im(g)> for random x and g, in float64, and the C loops against
// the Go ones.
func TestCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range im2colShapes {
		for _, w := range im2colWindows {
			nx := length(s.images*w.H*w.W, s.ld, s.c)
			x := random(rng, nx)
			g := random(rng, s.images*w.OH*w.OW*w.K*w.K*s.c)
			cols := make([]float32, len(g))
			Im2col(cols, x, s.ld, s.c, s.images, w)
			got, want := random(rng, nx), make([]float32, nx)
			copy(want, got) // both add onto the same values (same checks the gaps)
			before := append([]float32(nil), got...)
			Col2im(got, s.ld, g, s.c, s.images, w)
			refCol2im(want, s.ld, g, s.c, s.images, w)
			same(t, "col2im", s.images*w.H*w.W, s.c, s.ld, got, want, 0)
			var lhs, rhs float64
			for i, v := range cols {
				lhs += float64(v) * float64(g[i])
			}
			for r := 0; r < s.images*w.H*w.W; r++ {
				for ch := 0; ch < s.c; ch++ {
					i := r*s.ld + ch
					rhs += float64(x[i]) * float64(got[i]-before[i])
				}
			}
			if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
				t.Fatalf("col2im c %d %+v: <im2col x, g> = %v, <x, col2im g> = %v", s.c, w, lhs, rhs)
			}
		}
	}
}

// Im2col and Col2im run inside training steps, which allocate nothing.
func TestColumnsAllocateNothing(t *testing.T) {
	s, w := im2colShapes[2], im2colWindows[1]
	x := make([]float32, length(s.images*w.H*w.W, s.ld, s.c))
	cols := make([]float32, s.images*w.OH*w.OW*w.K*w.K*s.c)
	if n := testing.AllocsPerRun(3, func() { Im2col(cols, x, s.ld, s.c, s.images, w) }); n != 0 {
		t.Errorf("im2col: %v allocations per call, want 0", n)
	}
	if n := testing.AllocsPerRun(3, func() { Col2im(x, s.ld, cols, s.c, s.images, w) }); n != 0 {
		t.Errorf("col2im: %v allocations per call, want 0", n)
	}
}

func TestIm2col(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range im2colShapes {
		for _, w := range im2colWindows {
			x := random(rng, length(s.images*w.H*w.W, s.ld, s.c))
			n := s.images * w.OH * w.OW * w.K * w.K * s.c
			got, want := random(rng, n), random(rng, n)
			Im2col(got, x, s.ld, s.c, s.images, w)
			refIm2col(want, x, s.ld, s.c, s.images, w)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("im2col c %d ld %d %+v: cols[%d] = %v, reference %v (%s)", s.c, s.ld, w, i, got[i], want[i], Impl)
				}
			}
			// the reference against the definition
			kk := w.K * w.K * s.c
			for r := 0; r < s.images*w.OH*w.OW; r++ {
				nn, i, j := r/(w.OH*w.OW), r/w.OW%w.OH, r%w.OW
				for col := 0; col < kk; col++ {
					p, q, ch := col/(w.K*s.c), col/s.c%w.K, col%s.c
					ih, iw := i*w.Stride+p-w.Pad, j*w.Stride+q-w.Pad
					var v float32
					if ih >= 0 && ih < w.H && iw >= 0 && iw < w.W {
						v = x[((nn*w.H+ih)*w.W+iw)*s.ld+ch]
					}
					if want[r*kk+col] != v {
						t.Fatalf("reference im2col %+v row %d column %d = %v, want %v", w, r, col, want[r*kk+col], v)
					}
				}
			}
		}
	}
}

func TestAddAndCopyAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range shapes {
		n := length(s.rows, s.ld, s.c)
		a, b := random(rng, n), random(rng, n)
		got := append([]float32(nil), a...)
		want := append([]float32(nil), a...)
		Add(got, s.ld, a, s.ld, b, s.ld, s.rows, s.c)
		refAdd(want, s.ld, a, s.ld, b, s.ld, s.rows, s.c)
		same(t, "add", s.rows, s.c, s.ld, got, want, 0)
		for r := 0; r < s.rows; r++ {
			if i := r * s.ld; got[i] != a[i]+b[i] {
				t.Fatalf("add row %d: %v, want %v", r, got[i], a[i]+b[i])
			}
		}
		Add(a, s.ld, a, s.ld, b, s.ld, s.rows, s.c) // in place
		same(t, "add in place", s.rows, s.c, s.ld, a, want, 0)
		for _, acc := range []bool{false, true} {
			got := random(rng, n)
			want := append([]float32(nil), got...)
			CopyAdd(got, s.ld, b, s.ld, s.rows, s.c, acc)
			refCopyAdd(want, s.ld, b, s.ld, s.rows, s.c, acc)
			same(t, "copy-add", s.rows, s.c, s.ld, got, want, 0)
		}
	}
}
