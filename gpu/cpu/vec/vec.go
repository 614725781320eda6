// Package vec is the CPU backend's per-pixel loops over NHWC pixel rows:
// batch norm, ReLU and their gradients, adds, im2col and its transpose, and
// the Winograd transforms of 3x3 convolutions (winograd.go).
//
// The elementwise functions take rows pixel rows of c channels; row r of a
// matrix m starts at m[r*ldm], so a DenseNet channel view (ld > c) is as
// valid as a whole tensor (ld == c); im2col and the Winograd transforms
// take images of such rows. Built with cgo (the default), they run as C loops
// that gcc vectorizes, each compiled for AVX-512, AVX2 and the baseline and
// picked at load time by the CPU; without cgo they run as the Go loops of
// ref.go, which are also the reference the tests hold the C loops to. Go's
// compiler does not vectorize, and these loops were 40% of a ResNet-20
// training step on two cores before they moved to C.
//
// Sums accumulate in float64. Results of the two builds may differ in the
// last bits (fused multiply-adds, summation order), never more.
//
// Contract: slices must hold their rows (a violation panics: it is a
// programming error that must not reach C); outputs may alias the inputs
// element for element (y == x) but must not overlap them otherwise.
package vec

import "fmt"

// fits panics unless m holds rows rows of c values, ld apart.
func fits(name string, m []float32, rows, c, ld int) {
	if rows < 0 || c < 0 || ld < c {
		panic(fmt.Sprintf("vec: %s: %d rows of %d with stride %d", name, rows, c, ld))
	}
	if rows > 0 && c > 0 && len(m) < (rows-1)*ld+c {
		panic(fmt.Sprintf("vec: %s: %d rows of %d with stride %d do not fit %d values", name, rows, c, ld, len(m)))
	}
}

func perChannel(name string, v []float32, c int) {
	if len(v) < c {
		panic(fmt.Sprintf("vec: %s: %d values for %d channels", name, len(v), c))
	}
}

func sums(s1, s2 []float64, c int) {
	if len(s1) < c || len(s2) < c {
		panic(fmt.Sprintf("vec: sums of %d and %d values for %d channels", len(s1), len(s2), c))
	}
}

// ReLU computes y = max(x, 0) (NaN stays NaN).
func ReLU(y []float32, ldy int, x []float32, ldx int, rows, c int) {
	fits("relu y", y, rows, c, ldy)
	fits("relu x", x, rows, c, ldx)
	if rows == 0 || c == 0 {
		return
	}
	relu(y, ldy, x, ldx, rows, c)
}

// ReLUBackward computes dx = dy where y > 0, else 0 (also where y is NaN).
func ReLUBackward(dx []float32, lddx int, dy []float32, lddy int, y []float32, ldy int, rows, c int) {
	fits("relu backward dx", dx, rows, c, lddx)
	fits("relu backward dy", dy, rows, c, lddy)
	fits("relu backward y", y, rows, c, ldy)
	if rows == 0 || c == 0 {
		return
	}
	reluBackward(dx, lddx, dy, lddy, y, ldy, rows, c)
}

// Affine computes y[r][j] = x[r][j]*k1[j] + k0[j], then max(y, 0) when relu
// is set: batch norm's forward once its statistics are folded into k1 and
// k0, with the fused ReLU. Given a shortcut s (rows lds apart; nil for
// none), it computes max(x[r][j]*k1[j] + k0[j] + s[r][j], 0) instead, the end
// of a residual block; s may be y.
func Affine(y []float32, ldy int, x []float32, ldx int, s []float32, lds int, k1, k0 []float32, rows, c int, relu bool) {
	fits("affine y", y, rows, c, ldy)
	fits("affine x", x, rows, c, ldx)
	if s != nil {
		fits("affine s", s, rows, c, lds)
	}
	perChannel("affine k1", k1, c)
	perChannel("affine k0", k0, c)
	if rows == 0 || c == 0 {
		return
	}
	affine(y, ldy, x, ldx, s, lds, k1, k0, rows, c, relu)
}

// AffineGrad computes dx[r][j] = g*k1[j] + x[r][j]*k2[j] + k0[j], or adds
// it to dx when accumulate is set, with g = dy[r][j], or, given the
// coefficients m1, m0 of a fused ReLU's forward (nil for none), dy[r][j]
// where x[r][j]*m1[j] + m0[j] > 0, computed exactly as Affine computes its
// output, and else 0: batch norm's input gradient once its sums are folded
// into k0, k1 and k2.
func AffineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0, m1, m0 []float32, rows, c int, accumulate bool) {
	fits("affine grad dx", dx, rows, c, lddx)
	fits("affine grad dy", dy, rows, c, lddy)
	fits("affine grad x", x, rows, c, ldx)
	perChannel("affine grad k1", k1, c)
	perChannel("affine grad k2", k2, c)
	perChannel("affine grad k0", k0, c)
	reluCoeffs("affine grad", m1, m0, c)
	if rows == 0 || c == 0 {
		return
	}
	affineGrad(dx, lddx, dy, lddy, x, ldx, k1, k2, k0, m1, m0, rows, c, accumulate)
}

// reluCoeffs checks a fused ReLU's coefficients: both nil, or both per channel.
func reluCoeffs(op string, m1, m0 []float32, c int) {
	if (m1 == nil) != (m0 == nil) {
		panic(fmt.Sprintf("vec: %s: ReLU coefficients m1 (nil %v) and m0 (nil %v) must be given together", op, m1 == nil, m0 == nil))
	}
	if m1 != nil && (len(m1) < c || len(m0) < c) { // (no name built before a failure: this runs per call)
		panic(fmt.Sprintf("vec: %s: ReLU coefficients m1, m0: %d and %d values for %d channels", op, len(m1), len(m0), c))
	}
}

// Sums adds, per channel j, the sum of x[r][j] to s1[j] and the sum of
// x[r][j]^2 to s2[j], in float64: batch norm's statistics.
func Sums(s1, s2 []float64, x []float32, ldx int, rows, c int) {
	fits("sums x", x, rows, c, ldx)
	sums(s1, s2, c)
	if rows == 0 || c == 0 {
		return
	}
	sumsSq(s1, s2, x, ldx, rows, c)
}

// GradSums adds, per channel j, the sum of g to s1[j] and the sum of
// g*x[r][j] to s2[j], in float64, with g = dy[r][j] masked as in AffineGrad
// (m1, m0 nil: none): batch norm's gradient statistics.
func GradSums(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, m1, m0 []float32, rows, c int) {
	fits("grad sums dy", dy, rows, c, lddy)
	fits("grad sums x", x, rows, c, ldx)
	reluCoeffs("grad sums", m1, m0, c)
	sums(s1, s2, c)
	if rows == 0 || c == 0 {
		return
	}
	sumsDot(s1, s2, dy, lddy, x, ldx, m1, m0, rows, c)
}

// Window is the geometry of a convolution's im2col: H x W input pixels,
// OH x OW output pixels, a K x K kernel moved by Stride, Pad zero pixels
// around the input.
type Window struct{ H, W, OH, OW, K, Stride, Pad int }

// Im2col writes, for each output pixel of the images in x (H*W pixel rows
// of c channels each, ldx apart), the K x K input pixels its kernel covers,
// c channels each, 0 outside the image: row r = (n*OH + i)*OW + j of cols,
// column (p*K + q)*c + ch, rows K*K*c apart.
func Im2col(cols []float32, x []float32, ldx, c, images int, w Window) {
	if columns("im2col x", "im2col cols", x, ldx, cols, c, images, w) {
		im2col(cols, x, ldx, c, images, w)
	}
}

// columns panics unless x and cols hold the images' pixels and columns
// under window w, and reports whether there is anything to do. The names
// come whole from the callers: building them here would allocate in every
// training step.
func columns(xName, colsName string, x []float32, ldx int, cols []float32, c, images int, w Window) bool {
	if w.H <= 0 || w.W <= 0 || w.OH <= 0 || w.OW <= 0 || w.K <= 0 || w.Stride <= 0 || w.Pad < 0 || images < 0 {
		panic(fmt.Sprintf("vec: %s of %d images, window %+v", colsName, images, w))
	}
	fits(xName, x, images*w.H*w.W, c, ldx)
	fits(colsName, cols, images*w.OH*w.OW, w.K*w.K*c, w.K*w.K*c)
	return images > 0 && c > 0
}

// Col2im adds each row of cols (laid out as Im2col writes them) back onto
// the input pixels it was taken from, skipping the taps that fall in the
// padding: x[n][ih][iw][ch] += cols[(n*OH + i)*OW + j][(p*K + q)*c + ch]
// for every (i, j, p, q) with ih = i*Stride + p - Pad, iw = j*Stride + q -
// Pad inside the image. It is the transpose of Im2col, which takes a
// convolution's input gradient from the gradient of its columns.
func Col2im(x []float32, ldx int, cols []float32, c, images int, w Window) {
	if columns("col2im x", "col2im cols", x, ldx, cols, c, images, w) {
		col2im(x, ldx, cols, c, images, w)
	}
}

// Add computes y = a + b; y may be a or b.
func Add(y []float32, ldy int, a []float32, lda int, b []float32, ldb int, rows, c int) {
	fits("add y", y, rows, c, ldy)
	fits("add a", a, rows, c, lda)
	fits("add b", b, rows, c, ldb)
	if rows == 0 || c == 0 {
		return
	}
	add(y, ldy, a, lda, b, ldb, rows, c)
}

// CopyAdd computes y = x, or y += x when accumulate is set.
func CopyAdd(y []float32, ldy int, x []float32, ldx int, rows, c int, accumulate bool) {
	fits("copy-add y", y, rows, c, ldy)
	fits("copy-add x", x, rows, c, ldx)
	if rows == 0 || c == 0 {
		return
	}
	copyAdd(y, ldy, x, ldx, rows, c, accumulate)
}
