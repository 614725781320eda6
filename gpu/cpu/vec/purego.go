//go:build !cgo

package vec

// Without cgo the Go loops of ref.go do the work.

// Impl names the loops in use.
const Impl = "Go loops (built without cgo)"

func relu(y []float32, ldy int, x []float32, ldx int, rows, c int) {
	refReLU(y, ldy, x, ldx, rows, c)
}

func reluBackward(dx []float32, lddx int, dy []float32, lddy int, y []float32, ldy int, rows, c int) {
	refReLUBackward(dx, lddx, dy, lddy, y, ldy, rows, c)
}

func affine(y []float32, ldy int, x []float32, ldx int, s []float32, lds int, k1, k0 []float32, rows, c int, relu bool) {
	refAffine(y, ldy, x, ldx, s, lds, k1, k0, rows, c, relu)
}

func affineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0, m1, m0 []float32, rows, c int, accumulate bool) {
	refAffineGrad(dx, lddx, dy, lddy, x, ldx, k1, k2, k0, m1, m0, rows, c, accumulate)
}

func sumsSq(s1, s2 []float64, x []float32, ldx int, rows, c int) {
	refSumsSq(s1, s2, x, ldx, rows, c)
}

func sumsDot(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, m1, m0 []float32, rows, c int) {
	refSumsDot(s1, s2, dy, lddy, x, ldx, m1, m0, rows, c)
}

func im2col(cols []float32, x []float32, ldx, c, images int, w Window) {
	refIm2col(cols, x, ldx, c, images, w)
}

func col2im(x []float32, ldx int, cols []float32, c, images int, w Window) {
	refCol2im(x, ldx, cols, c, images, w)
}

func add(y []float32, ldy int, a []float32, lda int, b []float32, ldb int, rows, c int) {
	refAdd(y, ldy, a, lda, b, ldb, rows, c)
}

func copyAdd(y []float32, ldy int, x []float32, ldx int, rows, c int, accumulate bool) {
	refCopyAdd(y, ldy, x, ldx, rows, c, accumulate)
}

func winogradInput(f Winograd, v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	refWinogradInput(f, v, x, ldx, c, images, w, zero)
}

func winogradOutput(f Winograd, y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, sink []float32) {
	refWinogradOutput(f, y, ldy, m, c, images, w, accumulate, sink)
}

func winogradOutputGrad(f Winograd, dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	refWinogradOutputGrad(f, dm, dy, lddy, c, images, w, zero)
}

func winogradWeight(f Winograd, u, w []float32, out, in int, transposed bool) {
	refWinogradWeight(f, u, w, out, in, transposed)
}

func winogradWeightGrad(f Winograd, dw, du []float32, out, in int, byOut bool) {
	refWinogradWeightGrad(f, dw, du, out, in, byOut)
}
