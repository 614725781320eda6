package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

var winograds = []Winograd{F2, F4}

// winogradWindows are the 3x3 stride-1 convolutions the Winograd tests run:
// padded and not, sizes that are multiples of both tile sides and sizes
// whose edge tiles stick out, and an image smaller than one tile.
var winogradWindows = []Window{
	{H: 8, W: 8, OH: 8, OW: 8, K: 3, Stride: 1, Pad: 1},
	{H: 5, W: 7, OH: 5, OW: 7, K: 3, Stride: 1, Pad: 1},
	{H: 6, W: 5, OH: 4, OW: 3, K: 3, Stride: 1, Pad: 0},
	{H: 3, W: 4, OH: 5, OW: 6, K: 3, Stride: 1, Pad: 2},
	{H: 2, W: 3, OH: 2, OW: 3, K: 3, Stride: 1, Pad: 1},
}

// sameAs fails unless got matches want: bit for bit for F2 (adds of the
// same terms in the same order), as near for F4 (the C loops fuse its
// multiply-adds).
func sameAs(t *testing.T, f Winograd, what string, got, want []float32) {
	t.Helper()
	if f != F2 {
		near6(t, f.String()+" "+what, got, want)
	} else {
		identical(t, f.String()+" "+what, got, want)
	}
}

func identical(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %v, reference %v (%s)", what, i, got[i], want[i], Impl)
		}
	}
}

// near6 fails unless got is within 1e-6 of want's largest value.
func near6(t *testing.T, what string, got, want []float32) {
	t.Helper()
	tol := 0.0
	for _, v := range want {
		tol = max(tol, 1e-6*math.Abs(float64(v)))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol {
			t.Fatalf("%s: [%d] = %v, reference %v (%s)", what, i, got[i], want[i], Impl)
		}
	}
}

func TestWinogradTransformsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, f := range winograds {
		for _, s := range []struct{ c, ld, images int }{{16, 16, 2}, {12, 40, 1}, {3, 3, 3}, {37, 37, 1}} {
			for _, w := range winogradWindows {
				T := f.Tiles(s.images, w)
				x := random(rng, length(s.images*w.H*w.W, s.ld, s.c))
				zero := make([]float32, s.c)
				got, want := make([]float32, f.Len(T, s.c)), make([]float32, f.Len(T, s.c))
				f.Input(got, x, s.ld, s.c, s.images, w, zero)
				refWinogradInput(f, want, x, s.ld, s.c, s.images, w, zero)
				sameAs(t, f, "input", got, want)
				for _, acc := range []bool{false, true} {
					n := length(s.images*w.OH*w.OW, s.ld, s.c)
					yGot := random(rng, n)
					yWant := append([]float32(nil), yGot...)
					sink := make([]float32, s.c)
					f.Output(yGot, s.ld, got, s.c, s.images, w, acc, sink)
					refWinogradOutput(f, yWant, s.ld, got, s.c, s.images, w, acc, sink)
					sameAs(t, f, "output", yGot, yWant) // the gaps between rows too
				}
			}
		}
	}
}

func TestWinogradOutputGradMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, f := range winograds {
		for _, s := range []struct{ c, ld, images int }{{16, 16, 2}, {12, 40, 1}, {37, 37, 1}} {
			for _, w := range winogradWindows {
				T := f.Tiles(s.images, w)
				dy := random(rng, length(s.images*w.OH*w.OW, s.ld, s.c))
				zero := make([]float32, s.c)
				got, want := random(rng, f.Len(T, s.c)), random(rng, f.Len(T, s.c))
				f.OutputGrad(got, dy, s.ld, s.c, s.images, w, zero)
				refWinogradOutputGrad(f, want, dy, s.ld, s.c, s.images, w, zero)
				ks := f.Stride(T, s.c)
				for k := 0; k < f.Points(); k++ { // not the gaps between matrices
					sameAs(t, f, "output gradient", got[k*ks:k*ks+T*s.c], want[k*ks:k*ks+T*s.c])
				}
			}
		}
	}
}

// TestWinogradIsConvolution runs the whole pipeline (the GEMMs as plain
// loops) against the definition of convolution in float64.
func TestWinogradIsConvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	const in, out, images = 5, 4, 2
	for _, f := range winograds {
		for _, w := range winogradWindows {
			x := random(rng, images*w.H*w.W*in)
			wt := random(rng, out*in*9)
			T := f.Tiles(images, w)
			v, m, u := make([]float32, f.Len(T, in)), make([]float32, f.Len(T, out)), make([]float32, f.Points()*in*out)
			f.Input(v, x, in, in, images, w, make([]float32, in))
			f.Weight(u, wt, out, in)
			for k := 0; k < f.Points(); k++ {
				for tile := 0; tile < T; tile++ {
					for o := 0; o < out; o++ {
						var sum float32
						for i := 0; i < in; i++ {
							sum += v[k*f.Stride(T, in)+tile*in+i] * u[(k*in+i)*out+o]
						}
						m[k*f.Stride(T, out)+tile*out+o] = sum
					}
				}
			}
			y := make([]float32, images*w.OH*w.OW*out)
			f.Output(y, out, m, out, images, w, false, make([]float32, out))
			for n := 0; n < images; n++ {
				for i := 0; i < w.OH; i++ {
					for j := 0; j < w.OW; j++ {
						for o := 0; o < out; o++ {
							var want, scale float64
							for ci := 0; ci < in; ci++ {
								for p := 0; p < 3; p++ {
									for q := 0; q < 3; q++ {
										ih, iw := i+p-w.Pad, j+q-w.Pad
										if ih < 0 || ih >= w.H || iw < 0 || iw >= w.W {
											continue
										}
										term := float64(x[((n*w.H+ih)*w.W+iw)*in+ci]) * float64(wt[((o*in+ci)*3+p)*3+q])
										want += term
										scale += math.Abs(term)
									}
								}
							}
							got := float64(y[((n*w.OH+i)*w.OW+j)*out+o])
							if math.Abs(got-want) > 1e-5*(1+scale) {
								t.Fatalf("%v %+v: y[%d][%d][%d][%d] = %v, convolution %v", f, w, n, i, j, o, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestWinogradWeightGradIsConvolutionGradient runs the whole weight
// gradient (input transform of x, output-gradient transform of dy, the
// GEMMs as loops, the back-transform) against its definition in float64:
// dw[o][i][p][q] = sum over images and outputs of dy[o] x[i] at the tap.
func TestWinogradWeightGradIsConvolutionGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	const in, out, images = 5, 4, 2
	for _, f := range winograds {
		for _, w := range winogradWindows {
			x := random(rng, images*w.H*w.W*in)
			dy := random(rng, images*w.OH*w.OW*out)
			T := f.Tiles(images, w)
			v, dm := make([]float32, f.Len(T, in)), make([]float32, f.Len(T, out))
			f.Input(v, x, in, in, images, w, make([]float32, in))
			f.OutputGrad(dm, dy, out, out, images, w, make([]float32, out))
			du := make([]float32, f.Points()*in*out)
			for k := 0; k < f.Points(); k++ {
				for i := 0; i < in; i++ {
					for o := 0; o < out; o++ {
						var sum float32
						for tile := 0; tile < T; tile++ {
							sum += v[k*f.Stride(T, in)+tile*in+i] * dm[k*f.Stride(T, out)+tile*out+o]
						}
						du[(k*in+i)*out+o] = sum
					}
				}
			}
			dw := make([]float32, out*in*9)
			for i := range dw {
				dw[i] = 1 // the back-transform adds
			}
			f.WeightGrad(dw, du, out, in)
			for o := 0; o < out; o++ {
				for i := 0; i < in; i++ {
					for p := 0; p < 3; p++ {
						for q := 0; q < 3; q++ {
							want, scale := 1.0, 1.0
							for n := 0; n < images; n++ {
								for oh := 0; oh < w.OH; oh++ {
									for ow := 0; ow < w.OW; ow++ {
										ih, iw := oh+p-w.Pad, ow+q-w.Pad
										if ih < 0 || ih >= w.H || iw < 0 || iw >= w.W {
											continue
										}
										term := float64(dy[((n*w.OH+oh)*w.OW+ow)*out+o]) * float64(x[((n*w.H+ih)*w.W+iw)*in+i])
										want += term
										scale += math.Abs(term)
									}
								}
							}
							got := float64(dw[((o*in+i)*3+p)*3+q])
							if math.Abs(got-want) > 1e-5*scale {
								t.Fatalf("%v %+v: dw[%d][%d][%d][%d] = %v, want %v", f, w, o, i, p, q, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestWinogradWeightsMatchReference holds the weight transforms (C in
// float32) to the Go loops (float64, rounded once), for shapes that do and
// do not fill the vectors.
func TestWinogradWeightsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	for _, f := range winograds {
		for _, sh := range [][2]int{{3, 5}, {16, 16}, {12, 37}, {33, 8}} {
			out, in := sh[0], sh[1]
			w := random(rng, out*in*9)
			du := random(rng, f.Points()*in*out)
			for _, flag := range []bool{false, true} {
				got, want := make([]float32, f.Points()*in*out), make([]float32, f.Points()*in*out)
				f.weight(got, w, out, in, flag)
				refWinogradWeight(f, want, w, out, in, flag)
				near6(t, f.String()+" weight", got, want) // float32 against float64
				dwGot, dwWant := random(rng, out*in*9), make([]float32, out*in*9)
				copy(dwWant, dwGot)
				f.weightGrad(dwGot, du, out, in, flag)
				refWinogradWeightGrad(f, dwWant, du, out, in, flag)
				near6(t, f.String()+" weight gradient", dwGot, dwWant)
			}
		}
	}
}

// TestWinogradWeightTransposed checks the transposed weight against the
// forward transform of the explicitly flipped and transposed kernel.
func TestWinogradWeightTransposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const out, in = 3, 5
	w := random(rng, out*in*9)
	flipped := make([]float32, in*out*9)
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for pq := 0; pq < 9; pq++ {
				flipped[(i*out+o)*9+8-pq] = w[(o*in+i)*9+pq]
			}
		}
	}
	for _, f := range winograds {
		got, want := make([]float32, f.Points()*in*out), make([]float32, f.Points()*in*out)
		f.WeightTransposed(got, w, out, in)
		f.Weight(want, flipped, in, out)
		identical(t, f.String()+" transposed weight", got, want) // the same arithmetic
	}
}

func TestWinogradWeightGradByOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	const out, in = 3, 5
	for _, f := range winograds {
		du := random(rng, f.Points()*in*out)
		duT := make([]float32, len(du))
		for k := 0; k < f.Points(); k++ {
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					duT[(k*out+o)*in+i] = du[(k*in+i)*out+o]
				}
			}
		}
		got, want := make([]float32, out*in*9), make([]float32, out*in*9)
		f.WeightGradByOut(got, duT, out, in)
		f.WeightGrad(want, du, out, in)
		identical(t, f.String()+" weight gradient by out", got, want)
	}
}

// The transforms run inside training steps, which allocate nothing; the Go
// loops (the build without cgo) must not either.
func TestWinogradAllocatesNothing(t *testing.T) {
	w := winogradWindows[1]
	const c, images = 8, 2
	for _, f := range winograds {
		T := f.Tiles(images, w)
		x, y := make([]float32, images*w.H*w.W*c), make([]float32, images*w.OH*w.OW*c)
		v, zero := make([]float32, f.Len(T, c)), make([]float32, c)
		u, dw := make([]float32, f.Points()*c*c), make([]float32, 9*c*c)
		for name, fn := range map[string]func(){
			"input":           func() { f.Input(v, x, c, c, images, w, zero) },
			"output":          func() { f.Output(y, c, v, c, images, w, true, zero) },
			"output gradient": func() { f.OutputGrad(v, y, c, c, images, w, zero) },
			"ref input":       func() { refWinogradInput(f, v, x, c, c, images, w, zero) },
			"ref output":      func() { refWinogradOutput(f, y, c, v, c, images, w, true, zero) },
			"ref output grad": func() { refWinogradOutputGrad(f, v, y, c, c, images, w, zero) },
			"weight":          func() { f.Weight(u, dw, c, c) },
			"weight gradient": func() { f.WeightGrad(dw, u, c, c) },
		} {
			if n := testing.AllocsPerRun(3, fn); n != 0 {
				t.Errorf("%v %s: %v allocations per call, want 0", f, name, n)
			}
		}
	}
}

func TestWinogradPanicsOnUnknownAlgorithm(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Winograd(3).Points() did not panic")
		}
	}()
	Winograd(3).Points()
}
