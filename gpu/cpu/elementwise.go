package cpu

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/cpu/vec"
)

// elementwise is the task of the ops that need no plan; one op runs at a
// time, so one struct in the Backend serves them all without allocating.
type elementwise struct {
	op         int
	y, a, s    view // outputs and inputs, named per op below
	f, pad, k  int
	accumulate bool
	p, keep    float32
	seed       uint64
}

const (
	ewReLU           = iota // y = max(a, 0)
	ewReLUBack              // y = s where a > 0 (y: dx, s: dy, a: forward output)
	ewResidual              // y = a + shortcut(s)
	ewShortcutBack          // y (=, +=) shortcut^T(a) (y: ds, a: dy)
	ewAdd                   // y = a + s
	ewAvgPool               // y = avgpool_k(a), over output pixels
	ewAvgPoolBack           // y (=, +=) avgpool_k^T(a), over dy pixels
	ewGlobalPool            // y[n] = mean a[n], over images
	ewGlobalPoolBack        // y (=, +=) a[n]/HW, over y pixels
	ewDropout               // y (=, += when backward) a*keep/(1-p)
)

func (b *Backend) runEW(op int, items int) {
	b.ew.op = op
	b.pool.run(&b.ew, items)
}

// ReLUForward computes y = max(x, 0); y may be x.
func (b *Backend) ReLUForward(y, x gpu.Tensor) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.SameShape(x, y) {
		return fmt.Errorf("cpu relu forward: y %v, x %v: %v", y, x, errOrShape(err))
	}
	b.ew.y, b.ew.a = vy, vx
	b.runEW(ewReLU, vx.pix())
	return nil
}

// ReLUBackward computes dx = dy where y > 0, else 0; dx may be dy.
func (b *Backend) ReLUBackward(dx, dy, y gpu.Tensor) error {
	vdx, vdy, err := resolve2(dx, dy)
	if err == nil {
		b.ew.a, err = resolve(y)
	}
	if err != nil || !gpu.SameShape(dx, dy) || !gpu.SameShape(dy, y) {
		return fmt.Errorf("cpu relu backward: dx %v, dy %v, y %v: %v", dx, dy, y, errOrShape(err))
	}
	b.ew.y, b.ew.s = vdx, vdy
	b.runEW(ewReLUBack, vdx.pix())
	return nil
}

func errOrShape(err error) error {
	if err != nil {
		return err
	}
	return errShape
}

var errShape = fmt.Errorf("shapes do not match")

// ResidualForward computes y = a + shortcut(s); see gpu.Backend.
func (b *Backend) ResidualForward(y, a, s gpu.Tensor) error {
	f, pad, ok := gpu.ShortcutGeometry(a, s)
	vy, va, err := resolve2(y, a)
	if err == nil {
		b.ew.s, err = resolve(s)
	}
	if err != nil || !ok || !gpu.SameShape(y, a) {
		return fmt.Errorf("cpu residual forward: y %v, a %v, s %v: %v", y, a, s, errOrShape(err))
	}
	b.ew.y, b.ew.a, b.ew.f, b.ew.pad = vy, va, f, pad
	b.runEW(ewResidual, va.pix())
	return nil
}

// ShortcutBackward computes ds (=, +=) shortcut^T(dy); see gpu.Backend.
func (b *Backend) ShortcutBackward(ds, dy gpu.Tensor, accumulate bool) error {
	f, pad, ok := gpu.ShortcutGeometry(dy, ds)
	vds, vdy, err := resolve2(ds, dy)
	if err != nil || !ok {
		return fmt.Errorf("cpu shortcut backward: ds %v, dy %v: %v", ds, dy, errOrShape(err))
	}
	b.ew.y, b.ew.a, b.ew.f, b.ew.pad, b.ew.accumulate = vds, vdy, f, pad, accumulate
	b.runEW(ewShortcutBack, vds.pix())
	return nil
}

// AddForward computes y = a + c; y may alias either input.
func (b *Backend) AddForward(y, a, c gpu.Tensor) error {
	vy, va, err := resolve2(y, a)
	if err == nil {
		b.ew.s, err = resolve(c)
	}
	if err != nil || !gpu.SameShape(y, a) || !gpu.SameShape(a, c) {
		return fmt.Errorf("cpu add: y %v, a %v, b %v: %v", y, a, c, errOrShape(err))
	}
	b.ew.y, b.ew.a = vy, va
	b.runEW(ewAdd, vy.pix())
	return nil
}

// AvgPoolForward averages K x K windows with stride K.
func (b *Backend) AvgPoolForward(y, x gpu.Tensor, k int) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.PoolShapes(y, x, k) {
		return fmt.Errorf("cpu avg pool %d forward: y %v, x %v: %v", k, y, x, errOrShape(err))
	}
	b.ew.y, b.ew.a, b.ew.k = vy, vx, k
	b.runEW(ewAvgPool, vy.pix())
	return nil
}

// AvgPoolBackward spreads dy/K^2 over each window.
func (b *Backend) AvgPoolBackward(dx, dy gpu.Tensor, k int, accumulate bool) error {
	vdx, vdy, err := resolve2(dx, dy)
	if err != nil || !gpu.PoolShapes(dy, dx, k) {
		return fmt.Errorf("cpu avg pool %d backward: dx %v, dy %v: %v", k, dx, dy, errOrShape(err))
	}
	b.ew.y, b.ew.a, b.ew.k, b.ew.accumulate = vdx, vdy, k, accumulate
	b.runEW(ewAvgPoolBack, vdy.pix())
	return nil
}

// GlobalAvgPoolForward averages each channel over the image.
func (b *Backend) GlobalAvgPoolForward(y, x gpu.Tensor) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || y.N != x.N || y.C != x.C || y.H != 1 || y.W != 1 {
		return fmt.Errorf("cpu global avg pool forward: y %v, x %v: %v", y, x, errOrShape(err))
	}
	b.ew.y, b.ew.a = vy, vx
	b.runEW(ewGlobalPool, vx.n)
	return nil
}

// GlobalAvgPoolBackward spreads dy/(H*W) over the image.
func (b *Backend) GlobalAvgPoolBackward(dx, dy gpu.Tensor, accumulate bool) error {
	vdx, vdy, err := resolve2(dx, dy)
	if err != nil || dy.N != dx.N || dy.C != dx.C || dy.H != 1 || dy.W != 1 {
		return fmt.Errorf("cpu global avg pool backward: dx %v, dy %v: %v", dx, dy, errOrShape(err))
	}
	b.ew.y, b.ew.a, b.ew.accumulate = vdx, vdy, accumulate
	b.runEW(ewGlobalPoolBack, vdx.pix())
	return nil
}

// DropoutForward zeroes elements with probability p and scales the rest.
func (b *Backend) DropoutForward(y, x gpu.Tensor, p float32, seed gpu.DropoutSeed) error {
	return b.dropout("forward", y, x, p, seed, false)
}

// DropoutBackward applies the forward mask to dy.
func (b *Backend) DropoutBackward(dx, dy gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	return b.dropout("backward", dx, dy, p, seed, accumulate)
}

func (b *Backend) dropout(op string, y, x gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.SameShape(y, x) || !(p >= 0 && p < 1) {
		return fmt.Errorf("cpu dropout %s: y %v, x %v, p %v: %v", op, y, x, p, errOrShape(err))
	}
	step, err := seedValue(seed.Step)
	if err != nil {
		return fmt.Errorf("cpu dropout %s: y %v: seed: %w", op, y, err)
	}
	b.ew.y, b.ew.a, b.ew.p, b.ew.seed, b.ew.accumulate = vy, vx, p, seed.Key(step), accumulate
	b.ew.keep = 1 / (1 - p)
	b.runEW(ewDropout, vx.pix())
	return nil
}

func (e *elementwise) run(_, lo, hi int) {
	switch e.op {
	case ewReLU:
		vec.ReLU(e.y.from(lo), e.y.ld, e.a.from(lo), e.a.ld, hi-lo, e.a.c)
	case ewReLUBack:
		vec.ReLUBackward(e.y.from(lo), e.y.ld, e.s.from(lo), e.s.ld, e.a.from(lo), e.a.ld, hi-lo, e.a.c)
	case ewAdd:
		vec.Add(e.y.from(lo), e.y.ld, e.a.from(lo), e.a.ld, e.s.from(lo), e.s.ld, hi-lo, e.a.c)
	case ewResidual:
		a := e.a
		if e.f == 1 && e.s.c == a.c { // the identity shortcut
			vec.Add(e.y.from(lo), e.y.ld, a.from(lo), a.ld, e.s.from(lo), e.s.ld, hi-lo, a.c)
			return
		}
		for p := lo; p < hi; p++ {
			n, i, j := p/(a.h*a.w), p/a.w%a.h, p%a.w
			y, s := e.y.row(p), e.s.row((n*e.s.h+i*e.f)*e.s.w+j*e.f)
			ar := a.row(p)
			copy(y, ar)
			y = y[e.pad : e.pad+len(s)]
			ar = ar[e.pad : e.pad+len(s)]
			for c, v := range s {
				y[c] = ar[c] + v
			}
		}
	case ewShortcutBack:
		ds, dy := e.y, e.a
		if e.f == 1 && ds.c == dy.c { // the identity shortcut
			vec.CopyAdd(ds.from(lo), ds.ld, dy.from(lo), dy.ld, hi-lo, ds.c, e.accumulate)
			return
		}
		for p := lo; p < hi; p++ {
			n, i, j := p/(ds.h*ds.w), p/ds.w%ds.h, p%ds.w
			out := ds.row(p)
			if i%e.f != 0 || j%e.f != 0 {
				if !e.accumulate {
					clear(out)
				}
				continue
			}
			in := dy.row((n*dy.h+i/e.f)*dy.w + j/e.f)[e.pad : e.pad+len(out)]
			if e.accumulate {
				for c, v := range in {
					out[c] += v
				}
			} else {
				copy(out, in)
			}
		}
	case ewAvgPool:
		y, x, k := e.y, e.a, e.k
		inv := 1 / float32(k*k)
		for p := lo; p < hi; p++ {
			n, i, j := p/(y.h*y.w), p/y.w%y.h, p%y.w
			out := y.row(p)
			clear(out)
			for dp := 0; dp < k; dp++ {
				for dq := 0; dq < k; dq++ {
					in := x.row((n*x.h+i*k+dp)*x.w + j*k + dq)[:len(out)]
					for c, v := range in {
						out[c] += v
					}
				}
			}
			for c := range out {
				out[c] *= inv
			}
		}
	case ewAvgPoolBack:
		dx, dy, k := e.y, e.a, e.k
		inv := 1 / float32(k*k)
		for p := lo; p < hi; p++ {
			n, i, j := p/(dy.h*dy.w), p/dy.w%dy.h, p%dy.w
			g := dy.row(p)
			for dp := 0; dp < k; dp++ {
				for dq := 0; dq < k; dq++ {
					out := dx.row((n*dx.h+i*k+dp)*dx.w + j*k + dq)[:len(g)]
					if e.accumulate {
						for c, v := range g {
							out[c] += v * inv
						}
					} else {
						for c, v := range g {
							out[c] = v * inv
						}
					}
				}
			}
		}
	case ewGlobalPool:
		x := e.a
		hw := x.h * x.w
		inv := 1 / float32(hw)
		for n := lo; n < hi; n++ {
			out := e.y.row(n)
			clear(out)
			for p := n * hw; p < (n+1)*hw; p++ {
				for c, v := range x.row(p)[:len(out)] {
					out[c] += v
				}
			}
			for c := range out {
				out[c] *= inv
			}
		}
	case ewGlobalPoolBack:
		dx := e.y
		hw := dx.h * dx.w
		inv := 1 / float32(hw)
		for p := lo; p < hi; p++ {
			g := e.a.row(p / hw)
			out := dx.row(p)[:len(g)]
			if e.accumulate {
				for c, v := range g {
					out[c] += v * inv
				}
			} else {
				for c, v := range g {
					out[c] = v * inv
				}
			}
		}
	case ewDropout:
		x := e.a
		hw := x.h * x.w
		for p := lo; p < hi; p++ {
			n, s := p/hw, p%hw
			y := e.y.row(p)
			for c, v := range x.row(p) {
				idx := uint64((n*x.c+c)*hw + s)
				r := float32(0)
				if gpu.Uniform(gpu.Mix(e.seed, idx)) >= e.p {
					r = v * e.keep
				}
				if e.accumulate {
					y[c] += r
				} else {
					y[c] = r
				}
			}
		}
	}
}
