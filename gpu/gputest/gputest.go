// Package gputest is the conformance suite of gpu.Backend: every backend's
// tests call Run, which checks each op on fresh, seeded random inputs against
// package gpu/ref computed in float64 on the same float32-rounded inputs.
//
// Error metric. For each output the suite computes
//
//	relErr = max_i |got_i - want_i| / max(max_i |want_i|, 1e-6)
//
// (RelErr), +Inf when got holds a NaN or an infinity, and fails the output
// when relErr > tol. Normalizing by the largest reference value, not element
// by element, keeps results that cancel to near zero from failing a correct
// float32 backend. Integer outputs (labels, error counts) must match exactly.
// For optimizer steps and running statistics the suite compares the change
// (new - old) rather than the new value, so that a mistake in a small term
// (weight decay, bias correction, the unbiased variance) is not hidden by a
// large parameter. tol is 1e-5 or a little more for strict float32 and about
// 2e-3 for TF32 convolutions.
//
// Guards. Before an op overwrites an output, the whole buffer around it (the
// parent tensor of a channel view, one element on each side of a Slice) is
// filled with NaN; afterwards every element outside the output must be
// bit-for-bit as before and no element inside may be NaN. This catches
// writes out of bounds, elements left unwritten, and outputs that are read
// before being written. Inputs given as views have NaN in the parent's other
// channels, so an op that reads outside its view produces NaN. An output
// that accumulates (accumulate=true, weight gradients, metrics) starts from
// known random values and must end at those plus the reference result.
// Inputs of convolutions and batch norm must be left unchanged.
//
// Every check is also available as a Case whose Check returns an error, so
// that a backend's test can run a subset, and the suite's own tests can show
// that a wrong op fails.
package gputest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/ref"
)

// Case is one check of the suite: Check runs it on b and returns what failed
// (errors.Join of every output out of tolerance), or nil.
type Case struct {
	Name  string
	Check func(b gpu.Backend, tol float64) error
}

// Cases lists every check of the suite, in the order Run runs them. Names
// are "op/shape/direction"-like paths, stable for filtering.
func Cases() []Case {
	var cs []Case
	for _, group := range [][]Case{memoryCases(), convCases(), batchNormCases(), elementwiseCases(),
		poolCases(), linearCases(), dropoutCases(), lossCases(), optimizerCases(), datasetCases()} {
		cs = append(cs, group...)
	}
	return cs
}

// Run runs every Case as a subtest of t on backend b, failing any output
// whose relative error (see RelErr) exceeds tol. The subtests run one after
// another: a backend is used from one goroutine at a time.
func Run(t *testing.T, b gpu.Backend, tol float64) {
	t.Helper()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Check(b, tol); err != nil {
				t.Error(err)
			}
		})
	}
}

// RelErr is the suite's error metric: max_i |got_i - want_i| divided by
// max(max_i |want_i|, 1e-6); +Inf if got holds a NaN or an infinity.
func RelErr(got []float32, want []float64) float64 {
	r, _ := relErr(got, want)
	return r
}

// Compare returns an error naming the worst element when RelErr(got, want)
// exceeds tol or the lengths differ.
func Compare(got []float32, want []float64, tol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	r, at := relErr(got, want)
	if r <= tol {
		return nil
	}
	return fmt.Errorf("relative error %.3g > %.3g at element %d: got %.8g, want %.8g (max |want| %.3g)",
		r, tol, at, got[at], want[at], maxAbs(want))
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}

func relErr(got []float32, want []float64) (float64, int) {
	worst, at := 0.0, 0
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1), i
		}
		if d := math.Abs(g - want[i]); d > worst {
			worst, at = d, i
		}
	}
	return worst / max(maxAbs(want), 1e-6), at
}

// failure is what env.do panics with to end a case early; the case's runner
// turns it back into the case's error.
type failure struct{ err error }

// env is the state of one running case.
type env struct {
	b    gpu.Backend
	tol  float64
	rng  *rand.Rand
	errs []error
}

// newCase wraps body as a Case whose random inputs are seeded by its name.
func newCase(name string, body func(e *env)) Case {
	h := fnv.New64a()
	h.Write([]byte(name))
	seed := h.Sum64()
	return Case{Name: name, Check: func(b gpu.Backend, tol float64) (err error) {
		e := &env{b: b, tol: tol, rng: rand.New(rand.NewPCG(seed, 0x6770757465737421))}
		defer func() {
			if r := recover(); r != nil {
				f, ok := r.(failure)
				if !ok {
					panic(r)
				}
				err = errors.Join(append(e.errs, f.err)...)
			}
		}()
		body(e)
		e.do("Sync", b.Sync())
		return errors.Join(e.errs...)
	}}
}

// do ends the case when an op or a transfer fails.
func (e *env) do(what string, err error) {
	if err != nil {
		panic(failure{fmt.Errorf("%s: %w", what, err)})
	}
}

// errorf records a failure and lets the case go on.
func (e *env) errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf(format, args...))
}

// compare records a failure when got is not within tolerance of want.
func (e *env) compare(name string, got []float32, want []float64) {
	if err := Compare(got, want, e.tol); err != nil {
		e.errorf("%s: %w", name, err)
	}
}

// compareExact records a failure unless got equals want exactly (counts).
func (e *env) compareExact(name string, got []float32, want []float64) {
	for i := range want {
		if float64(got[i]) != want[i] {
			e.errorf("%s: element %d = %v, want exactly %v", name, i, got[i], want[i])
			return
		}
	}
}

var nan32 = float32(math.NaN())

// uniform returns n float32 values uniform in [lo, hi).
func (e *env) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*e.rng.Float64())
	}
	return v
}

// rnd returns n float32 values uniform in [-1, 1).
func (e *env) rnd(n int) []float32 { return e.uniform(n, -1, 1) }

func widen(v []float32) []float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = float64(x)
	}
	return w
}

func nans(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = nan32
	}
	return v
}

// parentOf is the whole tensor a view belongs to.
func parentOf(t gpu.Tensor) gpu.Tensor {
	p := t
	p.C0, p.C = 0, t.ParentC
	return p
}

// tensor allocates a tensor of shape s filled with NaN.
func (e *env) tensor(s ref.Shape) gpu.Tensor { return e.view(s, s.C, 0) }

// view allocates an N x parentC x H x W parent filled with NaN and returns
// its channels [c0, c0+s.C).
func (e *env) view(s ref.Shape, parentC, c0 int) gpu.Tensor {
	p, err := e.b.NewTensor(s.N, parentC, s.H, s.W)
	e.do(fmt.Sprintf("NewTensor(%d, %d, %d, %d)", s.N, parentC, s.H, s.W), err)
	e.put(p, nans(p.Elems()))
	return p.Channels(c0, s.C)
}

func (e *env) put(t gpu.Tensor, v []float32) {
	e.do("UploadTensor "+t.String(), e.b.UploadTensor(t, v))
}

func (e *env) get(t gpu.Tensor) []float32 {
	v := make([]float32, t.Elems())
	e.do("DownloadTensor "+t.String(), e.b.DownloadTensor(v, t))
	return v
}

// fill uploads random values in [-1, 1) to t and returns them.
func (e *env) fill(t gpu.Tensor) []float32 {
	v := e.rnd(t.Elems())
	e.put(t, v)
	return v
}

// snap downloads the whole parent of t.
func (e *env) snap(t gpu.Tensor) []float32 { return e.get(parentOf(t)) }

// split separates a snapshot of t's parent into the elements of the view (in
// NCHW order of the view) and the positions outside it.
func split(t gpu.Tensor, parent []float32) (inside []float32, outside []int) {
	ps := ref.Shape{N: t.N, C: t.ParentC, H: t.H, W: t.W}
	hw := t.H * t.W
	for n := 0; n < t.N; n++ {
		for c := 0; c < t.ParentC; c++ {
			k := ps.Index(n, c, 0, 0)
			if c >= t.C0 && c < t.C0+t.C {
				inside = append(inside, parent[k:k+hw]...)
			} else {
				for i := range hw {
					outside = append(outside, k+i)
				}
			}
		}
	}
	return inside, outside
}

// expect checks output t against want: the view within tolerance, the rest
// of its parent bit for bit as in before (a snapshot taken before the op).
func (e *env) expect(name string, t gpu.Tensor, before []float32, want []float64) {
	after := e.snap(t)
	got, outside := split(t, after)
	for _, k := range outside {
		if math.Float32bits(after[k]) != math.Float32bits(before[k]) {
			ps := ref.Shape{N: t.N, C: t.ParentC, H: t.H, W: t.W}
			e.errorf("%s %v: element %v of the parent, outside the output, changed from %v to %v",
				name, t, coords(ps, k), before[k], after[k])
			break
		}
	}
	if len(want) != len(got) {
		panic(fmt.Sprintf("gputest: %s: reference of %d values for %v", name, len(want), t))
	}
	if r, at := relErr(got, want); r > e.tol {
		e.errorf("%s %v: relative error %.3g > %.3g at %v: got %.8g, want %.8g (max |want| %.3g)",
			name, t, r, e.tol, coords(ref.ShapeOf(t), at), got[at], want[at], maxAbs(want))
	}
}

// unchanged checks that input t's parent still holds before, bit for bit.
func (e *env) unchanged(name string, t gpu.Tensor, before []float32) {
	after := e.snap(t)
	for k := range after {
		if math.Float32bits(after[k]) != math.Float32bits(before[k]) {
			e.errorf("%s %v: input changed at %v of its parent: %v, was %v", name, t,
				coords(ref.Shape{N: t.N, C: t.ParentC, H: t.H, W: t.W}, k), after[k], before[k])
			return
		}
	}
}

func coords(s ref.Shape, k int) [4]int {
	return [4]int{k / (s.C * s.H * s.W), k / (s.H * s.W) % s.C, k / s.W % s.H, k % s.W}
}

// slice allocates len(v)+2 elements holding NaN, v, NaN and returns the
// middle: the Slice an op sees, with a guard on each side.
func (e *env) slice(v []float32) gpu.Slice {
	all, err := e.b.Alloc(len(v) + 2)
	e.do(fmt.Sprintf("Alloc(%d)", len(v)+2), err)
	e.do("Upload", e.b.Upload(all, append(append([]float32{nan32}, v...), nan32)))
	return all.Sub(1, len(v))
}

func (e *env) getS(s gpu.Slice) []float32 {
	v := make([]float32, s.Len)
	e.do("Download", e.b.Download(v, s))
	return v
}

// guards checks the NaN on each side of a Slice made by slice.
func (e *env) guards(name string, s gpu.Slice) {
	g := make([]float32, 1)
	for _, off := range []int{s.Off - 1, s.Off + s.Len} {
		e.do("Download", e.b.Download(g, gpu.Slice{Buf: s.Buf, Off: off, Len: 1}))
		if !math.IsNaN(float64(g[0])) {
			e.errorf("%s: wrote %v at element %d, outside the slice [%d, %d)", name, g[0], off, s.Off, s.Off+s.Len)
		}
	}
}

// expectS checks a Slice output made by slice against want.
func (e *env) expectS(name string, s gpu.Slice, want []float64) {
	e.guards(name, s)
	e.compare(name, e.getS(s), want)
}

// expectDelta checks the change of a Slice from old against the change the
// reference made: (got - old) against (want - old).
func (e *env) expectDelta(name string, s gpu.Slice, old []float32, want []float64) {
	e.guards(name, s)
	got := e.getS(s)
	dg, dw := make([]float32, len(got)), make([]float64, len(got))
	for i := range got {
		if math.IsNaN(float64(got[i])) {
			dg[i] = nan32
		} else {
			dg[i] = float32(float64(got[i]) - float64(old[i]))
		}
		dw[i] = want[i] - float64(old[i])
	}
	e.compare(name+" (change)", dg, dw)
}

// unchangedS checks that an input Slice still holds before.
func (e *env) unchangedS(name string, s gpu.Slice, before []float32) {
	got := e.getS(s)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(before[i]) {
			e.errorf("%s: input changed at %d: %v, was %v", name, i, got[i], before[i])
			return
		}
	}
}

// guardInt surrounds the IntSlices the suite allocates.
const guardInt = -77777

// ints allocates len(v)+2 int32 holding guardInt, v, guardInt and returns
// the middle.
func (e *env) ints(v []int32) gpu.IntSlice {
	all, err := e.b.AllocInt(len(v) + 2)
	e.do(fmt.Sprintf("AllocInt(%d)", len(v)+2), err)
	e.do("UploadInt", e.b.UploadInt(all, append(append([]int32{guardInt}, v...), guardInt)))
	return all.Sub(1, len(v))
}

func (e *env) getI(s gpu.IntSlice) []int32 {
	v := make([]int32, s.Len)
	e.do("DownloadInt", e.b.DownloadInt(v, s))
	return v
}

// join names a case from its parts.
func join(parts ...string) string { return strings.Join(parts, "/") }
