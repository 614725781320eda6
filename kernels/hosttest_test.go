package kernels_test

// The host half of the kernels' checks: g++ compiles ops.cu, kernels
// included, with a shim of the CUDA built-ins (hosttest/shim.h) into a small
// program (hosttest/main.cpp) that runs launches sent to it: the blocks of a
// grid one after another, the threads of a block as real threads with a
// barrier for __syncthreads. Each kernel runs on inputs that the CPU backend
// (gpu/cpu) also gets, under several grid and block sizes, with its tensors
// as channel views of wider tensors; the results must equal the CPU's, bit
// for bit where both do the same float32 operations, and nothing outside a
// view may change. The program is built with AddressSanitizer when the
// toolchain has it, so that an out-of-bounds access fails the test.
//
// This covers each kernel's indexing and math; what it cannot cover is the
// GPU itself (the device's exp and log, scheduling, the driver): the parity
// suite of gpu/cuda does, on a GPU (scripts/device-check.sh).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"repro/gpu"
	"repro/gpu/cpu"
	"repro/gpu/gputest"
	"repro/gpu/ref"
)

var hostState struct {
	once sync.Once
	dir  string
	h    *host
	err  error
	note string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostState.h != nil {
		hostState.h.close()
	}
	if hostState.dir != "" {
		os.RemoveAll(hostState.dir)
	}
	os.Exit(code)
}

// hostProgram returns the running host program, building it on first use.
func hostProgram(t *testing.T) *host {
	t.Helper()
	hostState.once.Do(func() {
		hostState.h, hostState.err = startHost()
	})
	if hostState.err != nil {
		t.Fatal(hostState.err)
	}
	if hostState.h.dead != nil {
		t.Fatalf("the host program died in an earlier test: %v", hostState.h.dead)
	}
	return hostState.h
}

func startHost() (*host, error) {
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	if _, err := exec.LookPath(cxx); err != nil {
		return nil, fmt.Errorf("%s is not on PATH (%v): the host tests of kernels/ops.cu need a C++17 compiler "+
			"(Debian/Ubuntu: apt-get install g++; or set CXX)", cxx, err)
	}
	dir, err := os.MkdirTemp("", "repro-kernels-hosttest-")
	if err != nil {
		return nil, err
	}
	hostState.dir = dir
	bin := filepath.Join(dir, "hosttest")
	build := func(extra ...string) error {
		args := append([]string{"-std=c++17", "-O1", "-ffp-contract=off", "-pthread"}, extra...)
		args = append(args, "-o", bin, filepath.Join("hosttest", "main.cpp"))
		out, err := exec.Command(cxx, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %v\n%s", cxx, strings.Join(args, " "), err, out)
		}
		// a sanitizer runtime that does not start on this kernel fails here
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s does not run: %v\n%s", bin, err, out)
		}
		return nil
	}
	asan := true
	if err := build("-fsanitize=address", "-fno-omit-frame-pointer"); err != nil {
		asan = false
		if err2 := build(); err2 != nil {
			return nil, fmt.Errorf("building the host test program: %v", err2)
		}
		hostState.note = fmt.Sprintf("built without AddressSanitizer, which failed: %v", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
	h := &host{cmd: cmd, asan: asan}
	cmd.Stderr = &h.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h.in, h.w, h.r = in, bufio.NewWriter(in), bufio.NewReader(out)
	return h, nil
}

// host is the running host program.
type host struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	w      *bufio.Writer
	r      *bufio.Reader
	stderr bytes.Buffer
	asan   bool
	dead   error
}

func (h *host) close() {
	if h.dead == nil {
		h.in.Close()
		h.cmd.Wait()
	}
}

// Buffer arguments: the kernel gets the address of element off of d, and d
// holds what the kernel left there after the launch.
type (
	f32buf struct {
		d   []float32
		off int
	}
	i32buf struct {
		d   []int32
		off int
	}
	u8buf struct {
		d   []uint8
		off int
	}
	u64buf struct {
		d   []uint64
		off int
	}
	f64buf struct {
		d   []float64
		off int
	}
	nullPtr struct{}
)

// launch runs kernel name with grid x block threads on args: buffers (see
// above), nullPtr, int (as int32), float32 and uint64 scalars; a []any
// argument is flattened. A failure ends the test and the host program.
func (h *host) launch(t *testing.T, name string, grid, block int, args ...any) {
	t.Helper()
	if err := h.run(name, grid, block, args...); err != nil {
		h.dead = err
		h.in.Close()
		h.cmd.Wait()
		t.Fatalf("host program, launching %s: %v\n%s", name, err, h.stderr.String())
	}
}

func (h *host) run(name string, grid, block int, args ...any) error {
	var flat []any
	for _, a := range args {
		if l, ok := a.([]any); ok {
			flat = append(flat, l...)
		} else {
			flat = append(flat, a)
		}
	}
	var req bytes.Buffer
	put := func(v any) {
		binary.Write(&req, binary.LittleEndian, v) // cannot fail on a bytes.Buffer
	}
	put(uint32(len(name)))
	req.WriteString(name)
	put(uint32(grid))
	put(uint32(block))
	put(uint32(len(flat)))
	// a buffer passed again (a kernel called in place) is sent once
	type seenBuf struct {
		first unsafe.Pointer
		n     int
	}
	seen := map[seenBuf]int{}
	var answers []any // the buffers the answer holds, in order
	buffer := func(i int, kind uint8, n, off int, d any, first unsafe.Pointer) {
		if n > 0 {
			if j, ok := seen[seenBuf{first, n}]; ok {
				put(uint8(9))
				put(uint32(j))
				put(uint64(off))
				return
			}
			seen[seenBuf{first, n}] = i
		}
		put(kind)
		put(uint64(n))
		put(uint64(off))
		put(d)
		answers = append(answers, d)
	}
	for i, a := range flat {
		switch a := a.(type) {
		case f32buf:
			buffer(i, 1, len(a.d), a.off, a.d, first(a.d))
		case i32buf:
			buffer(i, 2, len(a.d), a.off, a.d, first(a.d))
		case u8buf:
			buffer(i, 3, len(a.d), a.off, a.d, first(a.d))
		case u64buf:
			buffer(i, 8, len(a.d), a.off, a.d, first(a.d))
		case f64buf:
			buffer(i, 10, len(a.d), a.off, a.d, first(a.d))
		case nullPtr:
			put(uint8(4))
		case int:
			if a != int(int32(a)) {
				return fmt.Errorf("argument %d: %d does not fit an int", i, a)
			}
			put(uint8(5))
			put(int32(a))
		case float32:
			put(uint8(6))
			put(a)
		case uint64:
			put(uint8(7))
			put(a)
		default:
			return fmt.Errorf("argument %d: type %T", i, a)
		}
	}
	if _, err := h.w.Write(req.Bytes()); err != nil {
		return err
	}
	if err := h.w.Flush(); err != nil {
		return err
	}
	var ok uint8
	if err := binary.Read(h.r, binary.LittleEndian, &ok); err != nil || ok != 1 {
		return fmt.Errorf("no answer (%v)", err)
	}
	for _, d := range answers {
		var n uint64
		if err := binary.Read(h.r, binary.LittleEndian, &n); err != nil {
			return err
		}
		if want := binary.Size(d) / elemSize(d); int(n) != want {
			return fmt.Errorf("answer of %d elements for a buffer of %d", n, want)
		}
		if err := binary.Read(h.r, binary.LittleEndian, d); err != nil {
			return err
		}
	}
	return nil
}

// first is the address of a slice's first element, nil when it has none.
func first[E any](d []E) unsafe.Pointer {
	if len(d) == 0 {
		return nil
	}
	return unsafe.Pointer(&d[0])
}

func elemSize(d any) int {
	switch d.(type) {
	case []uint8:
		return 1
	case []uint64, []float64:
		return 8
	}
	return 4
}

// exactFloats reports whether Go's float32 arithmetic here rounds every
// operation (no fused multiply-adds), as the kernels do: then results that
// the CPU backend computes with the same operations must match bit for bit.
func exactFloats() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOAMD64" && s.Value >= "v3" {
				return false
			}
		}
	}
	return true
}

// compare checks got against want: bit for bit when tol is 0 (within 1e-6
// where Go may fuse multiply-adds), else |got-want| <= tol*max(1, |want|).
func compare(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if tol == 0 && !exactFloats() {
		tol = 1e-6
	}
	bad := 0
	for i := range got {
		g, w := got[i], want[i]
		var ok bool
		if tol == 0 {
			ok = math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w)
		} else {
			ok = math.Abs(float64(g)-float64(w)) <= tol*max(1, math.Abs(float64(w)))
		}
		if !ok {
			if bad < 5 {
				t.Errorf("%s[%d] = %v (%08x), want %v (%08x)", what, i, g, math.Float32bits(g), w, math.Float32bits(w))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(got))
	}
}

// env is one test's CPU backend, host program and random numbers.
type env struct {
	t     *testing.T
	b     *cpu.Backend
	h     *host
	rng   *rand.Rand
	pairs []*pair
}

func newEnv(t *testing.T, seed uint64) *env {
	h := hostProgram(t)
	b, err := cpu.New(gpu.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return &env{t: t, b: b, h: h, rng: rand.New(rand.NewPCG(seed, 7))}
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) normal(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.NormFloat64())
	}
	return v
}

func (e *env) uniform(n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*e.rng.Float64())
	}
	return v
}

// pair is one tensor on the CPU backend and its copy in host memory laid
// out as gpu/cuda lays it out: NCHW with parentC channels, of which the
// tensor views c from c0 on.
type pair struct {
	t                       gpu.Tensor
	buf, orig               []float32
	n, c, h, w, parentC, c0 int
}

// tensor makes an n x c x h x w tensor: a channel view of a wider tensor
// when view, else a whole one. Two views made in a row differ in batch
// stride, so that a kernel that mixes up its views' strides fails. Its host
// memory starts as random values that no kernel may change outside the view.
func (e *env) tensor(n, c, h, w int, view bool) *pair {
	e.t.Helper()
	parentC, c0 := c, 0
	if view {
		k := len(e.pairs)
		extra := 1 + k%4
		parentC, c0 = c+extra, k%(extra+1)
	}
	pt, err := e.b.NewTensor(n, parentC, h, w)
	e.must(err)
	p := &pair{t: pt.Channels(c0, c), n: n, c: c, h: h, w: w, parentC: parentC, c0: c0}
	p.orig = e.uniform(n*parentC*h*w, 100, 200)
	p.buf = slices.Clone(p.orig)
	e.pairs = append(e.pairs, p)
	return p
}

// set gives the tensor the NCHW values x on both sides.
func (e *env) set(p *pair, x []float32) {
	e.t.Helper()
	e.must(e.b.UploadTensor(p.t, x))
	chw, hw := p.c*p.h*p.w, p.h*p.w
	for n := 0; n < p.n; n++ {
		copy(p.orig[n*p.parentC*hw+p.c0*hw:], x[n*chw:(n+1)*chw])
	}
	copy(p.buf, p.orig)
}

// randomTensor is tensor filled with normal values.
func (e *env) randomTensor(n, c, h, w int, view bool) *pair {
	p := e.tensor(n, c, h, w, view)
	e.set(p, e.normal(n*c*h*w))
	return p
}

// args are the kernel arguments of the tensor: its address and batch stride.
func (p *pair) args() []any {
	return []any{f32buf{p.buf, p.c0 * p.h * p.w}, p.parentC * p.h * p.w}
}

func (p *pair) chw() int { return p.c * p.h * p.w }

// get returns the view's host values in NCHW order.
func (p *pair) get() []float32 {
	chw, hw := p.chw(), p.h*p.w
	out := make([]float32, p.n*chw)
	for n := 0; n < p.n; n++ {
		copy(out[n*chw:(n+1)*chw], p.buf[n*p.parentC*hw+p.c0*hw:])
	}
	return out
}

// cpu returns the CPU backend's values.
func (e *env) cpu(p *pair) []float32 {
	e.t.Helper()
	out := make([]float32, p.t.Elems())
	e.must(e.b.DownloadTensor(out, p.t))
	return out
}

// reset restores every tensor's host memory to what set left.
func (e *env) reset() {
	for _, p := range e.pairs {
		copy(p.buf, p.orig)
	}
}

// outside checks that no tensor changed outside its view.
func (e *env) outside(what string) {
	e.t.Helper()
	for i, p := range e.pairs {
		hw := p.h * p.w
		for k := range p.buf {
			c := k / hw % p.parentC
			if (c < p.c0 || c >= p.c0+p.c) && math.Float32bits(p.buf[k]) != math.Float32bits(p.orig[k]) {
				e.t.Errorf("%s: tensor %d changed outside its view at element %d: %v, was %v", what, i, k, p.buf[k], p.orig[k])
				return
			}
		}
	}
}

// elementwise launch sizes: one thread; fewer threads than elements in
// several blocks; more threads than elements.
var ewConfigs = [][2]int{{1, 1}, {3, 7}, {2, 256}}

// check launches the kernel under every config of cfgs, from the state that
// set left, and compares each output tensor with the CPU's want; it leaves
// the tensors as set left them.
func (e *env) check(name string, cfgs [][2]int, outs []*pair, want [][]float32, tol float64, args ...any) {
	e.t.Helper()
	for _, cfg := range cfgs {
		e.reset()
		e.h.launch(e.t, name, cfg[0], cfg[1], args...)
		for i, o := range outs {
			compare(e.t, fmt.Sprintf("%s grid %d block %d output %d", name, cfg[0], cfg[1], i), o.get(), want[i], tol)
		}
		e.outside(fmt.Sprintf("%s grid %d block %d", name, cfg[0], cfg[1]))
	}
	e.reset()
}

func TestHostMixUniform(t *testing.T) {
	e := newEnv(t, 1)
	a := []uint64{0, 1, math.MaxUint64, 0x9e3779b97f4a7c15, 1 << 63}
	b := []uint64{0, math.MaxUint64, 1, 12345, 1 << 40}
	for range 200 {
		a = append(a, e.rng.Uint64())
		b = append(b, e.rng.Uint64()>>e.rng.IntN(64))
	}
	out := make([]uint64, len(a))
	e.h.launch(t, "t_mix", 1, 1, u64buf{out, 0}, u64buf{a, 0}, u64buf{b, 0}, len(a))
	for i := range a {
		if want := gpu.Mix(a[i], b[i]); out[i] != want {
			t.Errorf("Mix(%#x, %#x) = %#x, want %#x", a[i], b[i], out[i], want)
		}
	}
	bits := append([]uint64{0, math.MaxUint64, 1 << 40, 1<<40 - 1, 0xffffff << 40}, a...)
	u := make([]float32, len(bits))
	e.h.launch(t, "t_uniform", 1, 1, f32buf{u, 0}, u64buf{bits, 0}, len(bits))
	for i := range bits {
		if want := gpu.Uniform(bits[i]); math.Float32bits(u[i]) != math.Float32bits(want) {
			t.Errorf("Uniform(%#x) = %v, want %v", bits[i], u[i], want)
		}
	}
}

func TestHostPlacement(t *testing.T) {
	e := newEnv(t, 2)
	const images = 7
	items := make([]int32, 3*images)
	for i := range items {
		items[i] = int32(i)
	}
	for _, aug := range []gpu.Augment{
		{OutSize: 32},
		{OutSize: 32, Center: 2, MinOffset: 0, MaxOffset: 4, Flip: true},
		{OutSize: 32, Random: true, MinOffset: -4, MaxOffset: 4, Flip: true, Seed: 1234, Epoch: 3},
		{OutSize: 32, Random: true, MinOffset: 0, MaxOffset: 4, Center: 2, Flip: true, Seed: 77, Epoch: 12},
		{OutSize: 32, Random: true, MinOffset: -4, MaxOffset: 4, Seed: 5, Epoch: 1 << 30},
		{OutSize: 32, Random: true, MinOffset: -4, MaxOffset: 4, Flip: true, Static: true, KeepOriginal: true, Seed: 5, Epoch: 8},
		{OutSize: 32, Random: true, MinOffset: 0, MaxOffset: 4, Flip: true, Static: true, Seed: math.MaxUint64},
		{OutSize: 32, Random: true, MinOffset: -4, MaxOffset: 4, Flip: true, Seed: 3, Epoch: -1},
	} {
		out := make([]int32, 4*len(items))
		e.h.launch(t, "t_place", 1, 1, i32buf{out, 0}, i32buf{items, 0}, len(items), images, b2i(aug.Random),
			aug.MinOffset, aug.MaxOffset, aug.Center, b2i(aug.Flip), b2i(aug.Static), b2i(aug.KeepOriginal), aug.Seed, aug.Epoch)
		for k, p := range items {
			i, oy, ox, flip := ref.Placement(aug, images, int(p))
			want := []int32{int32(i), int32(oy), int32(ox), int32(b2i(flip))}
			if got := out[4*k : 4*k+4]; !slices.Equal(got, want) {
				t.Errorf("%+v item %d: image, oy, ox, flip %v, want %v", aug, p, got, want)
			}
		}
	}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func TestHostViews(t *testing.T) {
	e := newEnv(t, 3)
	const n, c, h, w = 3, 4, 5, 3
	y := e.randomTensor(n, c, h, w, true)
	x := e.randomTensor(n, c, h, w, true)
	want := make([]float32, y.t.Elems())
	for i := range want {
		want[i] = -2.5
	}
	e.check("fill_view", ewConfigs, []*pair{y}, [][]float32{want}, 0, y.args(), n, y.chw(), float32(-2.5))
	e.must(e.b.Copy(y.t, x.t))
	e.check("copy_view", ewConfigs, []*pair{y}, [][]float32{e.cpu(y)}, 0, y.args(), x.args(), n, x.chw())
}

func TestHostReLU(t *testing.T) {
	e := newEnv(t, 4)
	const n, c, h, w = 3, 5, 4, 3
	xv := e.normal(n * c * h * w)
	xv[0], xv[1] = 0, float32(math.Copysign(0, -1))
	x := e.tensor(n, c, h, w, true)
	e.set(x, xv)
	y := e.randomTensor(n, c, h, w, false)
	e.must(e.b.ReLUForward(y.t, x.t))
	yv := e.cpu(y)
	e.check("relu_forward", ewConfigs, []*pair{y}, [][]float32{yv}, 0, y.args(), x.args(), n, x.chw())
	// in place
	e.check("relu_forward", ewConfigs, []*pair{x}, [][]float32{yv}, 0, x.args(), x.args(), n, x.chw())

	dy := e.randomTensor(n, c, h, w, true)
	dx := e.randomTensor(n, c, h, w, true)
	ys := e.tensor(n, c, h, w, true)
	e.set(ys, yv)
	e.must(e.b.ReLUBackward(dx.t, dy.t, ys.t))
	dxv := e.cpu(dx)
	e.check("relu_backward", ewConfigs, []*pair{dx}, [][]float32{dxv}, 0, dx.args(), dy.args(), ys.args(), n, dx.chw())
	e.check("relu_backward", ewConfigs, []*pair{dy}, [][]float32{dxv}, 0, dy.args(), dy.args(), ys.args(), n, dx.chw())
}

func TestHostAdd(t *testing.T) {
	e := newEnv(t, 5)
	const n, c, h, w = 2, 3, 4, 5
	a := e.randomTensor(n, c, h, w, true)
	b := e.randomTensor(n, c, h, w, false)
	y := e.randomTensor(n, c, h, w, true)
	e.must(e.b.AddForward(y.t, a.t, b.t))
	want := e.cpu(y)
	e.check("add_forward", ewConfigs, []*pair{y}, [][]float32{want}, 0, y.args(), a.args(), b.args(), n, y.chw())
	e.check("add_forward", ewConfigs, []*pair{a}, [][]float32{want}, 0, a.args(), a.args(), b.args(), n, y.chw())
	e.check("add_forward", ewConfigs, []*pair{b}, [][]float32{want}, 0, b.args(), a.args(), b.args(), n, y.chw())
}

func TestHostResidualShortcut(t *testing.T) {
	for _, g := range []struct {
		name           string
		n, c, h, w, sc int
		f              int
	}{
		{"identity", 2, 4, 3, 5, 4, 1},
		{"option-A", 3, 8, 4, 4, 4, 2},
		{"option-A-odd", 2, 7, 3, 2, 2, 3},
	} {
		t.Run(g.name, func(t *testing.T) {
			e := newEnv(t, 6)
			n, c, h, w, sc, f := g.n, g.c, g.h, g.w, g.sc, g.f
			pad := (c - sc) / 2
			a := e.randomTensor(n, c, h, w, true)
			s := e.randomTensor(n, sc, h*f, w*f, true)
			y := e.randomTensor(n, c, h, w, true)
			e.must(e.b.ResidualForward(y.t, a.t, s.t))
			want := e.cpu(y)
			geo := []any{n, c, h, w, sc, h * f, w * f, f, pad}
			e.check("residual_forward", ewConfigs, []*pair{y}, [][]float32{want}, 0, y.args(), a.args(), s.args(), geo)
			e.check("residual_forward", ewConfigs, []*pair{a}, [][]float32{want}, 0, a.args(), a.args(), s.args(), geo)

			for _, acc := range []bool{false, true} {
				dy := e.randomTensor(n, c, h, w, true)
				ds := e.randomTensor(n, sc, h*f, w*f, true)
				e.must(e.b.ShortcutBackward(ds.t, dy.t, acc))
				e.check("shortcut_backward", ewConfigs, []*pair{ds}, [][]float32{e.cpu(ds)}, 0, ds.args(), dy.args(),
					n, sc, h*f, w*f, c, h, w, f, pad, b2i(acc))
			}
		})
	}
}

func TestHostPool(t *testing.T) {
	for _, k := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("k", k), func(t *testing.T) {
			e := newEnv(t, 7)
			const n, c, oh, ow = 2, 3, 3, 2
			x := e.randomTensor(n, c, oh*k, ow*k, true)
			y := e.randomTensor(n, c, oh, ow, true)
			e.must(e.b.AvgPoolForward(y.t, x.t, k))
			e.check("avgpool_forward", ewConfigs, []*pair{y}, [][]float32{e.cpu(y)}, 0, y.args(), x.args(), n, c, oh, ow, k)
			for _, acc := range []bool{false, true} {
				dy := e.randomTensor(n, c, oh, ow, true)
				dx := e.randomTensor(n, c, oh*k, ow*k, true)
				e.must(e.b.AvgPoolBackward(dx.t, dy.t, k, acc))
				e.check("avgpool_backward", ewConfigs, []*pair{dx}, [][]float32{e.cpu(dx)}, 0, dx.args(), dy.args(),
					n, c, oh, ow, k, b2i(acc))
			}
		})
	}
	t.Run("global", func(t *testing.T) {
		e := newEnv(t, 8)
		const n, c, h, w = 3, 5, 4, 6
		x := e.randomTensor(n, c, h, w, true)
		y := e.randomTensor(n, c, 1, 1, true)
		e.must(e.b.GlobalAvgPoolForward(y.t, x.t))
		e.check("gap_forward", ewConfigs, []*pair{y}, [][]float32{e.cpu(y)}, 0, y.args(), x.args(), n, c, h*w)
		for _, acc := range []bool{false, true} {
			dy := e.randomTensor(n, c, 1, 1, true)
			dx := e.randomTensor(n, c, h, w, true)
			e.must(e.b.GlobalAvgPoolBackward(dx.t, dy.t, acc))
			e.check("gap_backward", ewConfigs, []*pair{dx}, [][]float32{e.cpu(dx)}, 0, dx.args(), dy.args(), n, c, h*w, b2i(acc))
		}
	})
}

func TestHostDropout(t *testing.T) {
	e := newEnv(t, 9)
	const n, c, h, w = 3, 4, 5, 5
	// the step's seed at an odd element, as the kernel must not assume its
	// two words 8-byte aligned
	cell, err := e.b.AllocInt(3)
	e.must(err)
	for _, p := range []float32{0, 0.3, 0.9} {
		step := e.rng.Uint64()
		seed := gpu.DropoutSeed{Step: cell.Sub(1, 2), Salt: e.rng.Uint64()}
		e.must(e.b.SetSeed(seed.Step, step))
		words := gpu.SeedWords(step)
		stepArg := i32buf{[]int32{-1, words[0], words[1]}, 1}
		x := e.randomTensor(n, c, h, w, true)
		y := e.randomTensor(n, c, h, w, true)
		e.must(e.b.DropoutForward(y.t, x.t, p, seed))
		e.check("dropout", ewConfigs, []*pair{y}, [][]float32{e.cpu(y)}, 0, y.args(), x.args(), n, x.chw(), p, stepArg, seed.Salt, 0)
		for _, acc := range []bool{false, true} {
			dy := e.randomTensor(n, c, h, w, true)
			dx := e.randomTensor(n, c, h, w, true)
			e.must(e.b.DropoutBackward(dx.t, dy.t, p, seed, acc))
			e.check("dropout", ewConfigs, []*pair{dx}, [][]float32{e.cpu(dx)}, 0, dx.args(), dy.args(), n, x.chw(), p, stepArg, seed.Salt, b2i(acc))
		}
	}
}

func TestHostSoftmaxCrossEntropy(t *testing.T) {
	for _, c := range []struct {
		name   string
		n, k   int
		view   bool
		noGrad bool
	}{
		{"300x10", 300, 10, false, false},
		{"view-37x100", 37, 100, true, false},
		{"no-gradient-600x10", 600, 10, false, true},
		{"one-class", 5, 1, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 10)
			logits := e.tensor(c.n, c.k, 1, 1, c.view)
			lv := e.normal(c.n * c.k)
			for i := range lv {
				lv[i] *= 4
			}
			// ties: the first maximum is the prediction
			copy(lv[c.k:2*c.k], make([]float32, c.k))
			e.set(logits, lv)
			labels := make([]int32, c.n)
			for i := range labels {
				labels[i] = int32(e.rng.IntN(c.k))
				if e.rng.IntN(5) == 0 {
					labels[i] = -1
				}
			}
			labels[1] = int32(c.k - 1)
			ls, err := e.b.AllocInt(c.n)
			e.must(err)
			e.must(e.b.UploadInt(ls, labels))
			metrics0 := []float32{1.5, 2, 3}
			ms, err := e.b.Alloc(3)
			e.must(err)
			e.must(e.b.Upload(ms, metrics0))
			gradScale := float32(1) / float32(c.n)
			var dl *pair
			var dlT gpu.Tensor
			dlArgs := []any{nullPtr{}, 0}
			if !c.noGrad {
				dl = e.randomTensor(c.n, c.k, 1, 1, c.view)
				dlT, dlArgs = dl.t, dl.args()
			}
			e.must(e.b.SoftmaxCrossEntropy(dlT, ms, logits.t, ls, gradScale))
			wantM := make([]float32, 3)
			e.must(e.b.Download(wantM, ms))
			var wantD []float32
			if dl != nil {
				wantD = e.cpu(dl)
			}
			for _, block := range []int{256, 100, 1} {
				e.reset()
				m := slices.Clone(metrics0)
				e.h.launch(t, "softmax_xent", 1, block, dlArgs, f32buf{m, 0}, logits.args(), i32buf{labels, 0}, c.n, c.k, gradScale)
				compare(t, fmt.Sprintf("block %d loss", block), m[:1], wantM[:1], 1e-6)
				compare(t, fmt.Sprintf("block %d errors, count", block), m[1:], wantM[1:], 0)
				if dl != nil {
					compare(t, fmt.Sprintf("block %d dlogits", block), dl.get(), wantD, 1e-6)
				}
				e.outside(fmt.Sprintf("softmax_xent block %d", block))
			}
		})
	}
}

func TestHostLinearBias(t *testing.T) {
	e := newEnv(t, 11)
	const n, in, k = 6, 4, 10
	b := e.normal(k)
	y := e.randomTensor(n, k, 1, 1, true)
	want := make([]float32, n*k)
	for i := range want {
		want[i] = b[i%k]
	}
	e.check("bias_rows", ewConfigs, []*pair{y}, [][]float32{want}, 0, y.args(), f32buf{b, 0}, n, k)

	x := e.randomTensor(n, in, 1, 1, false)
	dy := e.randomTensor(n, k, 1, 1, true)
	w, dw, db := e.normal(k*in), e.normal(k*in), e.normal(k)
	ws, dws, dbs := e.slice(w), e.slice(dw), e.slice(db)
	e.must(e.b.LinearBackward(gpu.Tensor{}, dws, dbs, dy.t, x.t, ws, false))
	wantDB := make([]float32, k)
	e.must(e.b.Download(wantDB, dbs))
	for _, cfg := range ewConfigs {
		got := slices.Clone(db)
		e.h.launch(t, "bias_grad", cfg[0], cfg[1], f32buf{got, 0}, dy.args()[0], dy.args()[1], n, k)
		compare(t, fmt.Sprintf("bias_grad grid %d block %d", cfg[0], cfg[1]), got, wantDB, 0)
	}
}

func (e *env) slice(v []float32) gpu.Slice {
	e.t.Helper()
	s, err := e.b.Alloc(len(v))
	e.must(err)
	e.must(e.b.Upload(s, v))
	return s
}

func (e *env) download(s gpu.Slice) []float32 {
	e.t.Helper()
	v := make([]float32, s.Len)
	e.must(e.b.Download(v, s))
	return v
}

func (e *env) decayMask(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.IntN(2))
	}
	return v
}

func TestHostOptimizers(t *testing.T) {
	const n = 1003
	for _, hp := range []gpu.SGDParams{
		{LR: 0.1},
		{LR: 0.1, WeightDecay: 0.05},
		{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4},
		{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true},
		{LR: 0.05, Momentum: 0.8, Dampening: 0.3, WeightDecay: 0.02},
	} {
		t.Run(fmt.Sprintf("sgd%+v", hp), func(t *testing.T) {
			e := newEnv(t, 12)
			p, m, d := e.uniform(n, -1, 1), e.normal(n), e.decayMask(n)
			ps, ms, ds := e.slice(p), e.slice(m), e.slice(d)
			for step := 1; step <= 3; step++ {
				g := e.normal(n)
				mArg := any(f32buf{m, 0})
				msArg := ms
				if hp.Momentum == 0 {
					mArg, msArg = nullPtr{}, gpu.Slice{}
				}
				e.must(e.b.SGDStep(ps, e.slice(g), msArg, ds, hp))
				wantP, wantM := e.download(ps), e.download(ms)
				for _, cfg := range ewConfigs {
					gp, gm := slices.Clone(p), slices.Clone(m)
					if hp.Momentum != 0 {
						mArg = f32buf{gm, 0}
					}
					e.h.launch(t, "sgd_step", cfg[0], cfg[1], f32buf{gp, 0}, f32buf{g, 0}, mArg, f32buf{d, 0}, n,
						hp.LR, hp.Momentum, hp.Dampening, hp.WeightDecay, b2i(hp.Nesterov))
					compare(t, fmt.Sprintf("step %d params, grid %d block %d", step, cfg[0], cfg[1]), gp, wantP, 0)
					compare(t, fmt.Sprintf("step %d momentum, grid %d block %d", step, cfg[0], cfg[1]), gm, wantM, 0)
				}
				p, m = wantP, wantM
			}
		})
	}
	for _, hp := range []gpu.AdamParams{
		{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1},
		{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, Decoupled: true},
		{LR: 0.05, Beta1: 0.8, Beta2: 0.99, Eps: 1e-3, WeightDecay: 0.5, Decoupled: true},
	} {
		t.Run(fmt.Sprintf("adam%+v", hp), func(t *testing.T) {
			e := newEnv(t, 13)
			p, m, v, d := e.uniform(n, -0.2, 0.2), make([]float32, n), make([]float32, n), e.decayMask(n)
			ps, ms, vs, ds := e.slice(p), e.slice(m), e.slice(v), e.slice(d)
			for step := 1; step <= 3; step++ {
				hp.Step = step
				g := e.normal(n)
				e.must(e.b.AdamStep(ps, e.slice(g), ms, vs, ds, hp))
				wantP, wantM, wantV := e.download(ps), e.download(ms), e.download(vs)
				bias1 := float32(1 - math.Pow(float64(hp.Beta1), float64(step)))
				bias2 := float32(1 - math.Pow(float64(hp.Beta2), float64(step)))
				for _, cfg := range ewConfigs {
					gp, gm, gv := slices.Clone(p), slices.Clone(m), slices.Clone(v)
					e.h.launch(t, "adam_step", cfg[0], cfg[1], f32buf{gp, 0}, f32buf{g, 0}, f32buf{gm, 0}, f32buf{gv, 0},
						f32buf{d, 0}, n, hp.LR, hp.Beta1, hp.Beta2, hp.Eps, hp.WeightDecay, b2i(hp.Decoupled), bias1, bias2)
					what := fmt.Sprintf("step %d grid %d block %d", step, cfg[0], cfg[1])
					compare(t, what+" params", gp, wantP, 0)
					compare(t, what+" m", gm, wantM, 0)
					compare(t, what+" v", gv, wantV, 0)
				}
				p, m, v = wantP, wantM, wantV
			}
		})
	}
}

func TestHostBuildBatch(t *testing.T) {
	pad := func(a gpu.Augment, out int) gpu.Augment {
		a.OutSize, a.Random, a.MinOffset, a.MaxOffset, a.Flip = out, true, -2, 2, true
		return a
	}
	resize := func(a gpu.Augment, out int) gpu.Augment {
		a.OutSize, a.Random, a.MinOffset, a.MaxOffset, a.Center, a.Flip = out, true, 0, 2, 1, true
		return a
	}
	for _, c := range []struct {
		name                string
		size, copies, start int
		order, batch        int // order 0: the whole pool
		aug                 gpu.Augment
	}{
		{"none", 8, 1, 2, 0, 5, gpu.Augment{OutSize: 8}},
		{"pad-crop-flip", 8, 1, 1, 0, 6, pad(gpu.Augment{Seed: 1234, Epoch: 3}, 8)},
		{"flip-only", 8, 1, 0, 0, 7, gpu.Augment{OutSize: 8, Random: true, Flip: true, Seed: 99, Epoch: 1}},
		{"resize-crop-flip", 10, 1, 0, 0, 7, resize(gpu.Augment{Seed: 77, Epoch: 12}, 8)},
		{"resize-center", 10, 1, 3, 0, 4, gpu.Augment{OutSize: 8, MinOffset: 0, MaxOffset: 2, Center: 1, Flip: true}},
		{"static-3x-keep-original", 8, 3, 4, 0, 9, pad(gpu.Augment{Static: true, KeepOriginal: true, Seed: 5, Epoch: 8}, 8)},
		{"static-2x", 10, 2, 3, 0, 8, resize(gpu.Augment{Static: true, Seed: 6}, 8)},
		{"padding", 8, 1, 4, 6, 5, pad(gpu.Augment{Seed: 8, Epoch: 2}, 8)},
		{"padding-all", 8, 1, 6, 6, 3, pad(gpu.Augment{Seed: 9}, 8)},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 14)
			spec := gputest.RandomDataset(e.rng, 6, 3, c.size)
			d, err := e.b.NewDataset(spec)
			e.must(err)
			pool := c.copies * spec.N
			ov := make([]int32, pool)
			for i, p := range e.rng.Perm(pool) {
				ov[i] = int32(p)
			}
			if c.order > 0 {
				ov = ov[:c.order]
			}
			order, err := e.b.AllocInt(len(ov))
			e.must(err)
			e.must(e.b.UploadInt(order, ov))
			out := c.aug.OutSize
			x := e.randomTensor(c.batch, spec.C, out, out, false)
			labels, err := e.b.AllocInt(c.batch)
			e.must(err)
			e.must(e.b.BuildBatch(x.t, labels, d, order, c.start, c.aug))
			wantL := make([]int32, c.batch)
			e.must(e.b.DownloadInt(wantL, labels))
			wantX := e.cpu(x)
			a := c.aug
			for _, cfg := range ewConfigs {
				e.reset()
				gotL := make([]int32, c.batch)
				for i := range gotL {
					gotL[i] = 99
				}
				e.h.launch(t, "build_batch", cfg[0], cfg[1], f32buf{x.buf, 0}, i32buf{gotL, 0}, u8buf{spec.Pixels, 0},
					u8buf{spec.Labels, 0}, f32buf{spec.ImageScale, 0}, f32buf{spec.ImageShift, 0}, f32buf{spec.Mean, 0},
					f32buf{spec.Scale, 0}, i32buf{ov, 0}, len(ov), c.start, c.batch, spec.N, spec.C, spec.Size, out,
					b2i(a.Random), a.MinOffset, a.MaxOffset, a.Center, b2i(a.Flip), b2i(a.Static), b2i(a.KeepOriginal), a.Seed, a.Epoch)
				what := fmt.Sprintf("grid %d block %d", cfg[0], cfg[1])
				compare(t, what+" x", x.get(), wantX, 0)
				if !slices.Equal(gotL, wantL) {
					t.Errorf("%s labels %v, want %v", what, gotL, wantL)
				}
			}
		})
	}
}

// hostBNCase is a batch-norm shape and launch configuration.
type hostBNCase struct {
	n, c, h, w int
	grid       int // 0: one block per segment of a channel
	block      int
	segments   int // blocks per channel's reduction
}

func TestHostBatchNorm(t *testing.T) {
	for _, c := range []hostBNCase{
		{4, 5, 3, 3, 0, 256, 1},
		{8, 3, 8, 8, 0, 256, 1}, // more values per channel than threads
		{8, 3, 8, 8, 2, 100, 1}, // fewer blocks than channels, a block that is no power of two
		{2, 2, 1, 1, 0, 256, 1}, // 1 x 1 images
		{3, 4, 5, 7, 1, 1, 1},
		// a channel's values split over blocks: segments that start and end
		// inside images, fewer blocks than segments, more segments than
		// values per thread
		{8, 3, 8, 8, 0, 64, 5},
		{4, 5, 3, 3, 4, 32, 3},
		{2, 2, 1, 1, 0, 256, 2},
	} {
		for _, fuse := range []string{"", "relu", "residual-relu"} {
			t.Run(fmt.Sprintf("%dx%dx%dx%d-grid%d-block%d-seg%d-%s", c.n, c.c, c.h, c.w, c.grid, c.block, c.segments, fuse), func(t *testing.T) {
				hostBatchNorm(t, c, fuse)
			})
		}
	}
}

// hostBatchNorm compares the batch-norm kernels with the CPU backend on one
// shape and launch configuration, with the op fuse names fused ("relu",
// "residual-relu") or none.
func hostBatchNorm(t *testing.T, c hostBNCase, fuse string) {
	e := newEnv(t, 15)
	relu := fuse == "relu"
	spec := gpu.BatchNormSpec{N: c.n, C: c.c, H: c.h, W: c.w, Eps: 1e-5, Momentum: 0.1, ReLU: relu, ResidualReLU: fuse == "residual-relu"}
	bn, err := e.b.NewBatchNorm(spec)
	e.must(err)
	grid, seg := c.grid, c.segments
	if grid == 0 {
		grid = c.c * seg
	}
	part, count := make([]float64, 2*c.c*seg), make([]int32, c.c)
	// countsBack fails unless the reductions left their segment counters at 0
	countsBack := func(kernel string) {
		t.Helper()
		for ch, v := range count {
			if v != 0 {
				t.Fatalf("%s left channel %d's segment count at %d", kernel, ch, v)
			}
		}
	}
	hw := c.h * c.w
	eps, mom := float32(spec.Eps), float32(spec.Momentum)
	x := e.tensor(c.n, c.c, c.h, c.w, true)
	xv := e.normal(c.n * c.c * hw)
	for i := range xv {
		xv[i] = xv[i]*3 + 2 // a mean and a spread far from 0 and 1
	}
	e.set(x, xv)
	y := e.randomTensor(c.n, c.c, c.h, c.w, true)
	// the shortcut of the fused residual ReLU, a view like y (NULL otherwise)
	r, rArgs := gpu.Tensor{}, []any{nullPtr{}, 0}
	if spec.ResidualReLU {
		rp := e.randomTensor(c.n, c.c, c.h, c.w, true)
		r, rArgs = rp.t, rp.args()
	}
	gamma, beta := e.uniform(c.c, 0.5, 1.5), e.uniform(c.c, -0.5, 0.5) // with relu about half the outputs 0
	rm, rv := e.normal(c.c), e.uniform(c.c, 0.5, 2)
	smS, siS, rmS, rvS := e.slice(make([]float32, c.c)), e.slice(make([]float32, c.c)), e.slice(rm), e.slice(rv)
	gS, bS := e.slice(gamma), e.slice(beta)

	// forward, training
	e.must(bn.ForwardTrain(y.t, smS, siS, rmS, rvS, x.t, r, gS, bS))
	wantY := e.cpu(y)
	wantSM, wantSI, wantRM, wantRV := e.download(smS), e.download(siS), e.download(rmS), e.download(rvS)
	sm, si, grm, grv := make([]float32, c.c), make([]float32, c.c), slices.Clone(rm), slices.Clone(rv)
	k1, k0 := make([]float32, c.c), make([]float32, c.c)
	e.h.launch(t, "bn_stats", grid, c.block, f32buf{sm, 0}, f32buf{si, 0}, f32buf{grm, 0}, f32buf{grv, 0},
		x.args(), c.n, c.c, hw, eps, mom, f32buf{gamma, 0}, f32buf{beta, 0}, f32buf{k1, 0}, f32buf{k0, 0},
		f64buf{part, 0}, i32buf{count, 0}, seg)
	countsBack("bn_stats")
	compare(t, "saveMean", sm, wantSM, 1e-6)
	compare(t, "saveInvStd", si, wantSI, 1e-6)
	compare(t, "runMean", grm, wantRM, 1e-6)
	compare(t, "runVar", grv, wantRV, 1e-6)
	// bn_stats' coefficients are bn_coeffs_train's, bit for bit
	ck1, ck0 := make([]float32, c.c), make([]float32, c.c)
	e.h.launch(t, "bn_coeffs_train", 2, 3, f32buf{ck1, 0}, f32buf{ck0, 0}, f32buf{gamma, 0}, f32buf{beta, 0},
		f32buf{sm, 0}, f32buf{si, 0}, nullPtr{}, nullPtr{}, nullPtr{}, mom, c.c)
	if !slices.Equal(k1, ck1) || !slices.Equal(k0, ck0) {
		t.Fatalf("bn_stats' coefficients %v %v, bn_coeffs_train's %v %v", k1, k0, ck1, ck0)
	}
	e.check("bn_apply", ewConfigs, []*pair{y}, [][]float32{wantY}, 2e-6, y.args(), x.args(), rArgs, f32buf{k1, 0},
		f32buf{k0, 0}, c.n, c.c, hw, b2i(relu))

	// the same in two steps, Stats and ForwardTrainFromStats
	bvS := e.slice(make([]float32, c.c))
	e.must(bn.Stats(smS, siS, bvS, x.t))
	wantSM, wantSI, wantBV := e.download(smS), e.download(siS), e.download(bvS)
	bv := make([]float32, c.c)
	e.h.launch(t, "bn_stats", grid, c.block, f32buf{sm, 0}, f32buf{si, 0}, nullPtr{}, f32buf{bv, 0},
		x.args(), c.n, c.c, hw, eps, mom, nullPtr{}, nullPtr{}, nullPtr{}, nullPtr{}, f64buf{part, 0},
		i32buf{count, 0}, seg)
	countsBack("bn_stats")
	compare(t, "Stats saveMean", sm, wantSM, 1e-6)
	compare(t, "Stats saveInvStd", si, wantSI, 1e-6)
	compare(t, "Stats batchVar", bv, wantBV, 1e-6)
	rm2, rv2 := e.download(rmS), e.download(rvS)
	e.must(bn.ForwardTrainFromStats(y.t, rmS, rvS, x.t, r, gS, bS, smS, siS, bvS))
	wantY, wantRM2, wantRV2 := e.cpu(y), e.download(rmS), e.download(rvS)
	e.h.launch(t, "bn_coeffs_train", 2, 3, f32buf{k1, 0}, f32buf{k0, 0}, f32buf{gamma, 0}, f32buf{beta, 0},
		f32buf{wantSM, 0}, f32buf{wantSI, 0}, f32buf{rm2, 0}, f32buf{rv2, 0}, f32buf{wantBV, 0}, mom, c.c)
	compare(t, "ForwardTrainFromStats runMean", rm2, wantRM2, 1e-6)
	compare(t, "ForwardTrainFromStats runVar", rv2, wantRV2, 1e-6)
	e.check("bn_apply", ewConfigs, []*pair{y}, [][]float32{wantY}, 2e-6, y.args(), x.args(), rArgs, f32buf{k1, 0},
		f32buf{k0, 0}, c.n, c.c, hw, b2i(relu))
	wantRM, wantRV = wantRM2, wantRV2 // the running statistics the infer pass below reads
	// the fused ReLU's output, where the backward's mask will be 0
	if relu {
		zeros := 0
		for _, v := range wantY {
			if v == 0 {
				zeros++
			}
		}
		if zeros == 0 || zeros == len(wantY) {
			t.Fatalf("%d of %d outputs are 0: the fused ReLU is not exercised", zeros, len(wantY))
		}
	}

	// forward, inference (from the updated running statistics)
	e.must(bn.ForwardInfer(y.t, x.t, r, gS, bS, rmS, rvS))
	wantY = e.cpu(y)
	e.h.launch(t, "bn_coeffs_infer", 1, 2, f32buf{k1, 0}, f32buf{k0, 0}, f32buf{gamma, 0}, f32buf{beta, 0},
		f32buf{wantRM, 0}, f32buf{wantRV, 0}, eps, c.c)
	e.check("bn_apply", ewConfigs, []*pair{y}, [][]float32{wantY}, 2e-6, y.args(), x.args(), rArgs, f32buf{k1, 0},
		f32buf{k0, 0}, c.n, c.c, hw, b2i(relu))
	// in place
	e.check("bn_apply", ewConfigs[1:2], []*pair{x}, [][]float32{wantY}, 2e-6, x.args(), x.args(), rArgs, f32buf{k1, 0},
		f32buf{k0, 0}, c.n, c.c, hw, b2i(relu))

	// backward, from the CPU's saved statistics
	for _, acc := range []bool{false, true} {
		dy := e.randomTensor(c.n, c.c, c.h, c.w, true)
		dx := e.randomTensor(c.n, c.c, c.h, c.w, true)
		dg, db := e.normal(c.c), e.normal(c.c)
		dgS, dbS := e.slice(dg), e.slice(db)
		e.must(bn.Backward(dx.t, dgS, dbS, dy.t, x.t, gS, bS, smS, siS, acc))
		wantDX, wantDG, wantDB := e.cpu(dx), e.download(dgS), e.download(dbS)
		k := make([]float32, 5*c.c)
		args := append([]any{f32buf{dg, 0}, f32buf{db, 0}, f32buf{k, 0}}, dy.args()...)
		args = append(append(args, x.args()...), f32buf{gamma, 0}, f32buf{beta, 0}, f32buf{wantSM, 0},
			f32buf{wantSI, 0}, c.n, c.c, hw, b2i(relu), f64buf{part, 0}, i32buf{count, 0}, seg)
		e.h.launch(t, "bn_grad_stats", grid, c.block, args...)
		countsBack("bn_grad_stats")
		compare(t, "dgamma", dg, wantDG, 1e-5)
		compare(t, "dbeta", db, wantDB, 1e-5)
		apply := func(out *pair, accumulate bool) []any {
			a := append(append(out.args(), dy.args()...), x.args()...)
			return append(a, f32buf{k, 0}, c.n, c.c, hw, b2i(relu), b2i(accumulate))
		}
		e.check("bn_grad_apply", ewConfigs, []*pair{dx}, [][]float32{wantDX}, 1e-5, apply(dx, acc)...)
		if !acc { // dx in place of dy
			e.check("bn_grad_apply", ewConfigs[1:2], []*pair{dy}, [][]float32{wantDX}, 1e-5, apply(dy, false)...)
		}
	}
}

// TestHostProtocol checks that the host program refuses a launch whose
// arguments do not fit the kernel's parameters, so that the tests above
// also check the parameter lists.
func TestHostProtocol(t *testing.T) {
	if hostState.note != "" {
		t.Log(hostState.note)
	}
	h := hostProgram(t)
	if !h.asan {
		t.Log("the host program runs without AddressSanitizer")
	}
	bin := h.cmd.Path
	for _, c := range []struct {
		name string
		args []any
		want string
	}{
		{"fill_view", []any{f32buf{make([]float32, 4), 0}, 4, 1, 4}, "4 arguments, the kernel takes 5"},
		{"fill_view", []any{f32buf{make([]float32, 4), 0}, 4, 1, 4, 2}, "argument 4 is a int32, the kernel takes a float32"},
		{"no_such_kernel", nil, "no kernel no_such_kernel"},
	} {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &host{cmd: cmd, in: in, w: bufio.NewWriter(in), r: bufio.NewReader(out)}
		err = p.run(c.name, 1, 1, c.args...)
		in.Close()
		werr := cmd.Wait()
		var exit *exec.ExitError
		if err == nil || !errors.As(werr, &exit) || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s %v: error %v, exit %v, stderr %q; want a refusal saying %q", c.name, c.args, err, werr, stderr.String(), c.want)
		}
	}
}
