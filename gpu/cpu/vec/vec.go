// Package vec is the CPU backend's per-pixel loops: batch norm, ReLU and
// their gradients over NHWC pixel rows.
//
// Every function takes rows pixel rows of c channels; row r of a matrix m
// starts at m[r*ldm], so a DenseNet channel view (ld > c) is as valid as a
// whole tensor (ld == c). Built with cgo (the default), they run as C loops
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

// Affine computes y[r][j] = x[r][j]*k1[j] + k0[j]: batch norm's forward
// once its statistics are folded into k1 and k0.
func Affine(y []float32, ldy int, x []float32, ldx int, k1, k0 []float32, rows, c int) {
	fits("affine y", y, rows, c, ldy)
	fits("affine x", x, rows, c, ldx)
	perChannel("affine k1", k1, c)
	perChannel("affine k0", k0, c)
	if rows == 0 || c == 0 {
		return
	}
	affine(y, ldy, x, ldx, k1, k0, rows, c)
}

// AffineGrad computes dx[r][j] = dy[r][j]*k1[j] + x[r][j]*k2[j] + k0[j], or
// adds it to dx when accumulate is set: batch norm's input gradient once its
// sums are folded into k0, k1 and k2.
func AffineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0 []float32, rows, c int, accumulate bool) {
	fits("affine grad dx", dx, rows, c, lddx)
	fits("affine grad dy", dy, rows, c, lddy)
	fits("affine grad x", x, rows, c, ldx)
	perChannel("affine grad k1", k1, c)
	perChannel("affine grad k2", k2, c)
	perChannel("affine grad k0", k0, c)
	if rows == 0 || c == 0 {
		return
	}
	affineGrad(dx, lddx, dy, lddy, x, ldx, k1, k2, k0, rows, c, accumulate)
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

// GradSums adds, per channel j, the sum of dy[r][j] to s1[j] and the sum of
// dy[r][j]*x[r][j] to s2[j], in float64: batch norm's gradient statistics.
func GradSums(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, rows, c int) {
	fits("grad sums dy", dy, rows, c, lddy)
	fits("grad sums x", x, rows, c, ldx)
	sums(s1, s2, c)
	if rows == 0 || c == 0 {
		return
	}
	sumsDot(s1, s2, dy, lddy, x, ldx, rows, c)
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
	if w.H <= 0 || w.W <= 0 || w.OH <= 0 || w.OW <= 0 || w.K <= 0 || w.Stride <= 0 || w.Pad < 0 || images < 0 {
		panic(fmt.Sprintf("vec: im2col of %d images, window %+v", images, w))
	}
	fits("im2col x", x, images*w.H*w.W, c, ldx)
	fits("im2col cols", cols, images*w.OH*w.OW, w.K*w.K*c, w.K*w.K*c)
	if images == 0 || c == 0 {
		return
	}
	im2col(cols, x, ldx, c, images, w)
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

// Winograd's F(2x2, 3x3) (Lavin and Gray 2015) computes a 3x3 stride-1
// convolution per 2x2 output tile from the tile's 4x4 input patch d as
// Y = A^T [ (G w G^T) ⊙ (B^T d B) ] A, with
//
//	B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1  1  1  0 |
//	      | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
//	      | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
//	      | 0  1  0 -1 |       | 0    0    1  |
//
// so that, summed over input channels, the 16 products become 16 GEMMs
// M_k[tiles][out] = V_k[tiles][in] U_k[in][out] with 16 multiplies per 4
// outputs instead of 36. Tiles run over images, then tile rows, then tile
// columns: TH = ceil(OH/2) by TW = ceil(OW/2) per image.

// WinogradTiles is the number of 2x2 output tiles of images images.
func WinogradTiles(images int, w Window) int { return images * ((w.OH + 1) / 2) * ((w.OW + 1) / 2) }

// WinogradStride is the distance from one of the 16 transformed matrices
// of tiles x c to the next: one cache line more than their size, because
// the transforms write (or read) all 16 at once, and 16 streams a power of
// two apart fall into one set of an 8-way L1 cache (the input transform ran
// 2x slower so).
func WinogradStride(tiles, c int) int { return tiles*c + 16 }

// WinogradLen is the length of 16 transformed matrices of tiles x c.
func WinogradLen(tiles, c int) int { return 15*WinogradStride(tiles, c) + tiles*c }

func winogradWindow(op string, w Window, images int) {
	if w.K != 3 || w.Stride != 1 || w.Pad < 0 || w.H <= 0 || w.W <= 0 || w.OH != w.H+2*w.Pad-2 || w.OW != w.W+2*w.Pad-2 || w.OH <= 0 || w.OW <= 0 || images < 0 {
		panic(fmt.Sprintf("vec: winograd %s of %d images: window %+v is not a 3x3 stride-1 convolution", op, images, w))
	}
}

// WinogradInput writes V_k = B^T d B of every tile's input patch d (0
// outside the image): v[k*WinogradStride(T, c) + t*c + ch] for k = 4a+b, T tiles. zero must
// hold c zeros.
func WinogradInput(v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	winogradWindow("input", w, images)
	fits("winograd input x", x, images*w.H*w.W, c, ldx)
	t := WinogradTiles(images, w)
	fits("winograd input v", v, 1, WinogradLen(t, c), WinogradLen(t, c))
	perChannel("winograd input zero", zero, c)
	if t == 0 || c == 0 {
		return
	}
	winogradInput(v, x, ldx, c, images, w, zero)
}

// WinogradOutput writes (or adds, with accumulate) Y = A^T M A of every
// tile, M_k read from m[k*WinogradStride(T, c) + t*c + ch], to the tile's output pixels
// inside OH x OW. sink is scratch of c values that takes the outputs of
// edge tiles that fall outside.
func WinogradOutput(y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, sink []float32) {
	winogradWindow("output", w, images)
	fits("winograd output y", y, images*w.OH*w.OW, c, ldy)
	t := WinogradTiles(images, w)
	fits("winograd output m", m, 1, WinogradLen(t, c), WinogradLen(t, c))
	perChannel("winograd output sink", sink, c)
	if t == 0 || c == 0 {
		return
	}
	winogradOutput(y, ldy, m, c, images, w, accumulate, sink)
}

// WinogradWeight writes U_k = G w G^T of the weight w[o][i][3][3] as
// u[(k*in + i)*out + o]: the right-hand matrices of the 16 GEMMs.
func WinogradWeight(u, w []float32, out, in int) { winogradWeight(u, w, out, in, false) }

// WinogradWeightTransposed writes the U_k of the transposed convolution, the
// one that takes dy to dx at stride 1: its weight is w'[i][o][p][q] =
// w[o][i][2-p][2-q] (in and out swapped, the kernel turned by 180 degrees),
// written as u[(k*out + o)*in + i].
func WinogradWeightTransposed(u, w []float32, out, in int) { winogradWeight(u, w, out, in, true) }

func winogradWeight(u, w []float32, out, in int, transposed bool) {
	if len(w) < out*in*9 || len(u) < 16*in*out {
		panic(fmt.Sprintf("vec: winograd weight: %d and %d values for %d x %d x 3 x 3", len(w), len(u), out, in))
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			g := w[(o*in+i)*9 : (o*in+i)*9+9]
			if transposed {
				var r [9]float32
				for j, v := range g {
					r[8-j] = v
				}
				g = r[:]
			}
			var gg [4][3]float32 // G g
			for q := 0; q < 3; q++ {
				g0, g1, g2 := g[q], g[3+q], g[6+q]
				gg[0][q], gg[1][q], gg[2][q], gg[3][q] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
			}
			for a := 0; a < 4; a++ { // (G g) G^T
				g0, g1, g2 := gg[a][0], gg[a][1], gg[a][2]
				row := [4]float32{g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2}
				for b, v := range row {
					if transposed {
						u[((a*4+b)*out+o)*in+i] = v
					} else {
						u[((a*4+b)*in+i)*out+o] = v
					}
				}
			}
		}
	}
}

// The weight gradient by the same algorithm: as Y = A^T M A per tile with
// M_k = sum over input channels of V_k U_k, the output gradient dY of a tile
// gives dM = A dY A^T, then dU_k[in][out] = V_k^T dM_k summed over tiles (16
// GEMMs) and, as U = G w G^T, dw = G^T dU G.

// WinogradOutputGrad writes dM_k = A dY A^T of every tile's 2x2 output
// gradient dY (0 for outputs past OH x OW): dm[k*WinogradStride(T, c) +
// t*c + ch]. It is the transpose of WinogradOutput.
func WinogradOutputGrad(dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	winogradWindow("output gradient", w, images)
	fits("winograd output gradient dy", dy, images*w.OH*w.OW, c, lddy)
	t := WinogradTiles(images, w)
	fits("winograd output gradient dm", dm, 1, WinogradLen(t, c), WinogradLen(t, c))
	perChannel("winograd output gradient zero", zero, c)
	if t == 0 || c == 0 {
		return
	}
	winogradOutputGrad(dm, dy, lddy, c, images, w, zero)
}

// WinogradWeightGrad adds G^T dU_k G to the weight gradient dw[o][i][3][3],
// dU read as du[(k*in + i)*out + o]: the transpose of WinogradWeight.
func WinogradWeightGrad(dw, du []float32, out, in int) { winogradWeightGrad(dw, du, out, in, false) }

// WinogradWeightGradByOut is WinogradWeightGrad with dU read as
// du[(k*out + o)*in + i] (each dU_k transposed).
func WinogradWeightGradByOut(dw, du []float32, out, in int) {
	winogradWeightGrad(dw, du, out, in, true)
}

func winogradWeightGrad(dw, du []float32, out, in int, byOut bool) {
	if len(dw) < out*in*9 || len(du) < 16*in*out {
		panic(fmt.Sprintf("vec: winograd weight gradient: %d and %d values for %d x %d x 3 x 3", len(dw), len(du), out, in))
	}
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			var d [4][4]float32
			for k := range 16 {
				if byOut {
					d[k/4][k%4] = du[(k*out+o)*in+i]
				} else {
					d[k/4][k%4] = du[(k*in+i)*out+o]
				}
			}
			var r [3][4]float32 // G^T dU: rows d0 + (d1 + d2)/2, (d1 - d2)/2, (d1 + d2)/2 + d3
			for b := 0; b < 4; b++ {
				d0, d1, d2, d3 := d[0][b], d[1][b], d[2][b], d[3][b]
				r[0][b], r[1][b], r[2][b] = d0+(d1+d2)/2, (d1-d2)/2, (d1+d2)/2+d3
			}
			g := dw[(o*in+i)*9 : (o*in+i)*9+9]
			for p := 0; p < 3; p++ { // (G^T dU) G, the same along rows
				r0, r1, r2, r3 := r[p][0], r[p][1], r[p][2], r[p][3]
				g[p*3] += r0 + (r1+r2)/2
				g[p*3+1] += (r1 - r2) / 2
				g[p*3+2] += (r1+r2)/2 + r3
			}
		}
	}
}
