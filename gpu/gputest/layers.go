package gputest

import (
	"fmt"
	"slices"

	"repro/gpu"
	"repro/gpu/ref"
)

func poolCases() []Case {
	var cs []Case
	for _, c := range []struct {
		name   string
		x      ref.Shape
		k      int
		xl, yl layout
	}{
		// A DenseNet transition pools into the first channels of the next
		// block's buffer, and takes its gradient from there.
		{"densenet-transition-24ch-16x16-k2", ref.Shape{N: 4, C: 24, H: 16, W: 16}, 2, whole, layout{36, 0}},
		{"odd-6x9-k3-views", ref.Shape{N: 2, C: 3, H: 6, W: 9}, 3, narrowView(ref.Shape{C: 3}), wideView(ref.Shape{C: 3})},
	} {
		ys := ref.AvgPoolOutput(c.x, c.k)
		cs = append(cs,
			newCase(join("avgpool", c.name, "forward"), func(e *env) {
				x := e.place(c.x, c.xl)
				xv := e.fill(x)
				y := e.place(ys, c.yl)
				before := e.snap(y)
				e.do("AvgPoolForward", e.b.AvgPoolForward(y, x, c.k))
				want := make([]float64, ys.Elems())
				ref.AvgPoolForward(want, widen(xv), c.x, c.k)
				e.expect("y", y, before, want)
			}),
			newCase(join("avgpool", c.name, "backward"), func(e *env) {
				dy := e.place(ys, c.yl)
				dyv := e.fill(dy)
				g := make([]float64, c.x.Elems())
				ref.AvgPoolBackward(g, widen(dyv), c.x, c.k, false)
				dx := e.place(c.x, c.xl)
				before := e.snap(dx)
				e.do("AvgPoolBackward", e.b.AvgPoolBackward(dx, dy, c.k, false))
				e.expect("dx", dx, before, g)
				dx = e.place(c.x, c.xl)
				dx0 := e.fill(dx)
				before = e.snap(dx)
				e.do("AvgPoolBackward (accumulate)", e.b.AvgPoolBackward(dx, dy, c.k, true))
				e.expect("dx (accumulate)", dx, before, addTo(dx0, g))
			}),
		)
	}
	for _, c := range []struct {
		name   string
		x      ref.Shape
		xl, yl layout
	}{
		{"resnet-64ch-8x8", ref.Shape{N: 4, C: 64, H: 8, W: 8}, whole, whole},
		{"views-40of52ch-8x8", ref.Shape{N: 4, C: 40, H: 8, W: 8}, layout{52, 0}, layout{45, 3}},
		{"odd-5x7", ref.Shape{N: 3, C: 5, H: 5, W: 7}, whole, whole},
	} {
		ys := ref.Shape{N: c.x.N, C: c.x.C, H: 1, W: 1}
		cs = append(cs,
			newCase(join("global-avgpool", c.name, "forward"), func(e *env) {
				x := e.place(c.x, c.xl)
				xv := e.fill(x)
				y := e.place(ys, c.yl)
				before := e.snap(y)
				e.do("GlobalAvgPoolForward", e.b.GlobalAvgPoolForward(y, x))
				want := make([]float64, ys.Elems())
				ref.GlobalAvgPoolForward(want, widen(xv), c.x)
				e.expect("y", y, before, want)
			}),
			newCase(join("global-avgpool", c.name, "backward"), func(e *env) {
				dy := e.place(ys, c.yl)
				dyv := e.fill(dy)
				g := make([]float64, c.x.Elems())
				ref.GlobalAvgPoolBackward(g, widen(dyv), c.x, false)
				dx := e.place(c.x, c.xl)
				before := e.snap(dx)
				e.do("GlobalAvgPoolBackward", e.b.GlobalAvgPoolBackward(dx, dy, false))
				e.expect("dx", dx, before, g)
				dx = e.place(c.x, c.xl)
				dx0 := e.fill(dx)
				before = e.snap(dx)
				e.do("GlobalAvgPoolBackward (accumulate)", e.b.GlobalAvgPoolBackward(dx, dy, true))
				e.expect("dx (accumulate)", dx, before, addTo(dx0, g))
			}),
		)
	}
	return cs
}

func linearCases() []Case {
	var cs []Case
	for _, c := range []struct {
		name       string
		n, in, out int
		xl, yl     layout
	}{
		{"resnet-64to10-n8", 8, 64, 10, whole, whole},
		{"densenet-bc-342to10-n4", 4, 342, 10, whole, whole},
		{"odd-7to5-n3-views", 3, 7, 5, layout{10, 2}, layout{6, 1}},
	} {
		xs, ys := ref.Shape{N: c.n, C: c.in, H: 1, W: 1}, ref.Shape{N: c.n, C: c.out, H: 1, W: 1}
		cs = append(cs,
			newCase(join("linear", c.name, "forward"), func(e *env) {
				x := e.place(xs, c.xl)
				xv := e.fill(x)
				wv, bv := e.rnd(c.out*c.in), e.rnd(c.out)
				w, b := e.slice(wv), e.slice(bv)
				y := e.place(ys, c.yl)
				before := e.snap(y)
				e.do("LinearForward", e.b.LinearForward(y, x, w, b))
				want := make([]float64, ys.Elems())
				ref.LinearForward(want, widen(xv), widen(wv), widen(bv), c.n, c.in, c.out)
				e.expect("y", y, before, want)
			}),
			newCase(join("linear", c.name, "backward"), func(e *env) {
				x, dy := e.place(xs, c.xl), e.place(ys, c.yl)
				xv, dyv := e.fill(x), e.fill(dy)
				wv := e.rnd(c.out * c.in)
				w := e.slice(wv)
				gx, gw, gb := make([]float64, xs.Elems()), make([]float64, len(wv)), make([]float64, c.out)
				ref.LinearBackward(gx, gw, gb, widen(dyv), widen(xv), widen(wv), c.n, c.in, c.out, false)
				dw0, db0 := e.rnd(len(wv)), e.rnd(c.out)
				dw, db := e.slice(dw0), e.slice(db0)

				e.do("LinearBackward (no dx)", e.b.LinearBackward(gpu.Tensor{}, dw, db, dy, x, w, false))
				e.expectS("dw (dx nil)", dw, addTo(dw0, gw))
				e.expectS("db (dx nil)", db, addTo(db0, gb))

				dw0, db0 = e.getS(dw), e.getS(db)
				dx := e.place(xs, c.xl)
				before := e.snap(dx)
				e.do("LinearBackward", e.b.LinearBackward(dx, dw, db, dy, x, w, false))
				e.expect("dx", dx, before, gx)
				e.expectS("dw", dw, addTo(dw0, gw))
				e.expectS("db", db, addTo(db0, gb))

				dx = e.place(xs, c.xl)
				dx0 := e.fill(dx)
				before = e.snap(dx)
				e.do("LinearBackward (accumulate)", e.b.LinearBackward(dx, dw, db, dy, x, w, true))
				e.expect("dx (accumulate)", dx, before, addTo(dx0, gx))
			}),
		)
	}
	return cs
}

func dropoutCases() []Case {
	var cs []Case
	for _, c := range []struct {
		name  string
		p     float32
		shape ref.Shape
		l     layout
	}{
		{"p0.2-16ch-8x8", 0.2, ref.Shape{N: 4, C: 16, H: 8, W: 8}, whole},
		{"p0.5-odd-5x7-views", 0.5, ref.Shape{N: 3, C: 5, H: 5, W: 7}, narrowView(ref.Shape{C: 5})},
	} {
		cs = append(cs,
			newCase(join("dropout", c.name, "forward"), func(e *env) {
				seed, key := e.dropoutSeed()
				x := e.place(c.shape, c.l)
				xv := e.fill(x)
				y := e.place(c.shape, wideView(c.shape))
				before := e.snap(y)
				e.do("DropoutForward", e.b.DropoutForward(y, x, c.p, seed))
				want := make([]float64, len(xv))
				ref.DropoutForward(want, widen(xv), c.p, key)
				e.expect("y", y, before, want)
			}),
			newCase(join("dropout", c.name, "backward"), func(e *env) {
				seed, key := e.dropoutSeed()
				dy := e.place(c.shape, c.l)
				dyv := e.fill(dy)
				g := make([]float64, len(dyv))
				ref.DropoutBackward(g, widen(dyv), c.p, key, false)
				dx := e.place(c.shape, c.l)
				before := e.snap(dx)
				e.do("DropoutBackward", e.b.DropoutBackward(dx, dy, c.p, seed, false))
				e.expect("dx", dx, before, g)
				dx = e.place(c.shape, c.l)
				dx0 := e.fill(dx)
				before = e.snap(dx)
				e.do("DropoutBackward (accumulate)", e.b.DropoutBackward(dx, dy, c.p, seed, true))
				e.expect("dx (accumulate)", dx, before, addTo(dx0, g))
			}),
		)
	}
	// the mask follows the value stored last, and each op's own cell and salt
	cs = append(cs, newCase("dropout/seed-in-memory", func(e *env) {
		const p = 0.5
		sh := ref.Shape{N: 2, C: 3, H: 4, W: 4}
		a, _ := e.dropoutSeed()
		b, _ := e.dropoutSeed()
		x := e.tensor(sh)
		xv := e.fill(x)
		y := e.tensor(sh)
		for i, k := range []struct {
			seed        gpu.DropoutSeed
			step, other uint64
		}{
			{a, e.rng.Uint64(), e.rng.Uint64()},
			{a, e.rng.Uint64(), e.rng.Uint64()}, // a new step, the same op
			{gpu.DropoutSeed{Step: a.Step, Salt: a.Salt + 1}, e.rng.Uint64(), e.rng.Uint64()},
			{b, e.rng.Uint64(), e.rng.Uint64()}, // a's cell holds other
		} {
			cell, other := k.seed.Step, b.Step
			if k.seed.Step == b.Step {
				other = a.Step
			}
			e.do("SetSeed", e.b.SetSeed(cell, k.step))
			e.do("SetSeed (another op's)", e.b.SetSeed(other, k.other))
			before := e.snap(y)
			e.do("DropoutForward", e.b.DropoutForward(y, x, p, k.seed))
			want := make([]float64, len(xv))
			ref.DropoutForward(want, widen(xv), p, k.seed.Key(k.step))
			e.expect(fmt.Sprintf("y (seed %d)", i), y, before, want)
			if w := gpu.SeedWords(k.step); !slices.Equal(e.getI(cell), w[:]) {
				e.errorf("seed %d: the cell holds %v after SetSeed(%#x), want %v", i, e.getI(cell), k.step, w)
			}
		}
		for _, s := range []gpu.IntSlice{a.Step, b.Step} {
			if g := e.getI(gpu.IntSlice{Buf: s.Buf, Off: s.Off - 1, Len: s.Len + 2}); g[0] != guardInt || g[3] != guardInt {
				e.errorf("SetSeed wrote outside its 2 elements: %v", g)
			}
		}
	}))
	return cs
}

// dropoutSeed stores a random step seed in a fresh cell (between guards, at
// an odd element) and returns a DropoutSeed of random salt with its key.
func (e *env) dropoutSeed() (gpu.DropoutSeed, uint64) {
	s := gpu.DropoutSeed{Step: e.ints(make([]int32, 2)), Salt: e.rng.Uint64()}
	step := e.rng.Uint64()
	e.do("SetSeed", e.b.SetSeed(s.Step, step))
	return s, s.Key(step)
}
