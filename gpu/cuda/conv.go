//go:build cuda

package cuda

import (
	"fmt"
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
}

type convPlan struct {
	conv   lib.ConvDesc // per plan: it carries the chosen algorithm's math type
	a, c   lib.TensorDesc
	algo   int
	wsSize uint64
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
// on first use. a is the input side (x, or dx for backward data), c the
// output side (y or dy); out is where the search may write, and must be a
// scratch buffer when the real output accumulates.
func (c *conv) plan(dir int, a, cv view, w lib.DevicePtr) (*convPlan, error) {
	key := planKey{dir, a.stride, cv.stride}
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
		if r, err = c.search(dir, p, a, cv, w); err != nil {
			return nil, err
		}
		b.algos[key2] = r
	}
	p.algo, p.wsSize = r.Algo, r.Memory
	if err := p.conv.SetMathType(r.MathType); err != nil {
		return nil, err
	}
	if err := b.growWorkspace(r.Memory); err != nil {
		return nil, err
	}
	c.plans[key] = p
	return p, nil
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
	// The search writes its output. The forward output is overwritten anyway;
	// the gradients may accumulate, so they get scratch at the same offset
	// within 256 bytes as the real buffer (an algorithm timed on other
	// alignment might not run on the real one).
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
		switch dir {
		case dirForward:
			got, err = b.dnn.FindForward(p.a, a.ptr, c.w, w, p.conv, p.c, cv.ptr, ws, wsBytes)
		case dirBackwardData:
			var scratch lib.DevicePtr
			if scratch, err = b.searchScratch(uint64(4*a.n*a.stride), a.ptr); err == nil {
				got, err = b.dnn.FindBackwardData(c.w, w, p.c, cv.ptr, p.conv, p.a, scratch, ws, wsBytes)
			}
		case dirBackwardFilter:
			var scratch lib.DevicePtr
			if scratch, err = b.searchScratch(uint64(4*s.WeightLen()), w); err == nil {
				got, err = b.dnn.FindBackwardFilter(p.a, a.ptr, p.c, cv.ptr, p.conv, c.w, scratch, ws, wsBytes)
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
		fmt.Fprintf(os.Stderr, "cuda conv %dx%d/%d %d->%d @%dx%d batch %d, %s: algo %d math %d, %.3f ms, %d bytes (of %d results)\n",
			s.Kernel, s.Kernel, s.Stride, s.InC, s.OutC, s.InH, s.InW, a.n, [...]string{"forward", "backward data", "backward filter"}[dir],
			r.Algo, r.MathType, r.Time, r.Memory, len(perf))
	}
	return r, nil
}

// growWorkspace makes the shared workspace at least n bytes (planning only).
// The old one is freed only once the new one exists.
func (b *Backend) growWorkspace(n uint64) error {
	if n <= b.workspaceBytes {
		return nil
	}
	if len(b.recordings) > 0 {
		// a recorded graph holds the workspace's address: freeing it would
		// leave the graph reading freed memory
		return fmt.Errorf("cuda conv: the workspace must grow to %d bytes after a CUDA graph was recorded (plan every convolution before recording, or run with -graphs=false)", n)
	}
	p, err := b.ctx.MemAlloc(n)
	if err != nil {
		return fmt.Errorf("cuda conv workspace of %d bytes: %w", n, err)
	}
	if err := b.Sync(); err != nil {
		b.ctx.MemFree(p)
		return err
	}
	if b.workspace != 0 {
		b.ctx.MemFree(b.workspace)
		b.bytes -= int64(b.workspaceBytes)
	}
	b.workspace, b.workspaceBytes = p, n
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
	return b.searchScratchPtr + like%256, nil
}

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
	p, err := c.plan(dirForward, vx, vy, wp)
	if err != nil {
		return err
	}
	b := c.b
	return b.dnn.ConvForward(1, p.a, vx.ptr, c.w, wp, p.conv, p.algo, b.workspace, b.workspaceBytes, 0, p.c, vy.ptr)
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
	pf, err := c.plan(dirBackwardFilter, vx, vdy, wp)
	if err != nil {
		return err
	}
	if err := b.dnn.ConvBackwardFilter(1, pf.a, vx.ptr, pf.c, vdy.ptr, pf.conv, pf.algo, b.workspace, b.workspaceBytes, 1, c.w, dwp); err != nil {
		return err
	}
	if dx.Buf == nil {
		return nil
	}
	if !gpu.SameShape(dx, x) {
		return fmt.Errorf("cuda conv backward: dx %v, x %v: shapes differ", dx, x)
	}
	vdx, err := resolve(dx)
	if err != nil {
		return fmt.Errorf("cuda conv backward dx: %w", err)
	}
	pd, err := c.plan(dirBackwardData, vdx, vdy, wp)
	if err != nil {
		return err
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	return b.dnn.ConvBackwardData(1, c.w, wp, pd.c, vdy.ptr, pd.conv, pd.algo, b.workspace, b.workspaceBytes, beta, pd.a, vdx.ptr)
}
