package vec

import (
	"math"
	"math/rand/v2"
	"strings"
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
		for _, mode := range []string{"plain", "relu", "shortcut", "shortcut in place"} {
			relu, shortcut := mode != "plain", strings.HasPrefix(mode, "shortcut")
			n := length(s.rows, s.ld, s.c)
			x, k1, k0 := random(rng, n), random(rng, s.c), random(rng, s.c)
			k1[0], k0[0] = 1, 0 // x[0] passes through: NaN stays NaN, -0 becomes +0 (as ReLU) only with relu
			x[0] = float32(math.NaN())
			if s.ld > 1 && s.rows > 1 {
				x[s.ld] = float32(math.Copysign(0, -1))
			}
			got, want := make([]float32, n), make([]float32, n)
			var sc []float32 // the shortcut, given in got itself when in place
			if shortcut {
				sc = random(rng, n)
				sc[s.ld%n] = 0                   // (-0 + 0 is +0 anyway)
				if mode == "shortcut in place" { // (want too, for the gaps between rows)
					copy(got, sc)
					copy(want, sc)
				}
			}
			in := sc
			if mode == "shortcut in place" {
				in = got
			}
			Affine(got, s.ld, x, s.ld, in, s.ld, k1, k0, s.rows, s.c, relu)
			if !math.IsNaN(float64(got[0])) {
				t.Errorf("affine %s of NaN = %v, want NaN", mode, got[0])
			}
			if s.ld > 1 && s.rows > 1 && relu && math.Float32bits(got[s.ld]) != 0 {
				t.Errorf("affine %s of -0 has bits %08x, want +0", mode, math.Float32bits(got[s.ld]))
			}
			refAffine(want, s.ld, x, s.ld, sc, s.ld, k1, k0, s.rows, s.c, relu)
			same(t, "affine "+mode, s.rows, s.c, s.ld, got, want, 8)
			// against the math in float64
			for r := 0; r < s.rows; r++ {
				for j := 0; j < s.c; j++ {
					if r == 0 && j == 0 {
						continue // the NaN above
					}
					w := float64(x[r*s.ld+j])*float64(k1[j]) + float64(k0[j])
					if shortcut {
						w += float64(sc[r*s.ld+j])
					}
					if relu {
						w = max(w, 0)
					}
					if math.Abs(float64(got[r*s.ld+j])-w) > 1e-5*(1+math.Abs(w)) {
						t.Fatalf("affine %s %+v [%d][%d] = %v, want %v", mode, s, r, j, got[r*s.ld+j], w)
					}
				}
			}
		}
	}
}

// reluCoeffsFor are coefficients of a fused ReLU's forward, m1 in [0.5, 1.5)
// and m0 in [-1, 1), so that about half of x*m1 + m0 is > 0 for x in
// [-1, 1).
func reluCoeffsFor(rng *rand.Rand, c int) (m1, m0 []float32) {
	m1, m0 = random(rng, c), random(rng, c)
	for j := range m1 {
		m1[j] = 1 + m1[j]/2
	}
	return m1, m0
}

// maskDy is dy where x*m1 + m0 > 0 (bnPre), else 0, so that the unmasked
// loops give the masked answer.
func maskDy(dy, x, m1, m0 []float32, ld, c int) []float32 {
	g := append([]float32(nil), dy...)
	for i := range g {
		if j := i % ld; j < c && !(bnPre(x[i], m1[j], m0[j]) > 0) {
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
			AffineGrad(got, s.ld, dy, s.ld, x, s.ld, k1, k2, k0, nil, nil, s.rows, s.c, acc)
			refAffineGrad(want, s.ld, dy, s.ld, x, s.ld, k1, k2, k0, nil, nil, s.rows, s.c, acc)
			same(t, "affine grad", s.rows, s.c, s.ld, got, want, 16)

			// masked by a fused ReLU: as the unmasked loop on masked dy (x
			// away from NaN, where the two would differ)
			xm := append([]float32(nil), x...)
			m1, m0 := reluCoeffsFor(rng, s.c)
			got = random(rng, n)
			want = append([]float32(nil), got...)
			AffineGrad(got, s.ld, dy, s.ld, xm, s.ld, k1, k2, k0, m1, m0, s.rows, s.c, acc)
			refAffineGrad(want, s.ld, maskDy(dy, xm, m1, m0, s.ld, s.c), s.ld, xm, s.ld, k1, k2, k0, nil, nil, s.rows, s.c, acc)
			same(t, "affine grad masked", s.rows, s.c, s.ld, got, want, 16)
		}
	}
}

// TestReLUMaskMatchesAffine checks that the masked backward loops pass dy
// exactly where Affine's fused-ReLU output is > 0, at the kink: x sits at
// -m0/m1 rounded (or a float32 step or two away), so x*m1 + m0 is a
// rounding residue whose sign depends on whether the multiply and add are
// fused. The loops must agree with Affine
// on every one, whatever the build does, and NaN is masked out.
func TestReLUMaskMatchesAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range shapes {
		n := length(s.rows, s.ld, s.c)
		x := random(rng, n)
		m1, m0 := random(rng, s.c), random(rng, s.c)
		for i := range x {
			if j := i % s.ld; j < s.c {
				m1[j] = 0.5 + float32(j%5)/7
				// the kink, or one or two float32 steps to either side
				x[i] = -m0[j] / m1[j]
				steps, toward := i%5-2, float32(math.Inf(1))
				if steps < 0 {
					steps, toward = -steps, -toward
				}
				for ; steps > 0; steps-- {
					x[i] = math.Nextafter32(x[i], toward)
				}
			}
		}
		x[0] = float32(math.NaN())
		y := make([]float32, n)
		Affine(y, s.ld, x, s.ld, nil, 0, m1, m0, s.rows, s.c, true)
		ones, zeros := make([]float32, n), make([]float32, s.c)
		for i := range ones {
			ones[i] = 1
		}
		// dx = g*1 + x*0 + 0 is the mask itself, and sum g counts it
		dx := make([]float32, n)
		AffineGrad(dx, s.ld, ones, s.ld, x, s.ld, ones[:s.c], zeros, zeros, m1, m0, s.rows, s.c, false)
		s1, s2 := make([]float64, s.c), make([]float64, s.c)
		GradSums(s1, s2, ones, s.ld, x, s.ld, m1, m0, s.rows, s.c)
		count, on := make([]float64, s.c), 0
		for r := 0; r < s.rows; r++ {
			for j := 0; j < s.c; j++ {
				i := r*s.ld + j
				want := float32(0)
				if y[i] > 0 {
					want = 1
					count[j]++
					on++
				}
				if i > 0 && dx[i] != want { // (dx[0] is NaN: x*0; s1 checks its mask)
					t.Fatalf("%+v [%d][%d]: x %v, affine output %v, backward mask %v", s, r, j, x[i], y[i], dx[i])
				}
			}
		}
		for j := range count {
			if s1[j] != count[j] {
				t.Fatalf("%+v channel %d: grad sums pass %v values, affine's output is > 0 at %v", s, j, s1[j], count[j])
			}
		}
		if total := s.rows * s.c; s.rows > 2 && (on == 0 || on == total) {
			t.Fatalf("%+v: %d of %d outputs > 0: the kink is not straddled", s, on, total)
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
		GradSums(g1, g2, dy, s.ld, x, s.ld, nil, nil, s.rows, s.c)
		refSumsDot(w1, w2, dy, s.ld, x, s.ld, nil, nil, s.rows, s.c)
		sameSums(t, "grad sums", s.c, g1, g2, w1, w2)
		m1, m0 := reluCoeffsFor(rng, s.c)
		GradSums(g1, g2, dy, s.ld, x, s.ld, m1, m0, s.rows, s.c)
		refSumsDot(w1, w2, maskDy(dy, x, m1, m0, s.ld, s.c), s.ld, x, s.ld, nil, nil, s.rows, s.c)
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
	Affine(y[c:], ld, x, ld, nil, 0, k, k, rows-1, c, true)
	Affine(y[c:], ld, x, ld, nil, 0, k, k, rows-1, c, false)
	Affine(y[c:], ld, x, ld, x[1:], ld, k, k, rows-1, c, true)
	AffineGrad(y[2*c:], ld, x, ld, x, ld, k, k, k, k, k, rows-1, 3, true)
	AffineGrad(y[2*c:], ld, x, ld, x, ld, k, k, k, nil, nil, rows-1, 3, true)
	for i, v := range y {
		if i%ld >= 2*c+3 && v != 42 {
			t.Fatalf("y[%d] (column %d) = %v: written outside the views", i, i%ld, v)
		}
	}
}

func TestBadSizesPanic(t *testing.T) {
	v, k := make([]float32, 12), make([]float32, 4)
	for _, c := range []struct {
		name string
		call func()
	}{
		{"ReLU on a short slice", func() { ReLU(make([]float32, 10), 4, v, 4, 3, 4) }},
		{"GradSums with m1 but no m0", func() { GradSums(make([]float64, 4), make([]float64, 4), v, 4, v, 4, k, nil, 3, 4) }},
		{"AffineGrad with a short m0", func() { AffineGrad(v, 4, v, 4, v, 4, k, k, k, k, k[:3], 3, 4, false) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", c.name)
				}
			}()
			c.call()
		}()
	}
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
