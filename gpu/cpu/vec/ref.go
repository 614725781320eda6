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

// bnPre is batch norm's output before a fused ReLU, x*k1 + k0, each step
// rounded to float32 (the conversion keeps Go from fusing it into a
// multiply-add on some targets, which the forward and the masked backward
// must agree on).
func bnPre(x, k1, k0 float32) float32 { return float32(x*k1) + k0 }

func refAffine(y []float32, ldy int, x []float32, ldx int, s []float32, lds int, k1, k0 []float32, rows, c int, relu bool) {
	k1, k0 = k1[:c], k0[:c]
	for r := 0; r < rows; r++ {
		yr, xr := y[r*ldy:r*ldy+c], x[r*ldx:r*ldx+c]
		for j, v := range xr {
			v = bnPre(v, k1[j], k0[j])
			if s != nil {
				v = max(v+s[r*lds+j], 0)
			} else if relu {
				v = max(v, 0)
			}
			yr[j] = v
		}
	}
}

// masked is dy[r][j], or 0 where coefficients of a fused ReLU are given
// (m1 non-nil) and bnPre(x[r][j], m1[j], m0[j]) is not > 0.
func masked(dyr, xr, m1, m0 []float32, j int) float32 {
	if m1 != nil && !(bnPre(xr[j], m1[j], m0[j]) > 0) {
		return 0
	}
	return dyr[j]
}

func refAffineGrad(dx []float32, lddx int, dy []float32, lddy int, x []float32, ldx int, k1, k2, k0, m1, m0 []float32, rows, c int, accumulate bool) {
	k1, k2, k0 = k1[:c], k2[:c], k0[:c]
	for r := 0; r < rows; r++ {
		dxr, dyr, xr := dx[r*lddx:r*lddx+c], dy[r*lddy:r*lddy+c], x[r*ldx:r*ldx+c]
		for j := range dyr {
			v := masked(dyr, xr, m1, m0, j)*k1[j] + xr[j]*k2[j] + k0[j]
			if accumulate {
				v += dxr[j]
			}
			dxr[j] = v
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

func refSumsDot(s1, s2 []float64, dy []float32, lddy int, x []float32, ldx int, m1, m0 []float32, rows, c int) {
	s1, s2 = s1[:c], s2[:c]
	for r := 0; r < rows; r++ {
		dyr, xr := dy[r*lddy:r*lddy+c], x[r*ldx:r*ldx+c]
		for j := range dyr {
			f := float64(masked(dyr, xr, m1, m0, j))
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

func refCol2im(x []float32, ldx int, cols []float32, c, images int, w Window) {
	kk := w.K * w.K * c
	r := 0
	for n := 0; n < images; n++ {
		for i := 0; i < w.OH; i++ {
			for j := 0; j < w.OW; j++ {
				row := cols[r*kk : (r+1)*kk]
				r++
				for p := 0; p < w.K; p++ {
					ih := i*w.Stride + p - w.Pad
					if ih < 0 || ih >= w.H {
						continue
					}
					for q := 0; q < w.K; q++ {
						iw := j*w.Stride + q - w.Pad
						if iw < 0 || iw >= w.W {
							continue
						}
						src := row[(p*w.K+q)*c : (p*w.K+q+1)*c]
						dst := x[((n*w.H+ih)*w.W+iw)*ldx:][:c]
						for k, v := range src {
							dst[k] += v
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
