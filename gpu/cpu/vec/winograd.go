package vec

import "fmt"

// Winograd is one of Winograd's minimal filtering algorithms (Lavin and Gray
// 2015) for 3x3 stride-1 convolutions, F(m x m, 3x3), named by the side m of
// the output tile it computes at once. Per tile and channel it takes the
// a x a input patch d around the tile (a = m + 2, 0 outside the image) and
// computes
//
//	Y = A^T [ (G w G^T) ⊙ (B^T d B) ] A
//
// so that, summed over input channels, the a*a elementwise products become
// a*a GEMMs M_k[tiles][out] = V_k[tiles][in] U_k[in][out]: a*a multiplies
// per m*m outputs instead of 9*m*m. Tiles run over images, then tile rows,
// then tile columns: ceil(OH/m) by ceil(OW/m) per image.
//
// F2 trades the fewest operations in its transforms (adds only) for 2.25x
// fewer multiplies; F4 saves 4x, with transforms of small integer
// coefficients and a float32 error a few times F2's (still within 1e-6 of
// the output scale, as the tests hold it).
//
// The weight gradient runs the same algorithm backwards: as Y = A^T M A per
// tile, the output gradient dY of a tile gives dM = A dY A^T, then
// dU_k[in][out] = V_k^T dM_k summed over tiles (a*a GEMMs) and, as
// U = G w G^T, dw = G^T dU G.
type Winograd int

const (
	// F2 is F(2x2, 3x3): 4x4 patches, 16 GEMMs, points 0, ±1, ∞:
	//
	//	B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1  1  1  0 |
	//	      | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
	//	      | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
	//	      | 0  1  0 -1 |       | 0    0    1  |
	F2 Winograd = 2
	// F4 is F(4x4, 3x3): 6x6 patches, 36 GEMMs, points 0, ±1, ±2, ∞:
	//
	//	B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0  |
	//	      | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |
	//	      | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |
	//	      | 0 -2 -1  2  1  0 |       | 1/24  1/12   1/6  |
	//	      | 0  2 -1 -2  1  0 |       | 1/24 -1/12   1/6  |
	//	      | 0  4  0 -5  0  1 |       |  0     0     1    |
	//
	//	A^T = | 1  1  1  1  1  0 |
	//	      | 0  1 -1  2 -2  0 |
	//	      | 0  1  1  4  4  0 |
	//	      | 0  1 -1  8 -8  1 |
	F4 Winograd = 4
)

// winogradMatrices are an algorithm's B^T (a x a), A^T (m x a), A (a x m)
// and G (a x 3), row-major, in arrays so that the Go loops allocate nothing.
type winogradMatrices struct {
	bt [36]float32
	at [24]float32
	aa [24]float32
	g  [18]float64
}

func (f Winograd) matrices() winogradMatrices {
	var m winogradMatrices
	switch f {
	case F2:
		m.bt = [36]float32{1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1}
		m.at = [24]float32{1, 1, 1, 0, 0, 1, -1, -1}
		m.g = [18]float64{1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1}
	case F4:
		m.bt = [36]float32{
			4, 0, -5, 0, 1, 0, 0, -4, -4, 1, 1, 0, 0, 4, -4, -1, 1, 0,
			0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1,
		}
		m.at = [24]float32{1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1}
		m.g = [18]float64{
			1.0 / 4, 0, 0, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
			1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0, 0, 1,
		}
	default:
		panic(fmt.Sprintf("vec: Winograd(%d): want F2 or F4", int(f)))
	}
	a, n := int(f)+2, int(f)
	for i := 0; i < n; i++ {
		for j := 0; j < a; j++ {
			m.aa[j*n+i] = m.at[i*a+j]
		}
	}
	return m
}

// String is the algorithm's name, "F(2x2, 3x3)" or "F(4x4, 3x3)".
func (f Winograd) String() string { return fmt.Sprintf("F(%dx%d, 3x3)", int(f), int(f)) }

// Points is a*a, the number of transformed matrices (and GEMMs).
func (f Winograd) Points() int {
	a := f.side()
	return a * a
}

// side is a, the side of an input patch.
func (f Winograd) side() int {
	if f != F2 && f != F4 {
		panic(fmt.Sprintf("vec: Winograd(%d): want F2 or F4", int(f)))
	}
	return int(f) + 2
}

// Tiles is the number of m x m output tiles of images images.
func (f Winograd) Tiles(images int, w Window) int {
	m := f.side() - 2
	return images * ((w.OH + m - 1) / m) * ((w.OW + m - 1) / m)
}

// Stride is the distance from one of the transformed matrices of tiles x c
// to the next: one cache line more than their size, because the transforms
// write (or read) all of them at once, and 16 or 36 streams a power of two
// apart fall into one set of an 8-way L1 cache (F2's input transform ran 2x
// slower so).
func (f Winograd) Stride(tiles, c int) int { return tiles*c + 16 }

// Len is the length of the Points() transformed matrices of tiles x c.
func (f Winograd) Len(tiles, c int) int { return (f.Points()-1)*f.Stride(tiles, c) + tiles*c }

func (f Winograd) window(op string, w Window, images int) {
	f.side()
	if w.K != 3 || w.Stride != 1 || w.Pad < 0 || w.H <= 0 || w.W <= 0 || w.OH != w.H+2*w.Pad-2 || w.OW != w.W+2*w.Pad-2 || w.OH <= 0 || w.OW <= 0 || images < 0 {
		panic(fmt.Sprintf("vec: winograd %v %s of %d images: window %+v is not a 3x3 stride-1 convolution", f, op, images, w))
	}
}

// Input writes V_k = B^T d B of every tile's input patch d (0 outside the
// image): v[k*Stride(T, c) + t*c + ch] for k = a*i + j, T tiles. zero must
// hold c zeros.
func (f Winograd) Input(v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	f.window("input", w, images)
	fits("winograd input x", x, images*w.H*w.W, c, ldx)
	t := f.Tiles(images, w)
	fits("winograd input v", v, 1, f.Len(t, c), f.Len(t, c))
	perChannel("winograd input zero", zero, c)
	if t == 0 || c == 0 {
		return
	}
	winogradInput(f, v, x, ldx, c, images, w, zero)
}

// Output writes (or adds, with accumulate) Y = A^T M A of every tile, M_k
// read from m[k*Stride(T, c) + t*c + ch], to the tile's output pixels
// inside OH x OW. sink is scratch of c values that takes the outputs of
// edge tiles that fall outside.
func (f Winograd) Output(y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, sink []float32) {
	f.window("output", w, images)
	fits("winograd output y", y, images*w.OH*w.OW, c, ldy)
	t := f.Tiles(images, w)
	fits("winograd output m", m, 1, f.Len(t, c), f.Len(t, c))
	perChannel("winograd output sink", sink, c)
	if t == 0 || c == 0 {
		return
	}
	winogradOutput(f, y, ldy, m, c, images, w, accumulate, sink)
}

// OutputGrad writes dM_k = A dY A^T of every tile's m x m output gradient
// dY (0 for outputs past OH x OW): dm[k*Stride(T, c) + t*c + ch]. It is the
// transpose of Output.
func (f Winograd) OutputGrad(dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	f.window("output gradient", w, images)
	fits("winograd output gradient dy", dy, images*w.OH*w.OW, c, lddy)
	t := f.Tiles(images, w)
	fits("winograd output gradient dm", dm, 1, f.Len(t, c), f.Len(t, c))
	perChannel("winograd output gradient zero", zero, c)
	if t == 0 || c == 0 {
		return
	}
	winogradOutputGrad(f, dm, dy, lddy, c, images, w, zero)
}

// Weight writes U_k = G w G^T of the weight w[o][i][3][3] as
// u[(k*in + i)*out + o]: the right-hand matrices of the GEMMs.
func (f Winograd) Weight(u, w []float32, out, in int) { f.weight(u, w, out, in, false) }

// WeightTransposed writes the U_k of the transposed convolution, the one
// that takes dy to dx at stride 1: its weight is w'[i][o][p][q] =
// w[o][i][2-p][2-q] (in and out swapped, the kernel turned by 180 degrees),
// written as u[(k*out + o)*in + i].
func (f Winograd) WeightTransposed(u, w []float32, out, in int) { f.weight(u, w, out, in, true) }

func (f Winograd) weight(u, w []float32, out, in int, transposed bool) {
	if a := f.side(); len(w) < out*in*9 || len(u) < a*a*in*out {
		panic(fmt.Sprintf("vec: winograd %v weight: %d and %d values for %d x %d x 3 x 3", f, len(w), len(u), out, in))
	}
	if out > 0 && in > 0 {
		winogradWeight(f, u, w, out, in, transposed)
	}
}

// refWinogradWeight computes in float64 and rounds once.
func refWinogradWeight(f Winograd, u, w []float32, out, in int, transposed bool) {
	a, mat := f.side(), f.matrices()
	var gg [6][3]float64 // G g
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			var g [9]float64
			for j, v := range w[(o*in+i)*9 : (o*in+i)*9+9] {
				if transposed {
					j = 8 - j
				}
				g[j] = float64(v)
			}
			for r := 0; r < a; r++ {
				row := mat.g[3*r:]
				for q := 0; q < 3; q++ {
					gg[r][q] = row[0]*g[q] + row[1]*g[3+q] + row[2]*g[6+q]
				}
			}
			for r := 0; r < a; r++ { // (G g) G^T
				for s := 0; s < a; s++ {
					row := mat.g[3*s:]
					v := float32(gg[r][0]*row[0] + gg[r][1]*row[1] + gg[r][2]*row[2])
					k := r*a + s
					if transposed {
						u[(k*out+o)*in+i] = v
					} else {
						u[(k*in+i)*out+o] = v
					}
				}
			}
		}
	}
}

// WeightGrad adds G^T dU_k G to the weight gradient dw[o][i][3][3], dU read
// as du[(k*in + i)*out + o]: the transpose of Weight.
func (f Winograd) WeightGrad(dw, du []float32, out, in int) { f.weightGrad(dw, du, out, in, false) }

// WeightGradByOut is WeightGrad with dU read as du[(k*out + o)*in + i]
// (each dU_k transposed).
func (f Winograd) WeightGradByOut(dw, du []float32, out, in int) { f.weightGrad(dw, du, out, in, true) }

func (f Winograd) weightGrad(dw, du []float32, out, in int, byOut bool) {
	if a := f.side(); len(dw) < out*in*9 || len(du) < a*a*in*out {
		panic(fmt.Sprintf("vec: winograd %v weight gradient: %d and %d values for %d x %d x 3 x 3", f, len(dw), len(du), out, in))
	}
	if out > 0 && in > 0 {
		winogradWeightGrad(f, dw, du, out, in, byOut)
	}
}

// refWinogradWeightGrad computes in float64 and rounds once.
func refWinogradWeightGrad(f Winograd, dw, du []float32, out, in int, byOut bool) {
	a, mat := f.side(), f.matrices()
	var d [36]float64
	var r [6][3]float64 // dU G, row by row
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for k := 0; k < a*a; k++ {
				if byOut {
					d[k] = float64(du[(k*out+o)*in+i])
				} else {
					d[k] = float64(du[(k*in+i)*out+o])
				}
			}
			for p := 0; p < a; p++ {
				r[p] = [3]float64{}
				for s := 0; s < a; s++ {
					for q := 0; q < 3; q++ {
						r[p][q] += d[p*a+s] * mat.g[3*s+q]
					}
				}
			}
			g := dw[(o*in+i)*9 : (o*in+i)*9+9]
			for p := 0; p < 3; p++ { // G^T (dU G)
				for q := 0; q < 3; q++ {
					var sum float64
					for s := 0; s < a; s++ {
						sum += mat.g[3*s+p] * r[s][q]
					}
					g[p*3+q] += float32(sum)
				}
			}
		}
	}
}

// The Go loops of the three pixel transforms, for any algorithm: each 2-D
// transform is the 1-D one down the columns, then along the rows, with the
// matrices' zero entries skipped, so that F2's (all ±1) matches the C
// loops bit for bit.

// transform1 writes y = L x for L of rows x len(x), row-major.
func transform1(y []float32, l []float32, rows int, x []float32) {
	cols := len(x)
	for k := 0; k < rows; k++ {
		var s float32
		for j, c := range l[k*cols : (k+1)*cols] {
			switch c {
			case 0:
			case 1:
				s += x[j]
			case -1:
				s -= x[j]
			default:
				s += c * x[j]
			}
		}
		y[k] = s
	}
}

// transform2 writes y = L x L^T for x of n x n and L of r x n, with
// scratch tmp of r*n and col, out of n and r values.
func transform2(y []float32, l []float32, r int, x []float32, n int, tmp, col, out []float32) {
	for j := 0; j < n; j++ { // L x, column by column
		for i := 0; i < n; i++ {
			col[i] = x[i*n+j]
		}
		transform1(out, l, r, col[:n])
		for k := 0; k < r; k++ {
			tmp[k*n+j] = out[k]
		}
	}
	for k := 0; k < r; k++ { // (L x) L^T, row by row
		transform1(y[k*r:], l, r, tmp[k*n:(k+1)*n])
	}
}

// forTiles calls fn for every tile t of images: tile row ti, column tj of
// image n.
func (f Winograd) forTiles(images int, w Window, fn func(t, n, ti, tj int)) {
	m := f.side() - 2
	th, tw := (w.OH+m-1)/m, (w.OW+m-1)/m
	t := 0
	for n := 0; n < images; n++ {
		for ti := 0; ti < th; ti++ {
			for tj := 0; tj < tw; tj++ {
				fn(t, n, ti, tj)
				t++
			}
		}
	}
}

func refWinogradInput(f Winograd, v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	a, mat := f.side(), f.matrices()
	m := a - 2
	ks := f.Stride(f.Tiles(images, w), c)
	var d [36][]float32
	var patch, out, tmp [36]float32
	var col, buf [6]float32
	f.forTiles(images, w, func(t, n, ti, tj int) {
		for i := 0; i < a; i++ {
			for j := 0; j < a; j++ {
				ih, iw := m*ti-w.Pad+i, m*tj-w.Pad+j
				d[i*a+j] = zero[:c]
				if ih >= 0 && ih < w.H && iw >= 0 && iw < w.W {
					d[i*a+j] = x[((n*w.H+ih)*w.W+iw)*ldx:][:c]
				}
			}
		}
		for ch := 0; ch < c; ch++ {
			for k := 0; k < a*a; k++ {
				patch[k] = d[k][ch]
			}
			transform2(out[:], mat.bt[:], a, patch[:a*a], a, tmp[:], col[:], buf[:])
			for k, e := range out[:a*a] {
				v[k*ks+t*c+ch] = e
			}
		}
	})
}

func refWinogradOutput(f Winograd, y []float32, ldy int, mm []float32, c, images int, w Window, accumulate bool, _ []float32) {
	a, mat := f.side(), f.matrices()
	m := a - 2
	ks := f.Stride(f.Tiles(images, w), c)
	var patch, tmp [36]float32
	var out [16]float32
	var col, buf [6]float32
	f.forTiles(images, w, func(t, n, ti, tj int) {
		for ch := 0; ch < c; ch++ {
			for k := 0; k < a*a; k++ {
				patch[k] = mm[k*ks+t*c+ch]
			}
			transform2(out[:], mat.at[:], m, patch[:a*a], a, tmp[:], col[:], buf[:])
			for k, e := range out[:m*m] {
				oh, ow := m*ti+k/m, m*tj+k%m
				if oh >= w.OH || ow >= w.OW {
					continue
				}
				i := ((n*w.OH+oh)*w.OW+ow)*ldy + ch
				if accumulate {
					y[i] += e
				} else {
					y[i] = e
				}
			}
		}
	})
}

func refWinogradOutputGrad(f Winograd, dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	a, mat := f.side(), f.matrices()
	m := a - 2
	ks := f.Stride(f.Tiles(images, w), c)
	var d [16][]float32
	var patch [16]float32
	var out, tmp [36]float32
	var col, buf [6]float32
	f.forTiles(images, w, func(t, n, ti, tj int) {
		for k := 0; k < m*m; k++ { // the tile's outputs, 0 past the edge
			oh, ow := m*ti+k/m, m*tj+k%m
			d[k] = zero[:c]
			if oh < w.OH && ow < w.OW {
				d[k] = dy[((n*w.OH+oh)*w.OW+ow)*lddy:][:c]
			}
		}
		for ch := 0; ch < c; ch++ {
			for k := 0; k < m*m; k++ {
				patch[k] = d[k][ch]
			}
			transform2(out[:], mat.aa[:], a, patch[:m*m], m, tmp[:], col[:], buf[:])
			for k, e := range out[:a*a] {
				dm[k*ks+t*c+ch] = e
			}
		}
	})
}
