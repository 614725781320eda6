package ref

import (
	"math/rand/v2"
	"testing"

	"repro/gpu"
)

// TestAccumulate checks that every op with an accumulate flag overwrites its
// input gradient when it is false (whatever was there) and adds to it when
// it is true, and that weight gradients always accumulate.
func TestAccumulate(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 0))
	cs := gpu.ConvSpec{N: 2, InC: 3, InH: 5, InW: 4, OutC: 2, Kernel: 3, Stride: 2, Pad: 1}
	bs := gpu.BatchNormSpec{N: 2, C: 3, H: 2, W: 2, Eps: 1e-5, Momentum: 0.1}
	bsh := Shape{2, 3, 2, 2}
	cx, cw, cdy := randVec(rng, ConvInput(cs).Elems()), randVec(rng, cs.WeightLen()), randVec(rng, ConvOutput(cs).Elems())
	bx, bdy, gamma := randVec(rng, bsh.Elems()), randVec(rng, bsh.Elems()), randVec(rng, 3)
	mean, invstd := randVec(rng, 3), randVec(rng, 3)
	pool := Shape{2, 2, 4, 4}
	pdy := randVec(rng, AvgPoolOutput(pool, 2).Elems())
	gdy := randVec(rng, pool.N*pool.C)
	a, s := Shape{2, 4, 2, 2}, Shape{2, 2, 4, 4}
	rdy := randVec(rng, a.Elems())
	lx, lw, ldy := randVec(rng, 3*5), randVec(rng, 4*5), randVec(rng, 3*4)
	ddy := randVec(rng, 50)

	// Each op computes an input gradient into dx.
	ops := []struct {
		name string
		n    int
		run  func(dx []float64, acc bool)
	}{
		{"conv", ConvInput(cs).Elems(), func(dx []float64, acc bool) {
			ConvBackward(dx, make([]float64, cs.WeightLen()), cdy, cx, cw, cs, acc)
		}},
		{"batchnorm", bsh.Elems(), func(dx []float64, acc bool) {
			BatchNormBackward(dx, make([]float64, 3), make([]float64, 3), bdy, bx, gamma, nil, mean, invstd, bs, acc)
		}},
		{"shortcut", s.Elems(), func(dx []float64, acc bool) { ShortcutBackward(dx, rdy, s, a, acc) }},
		{"avgpool", pool.Elems(), func(dx []float64, acc bool) { AvgPoolBackward(dx, pdy, pool, 2, acc) }},
		{"global avgpool", pool.Elems(), func(dx []float64, acc bool) { GlobalAvgPoolBackward(dx, gdy, pool, acc) }},
		{"linear", 3 * 5, func(dx []float64, acc bool) {
			LinearBackward(dx, make([]float64, 20), make([]float64, 4), ldy, lx, lw, 3, 5, 4, acc)
		}},
		{"dropout", 50, func(dx []float64, acc bool) { DropoutBackward(dx, ddy, 0.4, 77, acc) }},
	}
	for _, op := range ops {
		g := make([]float64, op.n)
		op.run(g, false)
		junk := randVec(rng, op.n)
		op.run(junk, false)
		init := randVec(rng, op.n)
		acc := append([]float64(nil), init...)
		op.run(acc, true)
		for i := range g {
			if junk[i] != g[i] {
				t.Fatalf("%s: accumulate=false kept old contents at %d: %g, want %g", op.name, i, junk[i], g[i])
			}
			if d := acc[i] - (init[i] + g[i]); d > 1e-12 || d < -1e-12 {
				t.Fatalf("%s: accumulate=true at %d: %g, want %g + %g", op.name, i, acc[i], init[i], g[i])
			}
		}
	}

	// Weight gradients always accumulate.
	dw0, db0 := randVec(rng, 20), randVec(rng, 4)
	dw, db := append([]float64(nil), dw0...), append([]float64(nil), db0...)
	gw, gb := make([]float64, 20), make([]float64, 4)
	LinearBackward(nil, gw, gb, ldy, lx, lw, 3, 5, 4, false)
	LinearBackward(nil, dw, db, ldy, lx, lw, 3, 5, 4, false)
	for i := range dw {
		if d := dw[i] - dw0[i] - gw[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("linear dw does not accumulate at %d", i)
		}
	}
	for i := range db {
		if d := db[i] - db0[i] - gb[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("linear db does not accumulate at %d", i)
		}
	}
	cdw0 := randVec(rng, cs.WeightLen())
	cdw := append([]float64(nil), cdw0...)
	cgw := make([]float64, cs.WeightLen())
	ConvBackward(nil, cgw, cdy, cx, cw, cs, false)
	ConvBackward(nil, cdw, cdy, cx, cw, cs, false)
	for i := range cdw {
		if d := cdw[i] - cdw0[i] - cgw[i]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("conv dw does not accumulate at %d", i)
		}
	}
	g0, b0 := randVec(rng, 3), randVec(rng, 3)
	dg, dbeta := append([]float64(nil), g0...), append([]float64(nil), b0...)
	gg, gbeta := make([]float64, 3), make([]float64, 3)
	BatchNormBackward(make([]float64, bsh.Elems()), gg, gbeta, bdy, bx, gamma, nil, mean, invstd, bs, false)
	BatchNormBackward(make([]float64, bsh.Elems()), dg, dbeta, bdy, bx, gamma, nil, mean, invstd, bs, false)
	for c := range 3 {
		if d := dg[c] - g0[c] - gg[c]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("batchnorm dgamma does not accumulate at %d", c)
		}
		if d := dbeta[c] - b0[c] - gbeta[c]; d > 1e-12 || d < -1e-12 {
			t.Fatalf("batchnorm dbeta does not accumulate at %d", c)
		}
	}
}

// TestInPlace checks the aliasing the interface allows: ReLUForward with
// y == x, ReLUBackward with dx == dy, AddForward with y == a or y == b.
func TestInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 0))
	x := randVec(rng, 30)
	y := make([]float64, 30)
	ReLUForward(y, x)
	z := append([]float64(nil), x...)
	ReLUForward(z, z)
	dy := randVec(rng, 30)
	dx := make([]float64, 30)
	ReLUBackward(dx, dy, y)
	dz := append([]float64(nil), dy...)
	ReLUBackward(dz, dz, y)
	b := randVec(rng, 30)
	sum := make([]float64, 30)
	AddForward(sum, x, b)
	ya := append([]float64(nil), x...)
	AddForward(ya, ya, b)
	yb := append([]float64(nil), b...)
	AddForward(yb, x, yb)
	for i := range x {
		if z[i] != y[i] || dz[i] != dx[i] || ya[i] != sum[i] || yb[i] != sum[i] {
			t.Fatalf("in-place result differs at %d", i)
		}
	}
}
