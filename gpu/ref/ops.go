package ref

import (
	"fmt"

	"repro/gpu"
)

// ReLUForward: y = max(x, 0), as gpu.Backend.ReLUForward. y may be x.
func ReLUForward(y, x []float64) {
	need("ReLUForward", "y", y, len(x))
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// ReLUBackward: dx = dy where y > 0, else 0, as gpu.Backend.ReLUBackward.
// dx may be dy.
func ReLUBackward(dx, dy, y []float64) {
	need("ReLUBackward", "dx", dx, len(y))
	need("ReLUBackward", "dy", dy, len(y))
	for i, v := range y {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// shortcut returns the channel padding and the subsampling factor that map a
// shortcut input of shape ss onto a residual branch of shape as (ResNet
// option A); the identity when the shapes are equal.
func shortcut(op string, as, ss Shape) (pad, f int) {
	if ss.N != as.N || ss.C > as.C || ss.C <= 0 || as.H <= 0 || as.W <= 0 {
		panic(fmt.Sprintf("ref.%s: shortcut %v onto %v: want the same N and no more channels", op, ss, as))
	}
	f = ss.H / as.H
	if f < 1 || ss.H != as.H*f || ss.W != as.W*f {
		panic(fmt.Sprintf("ref.%s: shortcut %v onto %v: H and W must be the same multiple", op, ss, as))
	}
	return (as.C - ss.C) / 2, f
}

// ResidualForward: y = a + shortcut(s), as gpu.Backend.ResidualForward. With
// pad = (a.C-s.C)/2 and f = s.H/a.H (the identity when s has a's shape):
//
//	shortcut(s)[n,c,i,j] = s[n, c-pad, i*f, j*f] when 0 <= c-pad < s.C, else 0.
//
// as and ss are the shapes of a (and y) and s.
func ResidualForward(y, a, s []float64, as, ss Shape) {
	const op = "ResidualForward"
	need(op, "y", y, as.Elems())
	need(op, "a", a, as.Elems())
	need(op, "s", s, ss.Elems())
	pad, f := shortcut(op, as, ss)
	for n := 0; n < as.N; n++ {
		for c := 0; c < as.C; c++ {
			for i := 0; i < as.H; i++ {
				for j := 0; j < as.W; j++ {
					k := as.Index(n, c, i, j)
					v := a[k]
					if cs := c - pad; cs >= 0 && cs < ss.C {
						v += s[ss.Index(n, cs, i*f, j*f)]
					}
					y[k] = v
				}
			}
		}
	}
}

// ShortcutBackward: ds (=, or += when accumulate) the transpose of the
// shortcut of ResidualForward applied to dy, as gpu.Backend.ShortcutBackward:
//
//	ds[n,c,i*f,j*f] = dy[n, c+pad, i, j], 0 at the other positions,
//
// with pad = (dy.C-ds.C)/2 and f = ds.H/dy.H. dss and dys are the shapes of
// ds and dy.
func ShortcutBackward(ds, dy []float64, dss, dys Shape, accumulate bool) {
	const op = "ShortcutBackward"
	need(op, "ds", ds, dss.Elems())
	need(op, "dy", dy, dys.Elems())
	pad, f := shortcut(op, dys, dss)
	g := make([]float64, dss.Elems())
	for n := 0; n < dss.N; n++ {
		for c := 0; c < dss.C; c++ {
			for i := 0; i < dys.H; i++ {
				for j := 0; j < dys.W; j++ {
					g[dss.Index(n, c, i*f, j*f)] = dy[dys.Index(n, c+pad, i, j)]
				}
			}
		}
	}
	store(ds, g, accumulate)
}

// AddForward: y = a + b, as gpu.Backend.AddForward. y may be a or b.
func AddForward(y, a, b []float64) {
	need("AddForward", "y", y, len(a))
	need("AddForward", "b", b, len(a))
	for i := range a {
		y[i] = a[i] + b[i]
	}
}

// AvgPoolOutput is the shape of AvgPoolForward's output: N x C x H/k x W/k
// (rounded down: rows and columns past the last whole window are not read).
func AvgPoolOutput(xs Shape, k int) Shape { return Shape{xs.N, xs.C, xs.H / k, xs.W / k} }

// AvgPoolForward: y[n,c,i,j] = (1/k^2) sum_{p,q<k} x[n,c,i*k+p,j*k+q], as
// gpu.Backend.AvgPoolForward (stride k, no padding). xs is the shape of x; y
// is AvgPoolOutput(xs, k).
func AvgPoolForward(y, x []float64, xs Shape, k int) {
	const op = "AvgPoolForward"
	ys := AvgPoolOutput(xs, k)
	if k <= 0 || ys.H <= 0 || ys.W <= 0 {
		panic(fmt.Sprintf("ref.%s: window %d on %v", op, k, xs))
	}
	need(op, "y", y, ys.Elems())
	need(op, "x", x, xs.Elems())
	for n := 0; n < ys.N; n++ {
		for c := 0; c < ys.C; c++ {
			for i := 0; i < ys.H; i++ {
				for j := 0; j < ys.W; j++ {
					sum := 0.0
					for p := 0; p < k; p++ {
						for q := 0; q < k; q++ {
							sum += x[xs.Index(n, c, i*k+p, j*k+q)]
						}
					}
					y[ys.Index(n, c, i, j)] = sum / float64(k*k)
				}
			}
		}
	}
}

// AvgPoolBackward: dx[n,c,i*k+p,j*k+q] (=, or += when accumulate)
// dy[n,c,i,j]/k^2, and 0 at positions outside every window, as
// gpu.Backend.AvgPoolBackward. xs is the shape of dx.
func AvgPoolBackward(dx, dy []float64, xs Shape, k int, accumulate bool) {
	const op = "AvgPoolBackward"
	ys := AvgPoolOutput(xs, k)
	if k <= 0 || ys.H <= 0 || ys.W <= 0 {
		panic(fmt.Sprintf("ref.%s: window %d on %v", op, k, xs))
	}
	need(op, "dx", dx, xs.Elems())
	need(op, "dy", dy, ys.Elems())
	g := make([]float64, xs.Elems())
	for n := 0; n < ys.N; n++ {
		for c := 0; c < ys.C; c++ {
			for i := 0; i < ys.H; i++ {
				for j := 0; j < ys.W; j++ {
					d := dy[ys.Index(n, c, i, j)] / float64(k*k)
					for p := 0; p < k; p++ {
						for q := 0; q < k; q++ {
							g[xs.Index(n, c, i*k+p, j*k+q)] = d
						}
					}
				}
			}
		}
	}
	store(dx, g, accumulate)
}

// GlobalAvgPoolForward: y[n,c] = (1/(H*W)) sum_{i,j} x[n,c,i,j], as
// gpu.Backend.GlobalAvgPoolForward. xs is the shape of x; y has N*C elements.
func GlobalAvgPoolForward(y, x []float64, xs Shape) {
	need("GlobalAvgPoolForward", "y", y, xs.N*xs.C)
	need("GlobalAvgPoolForward", "x", x, xs.Elems())
	hw := xs.H * xs.W
	for nc := 0; nc < xs.N*xs.C; nc++ {
		sum := 0.0
		for _, v := range x[nc*hw : (nc+1)*hw] {
			sum += v
		}
		y[nc] = sum / float64(hw)
	}
}

// GlobalAvgPoolBackward: dx[n,c,i,j] (=, or += when accumulate)
// dy[n,c]/(H*W), as gpu.Backend.GlobalAvgPoolBackward. xs is the shape of dx.
func GlobalAvgPoolBackward(dx, dy []float64, xs Shape, accumulate bool) {
	need("GlobalAvgPoolBackward", "dx", dx, xs.Elems())
	need("GlobalAvgPoolBackward", "dy", dy, xs.N*xs.C)
	hw := xs.H * xs.W
	g := make([]float64, xs.Elems())
	for nc := 0; nc < xs.N*xs.C; nc++ {
		for i := range hw {
			g[nc*hw+i] = dy[nc] / float64(hw)
		}
	}
	store(dx, g, accumulate)
}

// LinearForward: y[n,o] = sum_i w[o,i] x[n,i] + b[o], as
// gpu.Backend.LinearForward; x is n x in, y n x out, w [out][in], b [out].
func LinearForward(y, x, w, b []float64, n, in, out int) {
	const op = "LinearForward"
	need(op, "y", y, n*out)
	need(op, "x", x, n*in)
	need(op, "w", w, out*in)
	need(op, "b", b, out)
	for s := 0; s < n; s++ {
		for o := 0; o < out; o++ {
			sum := b[o]
			for i := 0; i < in; i++ {
				sum += w[o*in+i] * x[s*in+i]
			}
			y[s*out+o] = sum
		}
	}
}

// LinearBackward, as gpu.Backend.LinearBackward:
//
//	dw[o,i] += sum_n dy[n,o] x[n,i]
//	db[o] += sum_n dy[n,o]
//	dx[n,i] (=, or += when accumulate) sum_o dy[n,o] w[o,i], unless dx is nil.
func LinearBackward(dx, dw, db, dy, x, w []float64, n, in, out int, accumulate bool) {
	const op = "LinearBackward"
	need(op, "dw", dw, out*in)
	need(op, "db", db, out)
	need(op, "dy", dy, n*out)
	need(op, "x", x, n*in)
	need(op, "w", w, out*in)
	for o := 0; o < out; o++ {
		for s := 0; s < n; s++ {
			d := dy[s*out+o]
			db[o] += d
			for i := 0; i < in; i++ {
				dw[o*in+i] += d * x[s*in+i]
			}
		}
	}
	if dx == nil {
		return
	}
	need(op, "dx", dx, n*in)
	g := make([]float64, n*in)
	for s := 0; s < n; s++ {
		for i := 0; i < in; i++ {
			sum := 0.0
			for o := 0; o < out; o++ {
				sum += dy[s*out+o] * w[o*in+i]
			}
			g[s*in+i] = sum
		}
	}
	store(dx, g, accumulate)
}

// DropoutKeep reports whether dropout with rate p and seed keeps the element
// of NCHW index e: Uniform(Mix(seed, e)) >= p, compared in float32 exactly as
// every backend compares it.
func DropoutKeep(p float32, seed uint64, e int) bool {
	return gpu.Uniform(gpu.Mix(seed, uint64(e))) >= p
}

func dropoutScale(op string, p float32) float64 {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("ref.%s: rate %v outside [0, 1)", op, p))
	}
	return 1 / (1 - float64(p))
}

// DropoutForward: y[e] = x[e] * keep(e) / (1-p) with keep = DropoutKeep(p,
// seed, e), e the NCHW index within the tensor, as gpu.Backend.DropoutForward.
func DropoutForward(y, x []float64, p float32, seed uint64) {
	scale := dropoutScale("DropoutForward", p)
	need("DropoutForward", "y", y, len(x))
	for e, v := range x {
		if DropoutKeep(p, seed, e) {
			y[e] = v * scale
		} else {
			y[e] = 0
		}
	}
}

// DropoutBackward: dx[e] (=, or += when accumulate) dy[e] * keep(e) / (1-p)
// with the mask of DropoutForward, as gpu.Backend.DropoutBackward.
func DropoutBackward(dx, dy []float64, p float32, seed uint64, accumulate bool) {
	scale := dropoutScale("DropoutBackward", p)
	need("DropoutBackward", "dx", dx, len(dy))
	g := make([]float64, len(dy))
	for e, v := range dy {
		if DropoutKeep(p, seed, e) {
			g[e] = v * scale
		}
	}
	store(dx, g, accumulate)
}
