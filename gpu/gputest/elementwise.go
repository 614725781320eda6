package gputest

import (
	"repro/gpu"
	"repro/gpu/ref"
)

// layout is where an operand lives: a whole tensor (parent 0) or channels
// [c0, c0+C) of a parent of parent channels.
type layout struct{ parent, c0 int }

func (e *env) place(s ref.Shape, l layout) gpu.Tensor { return e.at(s, l.parent, l.c0) }

var (
	whole = layout{}
	// narrowView and wideView put an operand in the middle of a wider
	// parent, so that writes past either end of the view are caught.
	narrowView = func(s ref.Shape) layout { return layout{s.C + 3, 1} }
	wideView   = func(s ref.Shape) layout { return layout{2*s.C + 1, s.C} }
)

func elementwiseCases() []Case {
	s := ref.Shape{N: 4, C: 16, H: 8, W: 8}
	odd := ref.Shape{N: 3, C: 5, H: 5, W: 7}
	var cs []Case
	for _, c := range []struct {
		name  string
		shape ref.Shape
		x, y  layout
	}{
		{"16ch-8x8", s, whole, whole},
		{"odd-5x7-views", odd, narrowView(odd), wideView(odd)},
	} {
		cs = append(cs,
			newCase(join("relu", c.name, "forward"), func(e *env) {
				x := e.place(c.shape, c.x)
				xv := e.fill(x)
				xBefore := e.snap(x)
				y := e.place(c.shape, c.y)
				before := e.snap(y)
				e.do("ReLUForward", e.b.ReLUForward(y, x))
				want := make([]float64, len(xv))
				ref.ReLUForward(want, widen(xv))
				e.expect("y", y, before, want)
				e.unchanged("x", x, xBefore)
			}),
			newCase(join("relu", c.name, "forward-in-place"), func(e *env) {
				x := e.place(c.shape, c.x)
				xv := e.fill(x)
				before := e.snap(x)
				e.do("ReLUForward(x, x)", e.b.ReLUForward(x, x))
				want := make([]float64, len(xv))
				ref.ReLUForward(want, widen(xv))
				e.expect("y == x", x, before, want)
			}),
			newCase(join("relu", c.name, "backward"), func(e *env) {
				y, dy := e.place(c.shape, c.y), e.place(c.shape, c.x)
				yv := reluOf(e.rnd(c.shape.Elems())) // exact zeros where x < 0
				e.put(y, yv)
				dyv := e.fill(dy)
				dx := e.place(c.shape, c.y)
				before := e.snap(dx)
				e.do("ReLUBackward", e.b.ReLUBackward(dx, dy, y))
				want := make([]float64, len(yv))
				ref.ReLUBackward(want, widen(dyv), widen(yv))
				e.expect("dx", dx, before, want)
			}),
			newCase(join("relu", c.name, "backward-in-place"), func(e *env) {
				y, dy := e.place(c.shape, c.x), e.place(c.shape, c.y)
				yv := reluOf(e.rnd(c.shape.Elems()))
				e.put(y, yv)
				dyv := e.fill(dy)
				before := e.snap(dy)
				e.do("ReLUBackward(dy, dy, y)", e.b.ReLUBackward(dy, dy, y))
				want := make([]float64, len(yv))
				ref.ReLUBackward(want, widen(dyv), widen(yv))
				e.expect("dx == dy", dy, before, want)
			}),
		)
	}

	for _, c := range []struct {
		name string
		a, s ref.Shape
		y    layout
	}{
		{"identity-16ch-32x32", ref.Shape{N: 4, C: 16, H: 32, W: 32}, ref.Shape{N: 4, C: 16, H: 32, W: 32}, whole},
		{"option-a-16to32-s2", ref.Shape{N: 4, C: 32, H: 16, W: 16}, ref.Shape{N: 4, C: 16, H: 32, W: 32}, whole},
		{"option-a-32to64-s2", ref.Shape{N: 4, C: 64, H: 8, W: 8}, ref.Shape{N: 4, C: 32, H: 16, W: 16}, whole},
		{"option-a-4to8-s2-view", ref.Shape{N: 2, C: 8, H: 3, W: 3}, ref.Shape{N: 2, C: 4, H: 6, W: 6}, layout{11, 2}},
		// An odd channel difference: (a.C-s.C)/2 rounds down, one more
		// zero channel after s than before it.
		{"option-a-odd-4to7-s2", ref.Shape{N: 2, C: 7, H: 3, W: 3}, ref.Shape{N: 2, C: 4, H: 6, W: 6}, whole},
	} {
		cs = append(cs,
			newCase(join("residual", c.name, "forward"), func(e *env) {
				a, s := e.tensor(c.a), e.tensor(c.s)
				av, sv := e.fill(a), e.fill(s)
				y := e.place(c.a, c.y)
				before := e.snap(y)
				e.do("ResidualForward", e.b.ResidualForward(y, a, s))
				want := make([]float64, c.a.Elems())
				ref.ResidualForward(want, widen(av), widen(sv), c.a, c.s)
				e.expect("y", y, before, want)
			}),
			newCase(join("residual", c.name, "shortcut-backward"), func(e *env) {
				dy := e.tensor(c.a)
				dyv := e.fill(dy)
				g := make([]float64, c.s.Elems())
				ref.ShortcutBackward(g, widen(dyv), c.s, c.a, false)
				ds := e.place(c.s, c.y)
				before := e.snap(ds)
				e.do("ShortcutBackward", e.b.ShortcutBackward(ds, dy, false))
				e.expect("ds", ds, before, g)
				ds = e.place(c.s, c.y)
				ds0 := e.fill(ds)
				before = e.snap(ds)
				e.do("ShortcutBackward (accumulate)", e.b.ShortcutBackward(ds, dy, true))
				e.expect("ds (accumulate)", ds, before, addTo(ds0, g))
			}),
		)
	}

	for _, c := range []struct {
		name  string
		shape ref.Shape
		l     layout
	}{{"16ch-8x8", s, whole}, {"odd-5x7-views", odd, narrowView(odd)}} {
		for _, mode := range []string{"separate", "y=a", "y=b"} {
			cs = append(cs, newCase(join("add", c.name, mode), func(e *env) {
				a, b := e.place(c.shape, c.l), e.place(c.shape, c.l)
				av, bv := e.fill(a), e.fill(b)
				y := e.place(c.shape, wideView(c.shape))
				switch mode {
				case "y=a":
					y = a
				case "y=b":
					y = b
				}
				before := e.snap(y)
				e.do("AddForward", e.b.AddForward(y, a, b))
				want := make([]float64, len(av))
				ref.AddForward(want, widen(av), widen(bv))
				e.expect("y", y, before, want)
			}))
		}
	}
	return cs
}

// reluOf returns max(v, 0) element by element.
func reluOf(v []float32) []float32 {
	for i := range v {
		v[i] = max(v[i], 0)
	}
	return v
}
