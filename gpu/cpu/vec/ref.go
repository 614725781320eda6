package vec

import "math"

// The Go loops: what a build without cgo runs, and the reference the C loops
// are tested against. Each has the math of its exported function.

func refReLU(y []float32, ldy int, x []float32, ldx int, rows, c int) {
	for r := 0; r < rows; r++ {
		yr, xr := y[r*ldy:r*ldy+c], x[r*ldx:r*ldx+c]
		for j, v := range xr {
			yr[j] = max(v, 0)
		}
	}
}

func refReLUBackward(dx []float32, lddx int, dy []float32, lddy int, y []float32, ldy int, rows, c int) {
	for r := 0; r < rows; r++ {
		dxr, dyr, yr := dx[r*lddx:r*lddx+c], dy[r*lddy:r*lddy+c], y[r*ldy:r*ldy+c]
		for j, v := range yr {
			// Half the signs are random, so a branch on y > 0 would
			// mispredict half the time. Mask dy's bits instead: y > 0
			// exactly when its bits, as int32, are in (0, +Inf] (this
			// excludes zeros, negatives and NaNs).
			var keep uint32
			if uint32(int32(math.Float32bits(v))-1) < 0x7f800000 {
				keep = ^uint32(0)
			}
			dxr[j] = math.Float32frombits(math.Float32bits(dyr[j]) & keep)
		}
	}
}

func refAffine(y []float32, ldy int, x []float32, ldx int, k1, k0 []float32, rows, c int) {
	k1, k0 = k1[:c], k0[:c]
	for r := 0; r < rows; r++ {
		yr, xr := y[r*ldy:r*ldy+c], x[r*ldx:r*ldx+c]
		for j, v := range xr {
			yr[j] = v*k1[j] + k0[j]
		}
	}
}

func refAffineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0 []float32, rows, c int, accumulate bool) {
	k1, k2, k0 = k1[:c], k2[:c], k0[:c]
	for r := 0; r < rows; r++ {
		dxr, dyr, xr := dx[r*lddx:r*lddx+c], dy[r*lddy:r*lddy+c], x[r*ldx:r*ldx+c]
		if accumulate {
			for j, g := range dyr {
				dxr[j] += g*k1[j] + xr[j]*k2[j] + k0[j]
			}
		} else {
			for j, g := range dyr {
				dxr[j] = g*k1[j] + xr[j]*k2[j] + k0[j]
			}
		}
	}
}

func refSumsSq(s1, s2 []float64, x []float32, ldx int, rows, c int) {
	s1, s2 = s1[:c], s2[:c]
	for r := 0; r < rows; r++ {
		for j, v := range x[r*ldx : r*ldx+c] {
			f := float64(v)
			s1[j] += f
			s2[j] += f * f
		}
	}
}

func refSumsDot(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, rows, c int) {
	s1, s2 = s1[:c], s2[:c]
	for r := 0; r < rows; r++ {
		xr := x[r*ldx : r*ldx+c]
		for j, g := range dy[r*lddy : r*lddy+c] {
			f := float64(g)
			s1[j] += f
			s2[j] += f * float64(xr[j])
		}
	}
}

func refIm2col(cols []float32, x []float32, ldx, c, images int, w Window) {
	K := w.K
	kc := K * c
	r := 0
	for n := 0; n < images; n++ {
		for i := 0; i < w.OH; i++ {
			for j := 0; j < w.OW; j++ {
				row := cols[r*K*kc : (r+1)*K*kc]
				r++
				iw0 := j*w.Stride - w.Pad
				for p := 0; p < K; p++ {
					seg := row[p*kc : (p+1)*kc]
					ih := i*w.Stride + p - w.Pad
					if ih < 0 || ih >= w.H {
						clear(seg)
						continue
					}
					base := (n*w.H + ih) * w.W
					if ldx == c && iw0 >= 0 && iw0+K <= w.W {
						// a row of K adjacent pixels: one copy
						copy(seg, x[(base+iw0)*c:(base+iw0+K)*c])
						continue
					}
					for q := 0; q < K; q++ {
						dst := seg[q*c : (q+1)*c]
						if iw := iw0 + q; iw >= 0 && iw < w.W {
							copy(dst, x[(base+iw)*ldx:])
						} else {
							clear(dst)
						}
					}
				}
			}
		}
	}
}

func refAdd(y []float32, ldy int, a []float32, lda int, b []float32, ldb int, rows, c int) {
	for r := 0; r < rows; r++ {
		yr, ar, br := y[r*ldy:r*ldy+c], a[r*lda:r*lda+c], b[r*ldb:r*ldb+c]
		for j, v := range ar {
			yr[j] = v + br[j]
		}
	}
}

func refCopyAdd(y []float32, ldy int, x []float32, ldx int, rows, c int, accumulate bool) {
	for r := 0; r < rows; r++ {
		yr, xr := y[r*ldy:r*ldy+c], x[r*ldx:r*ldx+c]
		if !accumulate {
			copy(yr, xr)
			continue
		}
		for j, v := range xr {
			yr[j] += v
		}
	}
}

func refWinogradInput(v []float32, x []float32, ldx, c, images int, w Window, zero []float32) {
	th, tw := (w.OH+1)/2, (w.OW+1)/2
	ks := WinogradStride(images*th*tw, c)
	var d [16][]float32
	t := 0
	for n := 0; n < images; n++ {
		for ti := 0; ti < th; ti++ {
			for tj := 0; tj < tw; tj++ {
				for a := 0; a < 4; a++ {
					for b := 0; b < 4; b++ {
						ih, iw := 2*ti-w.Pad+a, 2*tj-w.Pad+b
						d[a*4+b] = zero[:c]
						if ih >= 0 && ih < w.H && iw >= 0 && iw < w.W {
							d[a*4+b] = x[((n*w.H+ih)*w.W+iw)*ldx:][:c]
						}
					}
				}
				for ch := 0; ch < c; ch++ {
					var r [16]float32 // B^T d
					for b := 0; b < 4; b++ {
						d0, d1, d2, d3 := d[b][ch], d[4+b][ch], d[8+b][ch], d[12+b][ch]
						r[b], r[4+b], r[8+b], r[12+b] = d0-d2, d1+d2, d2-d1, d1-d3
					}
					for a := 0; a < 4; a++ { // (B^T d) B
						r0, r1, r2, r3 := r[4*a], r[4*a+1], r[4*a+2], r[4*a+3]
						for b, e := range [4]float32{r0 - r2, r1 + r2, r2 - r1, r1 - r3} {
							v[(a*4+b)*ks+t*c+ch] = e
						}
					}
				}
				t++
			}
		}
	}
}

func refWinogradOutput(y []float32, ldy int, m []float32, c, images int, w Window, accumulate bool, _ []float32) {
	th, tw := (w.OH+1)/2, (w.OW+1)/2
	ks := WinogradStride(images*th*tw, c)
	t := 0
	for n := 0; n < images; n++ {
		for ti := 0; ti < th; ti++ {
			for tj := 0; tj < tw; tj++ {
				for ch := 0; ch < c; ch++ {
					var s [2][4]float32 // A^T M
					for b := 0; b < 4; b++ {
						m0, m1, m2, m3 := m[b*ks+t*c+ch], m[(4+b)*ks+t*c+ch], m[(8+b)*ks+t*c+ch], m[(12+b)*ks+t*c+ch]
						s[0][b], s[1][b] = m0+m1+m2, m1-m2-m3
					}
					for a := 0; a < 2; a++ { // (A^T M) A
						oh := 2*ti + a
						for b, e := range [2]float32{s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]} {
							ow := 2*tj + b
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
				}
				t++
			}
		}
	}
}

func refWinogradOutputGrad(dm []float32, dy []float32, lddy, c, images int, w Window, zero []float32) {
	th, tw := (w.OH+1)/2, (w.OW+1)/2
	ks := WinogradStride(images*th*tw, c)
	t := 0
	for n := 0; n < images; n++ {
		for ti := 0; ti < th; ti++ {
			for tj := 0; tj < tw; tj++ {
				var d [4][]float32 // the tile's outputs (a, b), 0 past the edge
				for k := range d {
					oh, ow := 2*ti+k/2, 2*tj+k%2
					d[k] = zero[:c]
					if oh < w.OH && ow < w.OW {
						d[k] = dy[((n*w.OH+oh)*w.OW+ow)*lddy:][:c]
					}
				}
				for ch := 0; ch < c; ch++ {
					// A dY: rows y0, y0 + y1, y0 - y1, -y1 (per column b)
					var r [4][2]float32
					for b := 0; b < 2; b++ {
						y0, y1 := d[b][ch], d[2+b][ch]
						r[0][b], r[1][b], r[2][b], r[3][b] = y0, y0+y1, y0-y1, -y1
					}
					for a := 0; a < 4; a++ { // (A dY) A^T, the same along rows
						y0, y1 := r[a][0], r[a][1]
						for b, e := range [4]float32{y0, y0 + y1, y0 - y1, -y1} {
							dm[(a*4+b)*ks+t*c+ch] = e
						}
					}
				}
				t++
			}
		}
	}
}
