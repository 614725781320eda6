package ref

import (
	"fmt"

	"repro/gpu"
)

func checkConv(op string, s gpu.ConvSpec) {
	if err := s.Validate(); err != nil {
		panic(fmt.Sprintf("ref.%s: %v", op, err))
	}
}

// ConvForward computes, as gpu.Conv.Forward, for every n, o, i, j:
//
//	y[n,o,i,j] = sum_{c,p,q} w[o,c,p,q] * x[n,c, i*S+p-P, j*S+q-P]
//
// with x taken as 0 outside the image (S stride, P padding). x is
// ConvInput(s), y is ConvOutput(s), w is [OutC][InC][K][K].
func ConvForward(y, x, w []float64, s gpu.ConvSpec) {
	checkConv("ConvForward", s)
	xs, ys, k := ConvInput(s), ConvOutput(s), s.Kernel
	need("ConvForward", "y", y, ys.Elems())
	need("ConvForward", "x", x, xs.Elems())
	need("ConvForward", "w", w, s.WeightLen())
	for n := 0; n < ys.N; n++ {
		for o := 0; o < ys.C; o++ {
			for i := 0; i < ys.H; i++ {
				for j := 0; j < ys.W; j++ {
					sum := 0.0
					for c := 0; c < xs.C; c++ {
						for p := 0; p < k; p++ {
							iy := i*s.Stride + p - s.Pad
							if iy < 0 || iy >= xs.H {
								continue
							}
							for q := 0; q < k; q++ {
								ix := j*s.Stride + q - s.Pad
								if ix < 0 || ix >= xs.W {
									continue
								}
								sum += w[((o*xs.C+c)*k+p)*k+q] * x[xs.Index(n, c, iy, ix)]
							}
						}
					}
					y[ys.Index(n, o, i, j)] = sum
				}
			}
		}
	}
}

// ConvBackward computes, as gpu.Conv.Backward,
//
//	dw[o,c,p,q] += sum_{n,i,j} dy[n,o,i,j] * x[n,c, i*S+p-P, j*S+q-P]
//
// and, unless dx is nil, dx (=, or += when accumulate) the transpose of
// ConvForward applied to dy:
//
//	dx[n,c,iy,ix] = sum over (o,i,j,p,q) with i*S+p-P = iy, j*S+q-P = ix of dy[n,o,i,j] * w[o,c,p,q].
func ConvBackward(dx, dw, dy, x, w []float64, s gpu.ConvSpec, accumulate bool) {
	checkConv("ConvBackward", s)
	xs, ys, k := ConvInput(s), ConvOutput(s), s.Kernel
	need("ConvBackward", "dw", dw, s.WeightLen())
	need("ConvBackward", "dy", dy, ys.Elems())
	need("ConvBackward", "x", x, xs.Elems())
	need("ConvBackward", "w", w, s.WeightLen())
	var g []float64
	if dx != nil {
		need("ConvBackward", "dx", dx, xs.Elems())
		g = make([]float64, xs.Elems())
	}
	for n := 0; n < ys.N; n++ {
		for o := 0; o < ys.C; o++ {
			for i := 0; i < ys.H; i++ {
				for j := 0; j < ys.W; j++ {
					d := dy[ys.Index(n, o, i, j)]
					for c := 0; c < xs.C; c++ {
						for p := 0; p < k; p++ {
							iy := i*s.Stride + p - s.Pad
							if iy < 0 || iy >= xs.H {
								continue
							}
							for q := 0; q < k; q++ {
								ix := j*s.Stride + q - s.Pad
								if ix < 0 || ix >= xs.W {
									continue
								}
								wi, xi := ((o*xs.C+c)*k+p)*k+q, xs.Index(n, c, iy, ix)
								dw[wi] += d * x[xi]
								if g != nil {
									g[xi] += d * w[wi]
								}
							}
						}
					}
				}
			}
		}
	}
	if dx != nil {
		store(dx, g, accumulate)
	}
}
