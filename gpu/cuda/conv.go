//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"repro/gpu"
	"repro/gpu/cuda/lib"
)

// findWorkspace is the most workspace an algorithm may use, in bytes: the
// search (cudnnFind*AlgorithmEx) runs with this much (less when memory is
// short), and the fastest algorithm that fits is kept.
const findWorkspace = 256 << 20

// findRounds is how many times each algorithm search runs; see plan.
const findRounds = 3

// bestTimes merges a search's results into the best so far: one entry per
// algorithm and math type, with the lower time of the two, ordered fastest
// first (failed trials last).
func bestTimes(best, got []lib.AlgoPerf) []lib.AlgoPerf {
	for _, g := range got {
		found := false
		for i := range best {
			if best[i].Algo == g.Algo && best[i].MathType == g.MathType {
				found = true
				if g.Status == 0 && (best[i].Status != 0 || g.Time < best[i].Time) {
					best[i] = g
				}
			}
		}
		if !found {
			best = append(best, g)
		}
	}
	sort.SliceStable(best, func(i, j int) bool {
		if (best[i].Status == 0) != (best[j].Status == 0) {
			return best[i].Status == 0
		}
		return best[i].Time < best[j].Time
	})
	return best
}

// direction of a convolution pass
const (
	dirForward = iota
	dirBackwardData
	dirBackwardFilter
)

// conv is a convolution planned for one shape. Its algorithms are chosen
// once per direction and per pair of tensor strides (a channel view has the
// stride of its parent) by timing every algorithm cuDNN offers, the first
// time each is used: that first call allocates, later ones do not.
type conv struct {
	b      *Backend
	s      gpu.ConvSpec
	oh, ow int
	w      lib.FilterDesc
	plans  map[planKey]*convPlan
}

type planKey struct {
	dir              int
	strideA, strideB int
	// accumulate: backward data adds to dx (a backend-API plan has its beta
	// built in)
	accumulate bool
	// the byte alignments (lib.Alignment) of a, c and the weights: a
	// backend-API plan may rely on what it was promised
	align [3]int64
}

type convPlan struct {
	conv   lib.ConvDesc // per plan: it carries the chosen algorithm's math type
	a, c   lib.TensorDesc
	algo   int
	wsSize uint64
	// engine, when set, is the backend-API plan that runs this direction
	// instead of the legacy algorithm
	engine *lib.EnginePlan
	// overwrites: the engine writes the weight gradient instead of adding
	// to it (see convChoice)
	overwrites bool
}

// convChoice is what a search chose for one shape and direction: a legacy
// algorithm, or a backend-API engine plan (shared by every layer of that
// shape; Close destroys it).
type convChoice struct {
	perf   lib.AlgoPerf
	engine *lib.EnginePlan
	// overwrites: no engine took a weight gradient that adds to dw (beta
	// 1), so this one was planned with beta 0: it writes to scratch, and a
	// kernel adds the scratch to dw
	overwrites bool
}

// ConvChoices counts how the convolutions' algorithms were chosen, one count
// per shape, direction and layout searched (layers that share all three
// share one search).
type ConvChoices struct {
	// Engines and Legacy count the choices of a backend-API engine and of
	// a cudnnFind algorithm.
	Engines, Legacy int
	// Fallbacks counts the searches under -conv-algos graph or all where
	// the backend API offered no usable engine, so that cudnnFind's
	// algorithm was taken; FirstFallback is the first one's reason.
	Fallbacks     int
	FirstFallback string
	// Overwrites counts the engines of Engines that write a weight
	// gradient a kernel then adds to dw, as none took beta 1.
	Overwrites int
}

// ConvChoices says how this backend's convolution algorithms were chosen so
// far: under -conv-algos graph, a GPU test or a bench can tell engines that
// ran from a backend API that failed everywhere and fell back in silence.
func (b *Backend) ConvChoices() ConvChoices { return b.convChoices }

var _ gpu.Reporter = (*Backend)(nil)

// Report is a one-line summary of ConvChoices (gpu.Reporter).
func (b *Backend) Report() string {
	c := b.convChoices
	s := fmt.Sprintf("convolution algorithms: %d backend-API engines, %d cudnnFind", c.Engines, c.Legacy)
	if c.Overwrites > 0 {
		s += fmt.Sprintf(" (%d weight gradients by engines that take beta 0 only, added to dw by a kernel)", c.Overwrites)
	}
	if c.Fallbacks > 0 {
		s += fmt.Sprintf(" (%d where the backend API had no usable engine; first: %s)", c.Fallbacks, c.FirstFallback)
	}
	return s
}

func (r convChoice) workspace() uint64 {
	if r.engine != nil {
		return r.engine.Workspace
	}
	return r.perf.Memory
}

// NewConv plans a convolution.
func (b *Backend) NewConv(s gpu.ConvSpec) (gpu.Conv, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("cuda conv: %w", err)
	}
	w, err := b.dnn.NewFilterDesc(s.OutC, s.InC, s.Kernel, s.Kernel)
	if err != nil {
		return nil, fmt.Errorf("cuda conv %+v: %w", s, err)
	}
	b.filterDescs = append(b.filterDescs, w)
	return &conv{b: b, s: s, oh: s.OutH(), ow: s.OutW(), w: w, plans: map[planKey]*convPlan{}}, nil
}

func (c *conv) Spec() gpu.ConvSpec { return c.s }

func (c *conv) check(op string, x, y gpu.Tensor, w gpu.Slice) error {
	s := c.s
	if x.N != s.N || x.C != s.InC || x.H != s.InH || x.W != s.InW {
		return fmt.Errorf("cuda conv %s: input %v, spec wants [%d %d %d %d]", op, x, s.N, s.InC, s.InH, s.InW)
	}
	if y.N != s.N || y.C != s.OutC || y.H != c.oh || y.W != c.ow {
		return fmt.Errorf("cuda conv %s: output %v, spec wants [%d %d %d %d]", op, y, s.N, s.OutC, c.oh, c.ow)
	}
	if w.Len != s.WeightLen() {
		return fmt.Errorf("cuda conv %s: weight of %d, spec wants %d", op, w.Len, s.WeightLen())
	}
	return nil
}

// tensorDesc describes a view for cuDNN: NCHW with the parent's batch stride.
func (b *Backend) tensorDesc(v view) (lib.TensorDesc, error) {
	return b.newTensorDesc(v.n, v.c, v.h, v.w, v.stride, v.h*v.w, v.w, 1)
}

// newTensorDesc makes a cuDNN tensor descriptor that Close destroys.
func (b *Backend) newTensorDesc(n, c, h, w, ns, cs, hs, ws int) (lib.TensorDesc, error) {
	d, err := b.dnn.NewTensorDesc(n, c, h, w, ns, cs, hs, ws)
	if err == nil {
		b.tensorDescs = append(b.tensorDescs, d)
	}
	return d, err
}

// plan returns the algorithm for a direction and pair of views, choosing it
// on first use. a is the input side (x, or dx for backward data), cv the
// output side (y or dy), w the weights, or for backward filter the weight
// gradient that it writes; accumulate says backward data adds to dx. The
// searches write their outputs to scratch where the real output accumulates.
func (c *conv) plan(dir int, a, cv view, w lib.DevicePtr, accumulate bool) (*convPlan, error) {
	key := planKey{dir: dir, strideA: a.stride, strideB: cv.stride, accumulate: accumulate,
		align: [3]int64{lib.Alignment(a.ptr), lib.Alignment(cv.ptr), lib.Alignment(w)}}
	if p, ok := c.plans[key]; ok {
		return p, nil
	}
	b := c.b
	p := &convPlan{}
	var err error
	if p.a, err = b.tensorDesc(a); err != nil {
		return nil, err
	}
	if p.c, err = b.tensorDesc(cv); err != nil {
		return nil, err
	}
	s := c.s
	if p.conv, err = b.dnn.NewConvDesc(s.Pad, s.Stride); err != nil {
		return nil, err
	}
	b.convDescs = append(b.convDescs, p.conv)
	if err := p.conv.SetMath(!b.opts.StrictFP32); err != nil {
		return nil, err
	}
	// Layers of one shape and alignment share one search (ResNet-56 has 55
	// convolutions of 6 shapes).
	key2 := algoKey{spec: s, plan: key, n: a.n, align: [3]uint64{uint64(a.ptr) % 256, uint64(cv.ptr) % 256, uint64(w) % 256}}
	r, known := b.algos[key2]
	if !known {
		var err error
		if r, err = c.choose(dir, p, a, cv, w, accumulate); err != nil {
			return nil, err
		}
		b.algos[key2] = r
		if r.engine != nil {
			b.convChoices.Engines++
			if r.overwrites {
				b.convChoices.Overwrites++
			}
		} else {
			b.convChoices.Legacy++
		}
	}
	p.engine, p.algo, p.wsSize, p.overwrites = r.engine, r.perf.Algo, r.workspace(), r.overwrites
	if r.engine == nil {
		if err := p.conv.SetMathType(r.perf.MathType); err != nil {
			return nil, err
		}
	}
	if err := b.growWorkspace(p.wsSize); err != nil {
		return nil, err
	}
	if dir == dirBackwardFilter && b.opts.WGradStream {
		if err := b.growBuffer(&b.sideWS, &b.sideWSBytes, p.wsSize, "side-stream workspace"); err != nil {
			return nil, err
		}
	}
	if p.overwrites {
		// 256 bytes more, for the offset that keeps the promised alignment
		if err := b.growBuffer(&b.wgradScratch, &b.wgradScratchBytes, uint64(4*s.WeightLen()+256), "weight-gradient scratch"); err != nil {
			return nil, err
		}
	}
	c.plans[key] = p
	return p, nil
}

// choose picks the algorithm of one direction as Options.ConvAlgos says:
// the legacy search, the backend API's engines (legacy where they fail), or
// both timed alike with the faster kept.
func (c *conv) choose(dir int, p *convPlan, a, cv view, w lib.DevicePtr, accumulate bool) (convChoice, error) {
	b := c.b
	mode := b.opts.ConvAlgos
	if mode == "" || mode == "legacy" {
		r, err := c.search(dir, p, a, cv, w)
		return convChoice{perf: r}, err
	}
	engine, overwrites, engineMs, engineErr := c.searchEngines(dir, a, cv, w, accumulate)
	if engineErr == nil && mode == "graph" {
		return convChoice{engine: engine, overwrites: overwrites}, nil
	}
	r, err := c.search(dir, p, a, cv, w)
	if err != nil {
		if engineErr == nil {
			return convChoice{engine: engine, overwrites: overwrites}, nil
		}
		return convChoice{}, fmt.Errorf("%w (and the backend API: %v)", err, engineErr)
	}
	if engineErr != nil {
		// noted once; ConvChoices counts them all
		why := fmt.Sprintf("cuda conv %s %s: backend API: %v", c.describe(a.n), dirName(dir), engineErr)
		if b.convChoices.Fallbacks++; b.convChoices.Fallbacks == 1 {
			b.convChoices.FirstFallback = why
			b.note(why + "; using cudnnFind's algorithm (later fallbacks are counted, not noted: Report)")
		}
		return convChoice{perf: r}, nil
	}
	// "all": time the legacy choice the way the engines were timed
	if err := p.conv.SetMathType(r.MathType); err != nil {
		return convChoice{}, err
	}
	legacyMs, err := c.timeConv(dir, a, cv, w, func(ws lib.DevicePtr, wsBytes uint64, out lib.DevicePtr) error {
		return c.run(dir, p, nil, r.Algo, a, cv, w, out, ws, wsBytes, accumulate)
	})
	if b.logAlgos {
		fmt.Fprintf(os.Stderr, "cuda conv %s %s: legacy algo %d %.4f ms, backend %s %.4f ms\n", c.describe(a.n), dirName(dir), r.Algo, legacyMs, engine, engineMs)
	}
	if err == nil && legacyMs < engineMs {
		b.dropEngine(engine)
		return convChoice{perf: r}, nil
	}
	return convChoice{engine: engine, overwrites: overwrites}, nil
}

func dirName(dir int) string {
	switch dir {
	case dirForward:
		return "forward"
	case dirBackwardData:
		return "backward data"
	}
	return "backward filter"
}

func (c *conv) describe(n int) string {
	s := c.s
	return fmt.Sprintf("%dx%d/%d %d->%d @%dx%d batch %d", s.Kernel, s.Kernel, s.Stride, s.InC, s.OutC, s.InH, s.InW, n)
}

// graphTensor is view v as a backend-API tensor.
func graphTensor(v view) lib.GraphTensor {
	return lib.GraphTensor{Dims: [4]int64{int64(v.n), int64(v.c), int64(v.h), int64(v.w)},
		Strides: [4]int64{int64(v.stride), int64(v.h * v.w), int64(v.w), 1}, Align: lib.Alignment(v.ptr)}
}

// engineUsable says whether an engine with these numerical and behavior
// notes may run under the backend's options: never one that converts FP32
// inputs down (FP16), no tensor cores (TF32) or reduced-precision reductions
// under StrictFP32, nothing nondeterministic under Deterministic, and no
// engine that compiles its kernel at run time (NVRTC, seconds per plan, and
// a library the runtime images may lack).
func (b *Backend) engineUsable(notes, behavior []int) bool {
	for _, n := range notes {
		switch {
		case n == lib.NoteDownConvertInputs,
			b.opts.StrictFP32 && (n == lib.NoteTensorCore || n == lib.NoteReducedPrecision),
			b.opts.Deterministic && n == lib.NoteNondeterministic:
			return false
		}
	}
	for _, n := range behavior {
		if n == lib.BehaviorRuntimeCompilation {
			return false
		}
	}
	return true
}

// maxEngineConfigs bounds how many configurations of each heuristic mode a
// search plans and times.
const maxEngineConfigs = 12

// searchEngines plans the backend API's engines for one direction, times
// each usable one on the GPU and returns the fastest with its time in ms.
// The weight gradient adds to dw (beta 1), an accumulating data gradient to
// dx; where no engine takes beta 1 for the weight gradient, the engines of
// beta 0 are searched, and overwrites says the plan writes instead of adding
// (dw is small: adding it afterwards costs a tiny kernel).
func (c *conv) searchEngines(dir int, a, cv view, w lib.DevicePtr, accumulate bool) (_ *lib.EnginePlan, overwrites bool, _ float32, _ error) {
	s := c.s
	wt := lib.GraphTensor{Dims: [4]int64{int64(s.OutC), int64(s.InC), int64(s.Kernel), int64(s.Kernel)},
		Strides: [4]int64{int64(s.InC * s.Kernel * s.Kernel), int64(s.Kernel * s.Kernel), int64(s.Kernel), 1},
		Align:   lib.Alignment(w)}
	g := lib.ConvGraph{Direction: dir, X: graphTensor(a), W: wt, Y: graphTensor(cv), Pad: s.Pad, Stride: s.Stride, Alpha: 1}
	switch {
	case dir == lib.ConvBackwardFilter, dir == lib.ConvBackwardData && accumulate:
		g.Beta = 1
	}
	var e *lib.EnginePlan
	var ms float32
	err := errors.New("beta 1 not tried (a test's forceOverwrite)")
	if !(dir == lib.ConvBackwardFilter && c.b.forceOverwrite) {
		e, ms, err = c.timeEngines(g, a, cv, w, accumulate, false)
	}
	if err == nil || dir != lib.ConvBackwardFilter {
		return e, false, ms, err
	}
	g.Beta = 0
	e, ms, err0 := c.timeEngines(g, a, cv, w, false, true)
	if err0 != nil {
		return nil, false, 0, fmt.Errorf("%w (and with beta 0: %v)", err, err0)
	}
	return e, true, ms, nil
}

// timeEngines plans g's engines, times each usable one and returns the
// fastest with its time in ms; accumulate: a data gradient adds to dx;
// withAdd: each timed run includes the kernel that adds an overwriting
// weight gradient to dw, as the training step runs it (so that -conv-algos
// all compares like with like).
func (c *conv) timeEngines(g lib.ConvGraph, a, cv view, w lib.DevicePtr, accumulate, withAdd bool) (*lib.EnginePlan, float32, error) {
	b, dir := c.b, g.Direction
	_, wsBytes, err := b.searchWorkspace()
	if err != nil {
		return nil, 0, err
	}
	plans, st, err := b.dnn.PlanConv(g, maxEngineConfigs, b.engineUsable)
	if b.logAlgos {
		fmt.Fprintf(os.Stderr, "cuda conv %s %s: backend engines %v\n", c.describe(a.n), dirName(dir), st)
	}
	if err != nil {
		return nil, 0, err
	}
	var best *lib.EnginePlan
	bestMs := float32(math.Inf(1))
	var firstErr error
	for _, e := range plans {
		if e.Workspace > wsBytes {
			e.Destroy()
			continue
		}
		ms, err := c.timeConv(dir, a, cv, w, func(ws lib.DevicePtr, wsBytes uint64, out lib.DevicePtr) error {
			if err := c.run(dir, nil, e, 0, a, cv, w, out, ws, wsBytes, accumulate); err != nil || !withAdd {
				return err
			}
			return b.addFlat(out, out, c.s.WeightLen(), b.stream) // out += out: values do not matter here
		})
		if b.logAlgos && err != nil {
			fmt.Fprintf(os.Stderr, "cuda conv %s %s: backend %s: failed: %v\n", c.describe(a.n), dirName(dir), e, err)
		} else if b.logAlgos {
			fmt.Fprintf(os.Stderr, "cuda conv %s %s: backend %s: %.4f ms\n", c.describe(a.n), dirName(dir), e, ms)
		}
		if err != nil || ms >= bestMs {
			if err != nil && firstErr == nil {
				firstErr = err
			}
			e.Destroy()
			continue
		}
		if best != nil {
			best.Destroy()
		}
		best, bestMs = e, ms
	}
	if best == nil {
		if firstErr == nil {
			firstErr = fmt.Errorf("every plan needs more than the %d bytes of search workspace", wsBytes)
		}
		return nil, 0, firstErr
	}
	b.engines = append(b.engines, best)
	return best, bestMs, nil
}

// dropEngine destroys a plan searchEngines kept but the search did not choose.
func (b *Backend) dropEngine(e *lib.EnginePlan) {
	for i, x := range b.engines {
		if x == e {
			b.engines = append(b.engines[:i], b.engines[i+1:]...)
			break
		}
	}
	e.Destroy()
}

// timeRounds and timeReps: a candidate runs once untimed, then timeRounds
// times timeReps calls between two events; its time is the best round's
// mean. queueFillers: see timeConv.
const (
	timeRounds   = 3
	timeReps     = 4
	queueFillers = 3
)

// timeConv measures run's GPU time in ms. run gets the search workspace and
// where to write (searchOut).
func (c *conv) timeConv(dir int, a, cv view, w lib.DevicePtr, run func(ws lib.DevicePtr, wsBytes uint64, out lib.DevicePtr) error) (float32, error) {
	b := c.b
	ws, wsBytes, err := b.searchWorkspace()
	if err != nil {
		return 0, err
	}
	out, err := c.searchOut(dir, a, cv, w)
	if err != nil {
		return 0, err
	}
	if err := run(ws, wsBytes, out); err != nil { // loads the kernels, warms the clocks
		return 0, err
	}
	ev, err := b.timingEvents()
	if err != nil {
		return 0, err
	}
	best := float32(math.Inf(1))
	for round := 0; round < timeRounds; round++ {
		// Events time the GPU's timeline, idle gaps included: a run shorter
		// than the host's time to issue it would read as that host time.
		// So the GPU first clears the search workspace a few times (about
		// 0.1 ms per 256 MiB on an H100) while the host queues the runs, and
		// the runs then follow each other without gaps.
		for i := 0; i < queueFillers; i++ {
			if err := b.ctx.MemsetD32(ws, 0, wsBytes/4, b.stream); err != nil {
				return 0, err
			}
		}
		if err := b.ctx.RecordEvent(ev[0], b.stream); err != nil {
			return 0, err
		}
		for i := 0; i < timeReps; i++ {
			if err := run(ws, wsBytes, out); err != nil {
				return 0, err
			}
		}
		if err := b.ctx.RecordEvent(ev[1], b.stream); err != nil {
			return 0, err
		}
		ms, err := b.ctx.Elapsed(ev[0], ev[1])
		if err != nil {
			return 0, err
		}
		best = min(best, ms/timeReps)
	}
	return best, nil
}

// searchOut is where a search in direction dir writes its output. The
// forward output is overwritten anyway; the gradients may accumulate, so
// they get scratch at the same offset within 256 bytes as the real buffer
// (an algorithm timed on other alignment might not run on the real one): dx
// is laid out like a, the weight gradient (w for this direction) has the
// spec's weight length.
func (c *conv) searchOut(dir int, a, cv view, w lib.DevicePtr) (lib.DevicePtr, error) {
	switch dir {
	case dirBackwardData:
		return c.b.searchScratch(uint64(4*a.n*a.stride), a.ptr)
	case dirBackwardFilter:
		return c.b.searchScratch(uint64(4*c.s.WeightLen()), w)
	}
	return cv.ptr, nil
}

// timingEvents returns the backend's two timing events, made on first use
// (Close destroys them).
func (b *Backend) timingEvents() ([2]lib.Event, error) {
	for i, e := range b.events {
		if e == (lib.Event{}) {
			var err error
			if b.events[i], err = b.ctx.NewEvent(); err != nil {
				return b.events, err
			}
		}
	}
	return b.events, nil
}

// run runs direction dir of the convolution with engine, or without one
// with the legacy algorithm algo on the plan's descriptors: a is the input
// side (x, or dx for backward data), cv the output side (y or dy), w the
// weights; the direction's output goes to out (y, dx or the weight
// gradient), with workspace ws. Backward data adds to out when accumulate;
// the weight gradient always does. The training ops and the searches' timed
// runs all go through here.
func (c *conv) run(dir int, p *convPlan, engine *lib.EnginePlan, algo int, a, cv view, w, out, ws lib.DevicePtr, wsBytes uint64, accumulate bool) error {
	d := c.b.dnn
	if engine != nil {
		x, wp, y := a.ptr, w, cv.ptr
		switch dir {
		case dirForward:
			y = out
		case dirBackwardData:
			x = out
		case dirBackwardFilter:
			wp = out
		}
		return d.Execute(engine, x, wp, y, ws)
	}
	switch dir {
	case dirForward:
		return d.ConvForward(1, p.a, a.ptr, c.w, w, p.conv, algo, ws, wsBytes, 0, p.c, out)
	case dirBackwardData:
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		return d.ConvBackwardData(1, c.w, w, p.c, cv.ptr, p.conv, algo, ws, wsBytes, beta, p.a, out)
	default:
		return d.ConvBackwardFilter(1, p.a, a.ptr, p.c, cv.ptr, p.conv, algo, ws, wsBytes, 1, c.w, out)
	}
}

// algoKey says which convolutions can share an algorithm search.
type algoKey struct {
	spec  gpu.ConvSpec
	plan  planKey
	n     int
	align [3]uint64 // addresses modulo 256: input, output, weights
}

// search times cuDNN's algorithms for one direction of c on the plan's
// descriptors and returns the fastest usable one.
func (c *conv) search(dir int, p *convPlan, a, cv view, w lib.DevicePtr) (lib.AlgoPerf, error) {
	b, s := c.b, c.s
	ws, wsBytes, err := b.searchWorkspace()
	if err != nil {
		return lib.AlgoPerf{}, err
	}
	// One search times each algorithm once, and the first searches of a run
	// meet a GPU still raising its clocks: on an H100 that once kept a
	// direct kernel several times slower than the implicit GEMM beside it.
	// So search findRounds times and rank by each algorithm's best time.
	var perf []lib.AlgoPerf
	for round := 0; round < findRounds; round++ {
		var got []lib.AlgoPerf
		var out lib.DevicePtr
		if out, err = c.searchOut(dir, a, cv, w); err == nil {
			switch dir {
			case dirForward:
				got, err = b.dnn.FindForward(p.a, a.ptr, c.w, w, p.conv, p.c, out, ws, wsBytes)
			case dirBackwardData:
				got, err = b.dnn.FindBackwardData(c.w, w, p.c, cv.ptr, p.conv, p.a, out, ws, wsBytes)
			case dirBackwardFilter:
				got, err = b.dnn.FindBackwardFilter(p.a, a.ptr, p.c, cv.ptr, p.conv, c.w, out, ws, wsBytes)
			}
		}
		if err != nil {
			return lib.AlgoPerf{}, err
		}
		perf = bestTimes(perf, got)
	}
	chosen := -1
	for i, r := range perf {
		if r.Status != 0 || r.Memory > wsBytes || (b.opts.Deterministic && !r.Deterministic) ||
			(b.opts.StrictFP32 && r.MathType != lib.CUDNN_FMA_MATH) {
			continue
		}
		chosen = i
		break // results come fastest first
	}
	if chosen < 0 {
		return lib.AlgoPerf{}, fmt.Errorf("cuda conv %+v direction %d: no usable cuDNN algorithm among %d (deterministic %v)", s, dir, len(perf), b.opts.Deterministic)
	}
	r := perf[chosen]
	if b.logAlgos {
		fmt.Fprintf(os.Stderr, "cuda conv %s, %s: legacy algo %d math %d, %.3f ms, %d bytes (of %d results)\n",
			c.describe(a.n), dirName(dir), r.Algo, r.MathType, r.Time, r.Memory, len(perf))
	}
	return r, nil
}

// growWorkspace makes the shared workspace at least n bytes (planning only).
// The old one is freed only once the new one exists.
func (b *Backend) growWorkspace(n uint64) error {
	return b.growBuffer(&b.workspace, &b.workspaceBytes, n, "workspace")
}

// growBuffer grows the workspace at *p of *bytes bytes to n bytes, as
// growWorkspace says; what names it in errors.
func (b *Backend) growBuffer(p *lib.DevicePtr, bytes *uint64, n uint64, what string) error {
	if n <= *bytes {
		return nil
	}
	if len(b.recordings) > 0 {
		// a recorded graph holds the workspace's address: freeing it would
		// leave the graph reading freed memory
		return fmt.Errorf("cuda conv: the %s must grow to %d bytes after a CUDA graph was recorded (plan every convolution before recording, or run with -graphs=false)", what, n)
	}
	np, err := b.ctx.MemAlloc(n)
	if err != nil {
		return fmt.Errorf("cuda conv %s of %d bytes: %w", what, n, err)
	}
	if err := b.Sync(); err != nil {
		b.ctx.MemFree(np)
		return err
	}
	if *p != 0 {
		b.ctx.MemFree(*p)
		b.bytes -= int64(*bytes)
	}
	*p, *bytes = np, n
	b.bytes += int64(n)
	return nil
}

// searchWorkspace returns the workspace the algorithm searches run with,
// allocated once: findWorkspace bytes, or less when the GPU is short of
// memory (algorithms that need more are then passed over).
func (b *Backend) searchWorkspace() (lib.DevicePtr, uint64, error) {
	if b.searchWS != 0 {
		return b.searchWS, b.searchWSBytes, nil
	}
	for n := uint64(findWorkspace); n >= 1<<20; n /= 4 {
		if p, err := b.ctx.MemAlloc(n); err == nil {
			b.searchWS, b.searchWSBytes = p, n
			return p, n, nil
		}
	}
	return 0, 0, fmt.Errorf("cuda conv algorithm search: not even 1 MiB of workspace free")
}

// searchScratch returns scratch of at least n bytes whose address has the
// same remainder modulo 256 as like, grown as needed and kept for later
// searches.
func (b *Backend) searchScratch(n uint64, like lib.DevicePtr) (lib.DevicePtr, error) {
	if n+256 > b.searchScratchBytes {
		if b.searchScratchPtr != 0 {
			if err := b.Sync(); err != nil {
				return 0, err
			}
			b.ctx.MemFree(b.searchScratchPtr)
			b.searchScratchPtr, b.searchScratchBytes = 0, 0
		}
		p, err := b.ctx.MemAlloc(n + 256)
		if err != nil {
			return 0, fmt.Errorf("cuda conv algorithm search scratch of %d bytes: %w", n+256, err)
		}
		b.searchScratchPtr, b.searchScratchBytes = p, n+256
	}
	return sameOffset(b.searchScratchPtr, like), nil
}

// sameOffset is the address in [base, base+256) with like's remainder
// modulo 256 (whatever base's own alignment).
func sameOffset(base, like lib.DevicePtr) lib.DevicePtr { return base + (like-base)%256 }

// Forward computes y = conv(x, w) with cuDNN.
func (c *conv) Forward(y, x gpu.Tensor, w gpu.Slice) error {
	if err := c.check("forward", x, y, w); err != nil {
		return err
	}
	vx, vy, err := resolve2(x, y)
	if err != nil {
		return fmt.Errorf("cuda conv forward: %w", err)
	}
	wp, err := dslice(w)
	if err != nil {
		return fmt.Errorf("cuda conv forward weight: %w", err)
	}
	p, err := c.plan(dirForward, vx, vy, wp, false)
	if err != nil {
		return err
	}
	b := c.b
	return c.run(dirForward, p, p.engine, p.algo, vx, vy, wp, vy.ptr, b.workspace, b.workspaceBytes, false)
}

// Backward computes dw += dL/dw and, when dx.Buf is set, dx (=, +=) dL/dx.
func (c *conv) Backward(dx gpu.Tensor, dw gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	if err := c.check("backward", x, dy, w); err != nil {
		return err
	}
	vx, vdy, err := resolve2(x, dy)
	if err != nil {
		return fmt.Errorf("cuda conv backward: %w", err)
	}
	wp, err := dslice(w)
	if err != nil {
		return fmt.Errorf("cuda conv backward weight: %w", err)
	}
	dwp, err := dslice(dw)
	if err != nil || dw.Len != w.Len {
		return fmt.Errorf("cuda conv backward: weight gradient of %d for weight of %d (%v)", dw.Len, w.Len, err)
	}
	b := c.b
	// the filter gradient's plan is keyed on, and promised, dw's alignment:
	// dw is what it writes
	pf, err := c.plan(dirBackwardFilter, vx, vdy, dwp, true)
	if err != nil {
		return err
	}
	var vdx view
	var pd *convPlan
	if dx.Buf != nil {
		if !gpu.SameShape(dx, x) {
			return fmt.Errorf("cuda conv backward: dx %v, x %v: shapes differ", dx, x)
		}
		if vdx, err = resolve(dx); err != nil {
			return fmt.Errorf("cuda conv backward dx: %w", err)
		}
		if pd, err = c.plan(dirBackwardData, vdx, vdy, wp, accumulate); err != nil {
			return err
		}
	}
	filter := func(ws lib.DevicePtr, wsBytes uint64, s lib.Stream) error {
		if !pf.overwrites {
			return c.run(dirBackwardFilter, pf, pf.engine, pf.algo, vx, vdy, dwp, dwp, ws, wsBytes, true)
		}
		// the engine writes: to scratch at dw's offset within 256 bytes (the
		// alignment it was planned for), then dw += scratch
		scratch := sameOffset(b.wgradScratch, dwp)
		if err := c.run(dirBackwardFilter, pf, pf.engine, pf.algo, vx, vdy, scratch, scratch, ws, wsBytes, true); err != nil {
			return err
		}
		return b.addFlat(dwp, scratch, c.s.WeightLen(), s)
	}
	data := func() error {
		return c.run(dirBackwardData, pd, pd.engine, pd.algo, vdx, vdy, wp, vdx.ptr, b.workspace, b.workspaceBytes, accumulate)
	}
	if pd == nil || !b.opts.WGradStream {
		if err := filter(b.workspace, b.workspaceBytes, b.stream); err != nil || pd == nil {
			return err
		}
		return data()
	}
	// the two gradients at once: dw on the side stream (once every earlier op
	// of b.stream is done, with its own workspace), dx here; then b.stream
	// waits for dw, so later ops see both, as without the side stream
	if err := b.fork(); err != nil {
		return err
	}
	// joined whatever happens: a fork left open would fail a recording with
	// an unjoined-capture error that hides this one
	err = b.dnn.SetStream(b.side)
	if err == nil {
		err = filter(b.sideWS, b.sideWSBytes, b.side)
		err = errors.Join(err, b.dnn.SetStream(b.stream))
	}
	if err == nil {
		err = data()
	}
	return errors.Join(err, b.join())
}

// addFlat adds n floats at src to those at dst (dst += src) on stream s.
func (b *Backend) addFlat(dst, src lib.DevicePtr, n int, s lib.Stream) error {
	flat := func(p lib.DevicePtr) view { return view{ptr: p, n: 1, c: n, h: 1, w: 1, stride: n} }
	b.args3(flat(dst), flat(dst), flat(src))
	return b.launchOn(b.fn.add, n, s)
}

// fork makes the side stream wait for everything issued to b.stream so far.
func (b *Backend) fork() error {
	if err := b.ctx.RecordEvent(b.forkJoin[0], b.stream); err != nil {
		return err
	}
	return b.ctx.StreamWaitEvent(b.side, b.forkJoin[0])
}

// join makes b.stream wait for everything issued to the side stream so far.
func (b *Backend) join() error {
	if err := b.ctx.RecordEvent(b.forkJoin[1], b.side); err != nil {
		return err
	}
	return b.ctx.StreamWaitEvent(b.stream, b.forkJoin[1])
}
