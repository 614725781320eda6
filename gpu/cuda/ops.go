//go:build cuda

package cuda

import (
	"fmt"
	"math"

	"repro/gpu"
	"repro/gpu/cuda/lib"
)

const threads = 256

// launch runs k over total elements with grid-stride loops; the arguments
// are in b.args.
func (b *Backend) launch(k kernel, total int) error {
	return b.launchOn(k, total, b.stream)
}

// launchOn is launch on stream s.
func (b *Backend) launchOn(k kernel, total int, s lib.Stream) error {
	blocks := (total + threads - 1) / threads
	return b.launchBlocksOn(k, max(1, min(blocks, 1<<16)), s)
}

// launchBlocks runs k on exactly blocks blocks of 256 threads, after
// checking that b.args holds arguments of the number and kinds k takes (the
// driver checks neither, and a kernel would read garbage): u a pointer or
// 64-bit integer, i an int, f a float.
func (b *Backend) launchBlocks(k kernel, blocks int) error {
	return b.launchBlocksOn(k, blocks, b.stream)
}

// launchBlocksOn is launchBlocks on stream s.
func (b *Backend) launchBlocksOn(k kernel, blocks int, s lib.Stream) error {
	if !b.args.Matches(k.types) {
		return fmt.Errorf("cuda: launching %s with arguments %s, its PTX entry takes %s (u: pointer, i: int, f: float)",
			k.name, b.args.Types(), k.types)
	}
	return b.ctx.Launch(k.f, [3]uint32{uint32(blocks), 1, 1}, [3]uint32{threads, 1, 1}, 0, s, b.args)
}

func boolInt(v bool) int32 {
	if v {
		return 1
	}
	return 0
}

func (b *Backend) argView(v view) {
	b.args.Ptr(v.ptr)
	b.args.Int(int32(v.stride))
}

func errOrShape(err error) error {
	if err != nil {
		return err
	}
	return errShape
}

var errShape = fmt.Errorf("shapes do not match")

// ZeroTensor sets t to 0.
func (b *Backend) ZeroTensor(t gpu.Tensor) error {
	v, err := resolve(t)
	if err != nil {
		return fmt.Errorf("cuda zero tensor: %w", err)
	}
	if v.packed() {
		return b.ctx.MemsetD32(v.ptr, 0, uint64(v.n*v.chw()), b.stream)
	}
	b.args.Reset()
	b.argView(v)
	b.args.Int(int32(v.n))
	b.args.Int(int32(v.chw()))
	b.args.Float(0)
	return b.launch(b.fn.fill, v.n*v.chw())
}

// Copy sets dst = src.
func (b *Backend) Copy(dst, src gpu.Tensor) error {
	d, s, err := resolve2(dst, src)
	if err != nil || !gpu.SameShape(dst, src) {
		return fmt.Errorf("cuda copy: dst %v, src %v: %v", dst, src, errOrShape(err))
	}
	if d.packed() && s.packed() {
		return b.ctx.DtoD(d.ptr, s.ptr, uint64(4*d.n*d.chw()), b.stream)
	}
	b.args.Reset()
	b.argView(d)
	b.argView(s)
	b.args.Int(int32(d.n))
	b.args.Int(int32(d.chw()))
	return b.launch(b.fn.copy, d.n*d.chw())
}

// ReLUForward computes y = max(x, 0).
func (b *Backend) ReLUForward(y, x gpu.Tensor) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.SameShape(y, x) {
		return fmt.Errorf("cuda relu forward: y %v, x %v: %v", y, x, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vy)
	b.argView(vx)
	b.args.Int(int32(vx.n))
	b.args.Int(int32(vx.chw()))
	return b.launch(b.fn.reluF, vx.n*vx.chw())
}

// ReLUBackward computes dx = dy where y > 0.
func (b *Backend) ReLUBackward(dx, dy, y gpu.Tensor) error {
	vdx, vdy, err := resolve2(dx, dy)
	var vy view
	if err == nil {
		vy, err = resolve(y)
	}
	if err != nil || !gpu.SameShape(dx, dy) || !gpu.SameShape(dy, y) {
		return fmt.Errorf("cuda relu backward: dx %v, dy %v, y %v: %v", dx, dy, y, errOrShape(err))
	}
	b.args3(vdx, vdy, vy)
	return b.launch(b.fn.reluB, vy.n*vy.chw())
}

// AddForward computes y = a + c.
func (b *Backend) AddForward(y, a, c gpu.Tensor) error {
	vy, va, err := resolve2(y, a)
	var vc view
	if err == nil {
		vc, err = resolve(c)
	}
	if err != nil || !gpu.SameShape(y, a) || !gpu.SameShape(a, c) {
		return fmt.Errorf("cuda add: y %v, a %v, b %v: %v", y, a, c, errOrShape(err))
	}
	b.args3(vy, va, vc)
	return b.launch(b.fn.add, vy.n*vy.chw())
}

// args3 packs the arguments of an elementwise kernel of three same-shape
// views (add, relu_backward): each one's pointer and image stride, then y's
// image count and values per image.
func (b *Backend) args3(y, a, c view) {
	b.args.Reset()
	b.argView(y)
	b.argView(a)
	b.argView(c)
	b.args.Int(int32(y.n))
	b.args.Int(int32(y.chw()))
}

// ResidualForward computes y = a + shortcut(s).
func (b *Backend) ResidualForward(y, a, s gpu.Tensor) error {
	f, pad, ok := gpu.ShortcutGeometry(a, s)
	vy, va, err := resolve2(y, a)
	var vs view
	if err == nil {
		vs, err = resolve(s)
	}
	if err != nil || !ok || !gpu.SameShape(y, a) {
		return fmt.Errorf("cuda residual forward: y %v, a %v, s %v: %v", y, a, s, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vy)
	b.argView(va)
	b.argView(vs)
	for _, v := range []int{va.n, va.c, va.h, va.w, vs.c, vs.h, vs.w, f, pad} {
		b.args.Int(int32(v))
	}
	return b.launch(b.fn.residual, va.n*va.chw())
}

// ShortcutBackward computes ds (=, +=) shortcut^T(dy).
func (b *Backend) ShortcutBackward(ds, dy gpu.Tensor, accumulate bool) error {
	f, pad, ok := gpu.ShortcutGeometry(dy, ds)
	vds, vdy, err := resolve2(ds, dy)
	if err != nil || !ok {
		return fmt.Errorf("cuda shortcut backward: ds %v, dy %v: %v", ds, dy, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vds)
	b.argView(vdy)
	for _, v := range []int{vds.n, vds.c, vds.h, vds.w, vdy.c, vdy.h, vdy.w, f, pad} {
		b.args.Int(int32(v))
	}
	b.args.Int(boolInt(accumulate))
	return b.launch(b.fn.shortcutB, vds.n*vds.chw())
}

// AvgPoolForward averages K x K windows with stride K.
func (b *Backend) AvgPoolForward(y, x gpu.Tensor, k int) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.PoolShapes(y, x, k) {
		return fmt.Errorf("cuda avg pool %d forward: y %v, x %v: %v", k, y, x, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vy)
	b.argView(vx)
	for _, v := range []int{vy.n, vy.c, vy.h, vy.w, k} {
		b.args.Int(int32(v))
	}
	return b.launch(b.fn.avgF, vy.n*vy.chw())
}

// AvgPoolBackward spreads dy/K^2 over each window.
func (b *Backend) AvgPoolBackward(dx, dy gpu.Tensor, k int, accumulate bool) error {
	vdx, vdy, err := resolve2(dx, dy)
	if err != nil || !gpu.PoolShapes(dy, dx, k) {
		return fmt.Errorf("cuda avg pool %d backward: dx %v, dy %v: %v", k, dx, dy, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vdx)
	b.argView(vdy)
	for _, v := range []int{vdy.n, vdy.c, vdy.h, vdy.w, k} {
		b.args.Int(int32(v))
	}
	b.args.Int(boolInt(accumulate))
	return b.launch(b.fn.avgB, vdx.n*vdx.chw())
}

// GlobalAvgPoolForward averages each channel over the image.
func (b *Backend) GlobalAvgPoolForward(y, x gpu.Tensor) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || y.N != x.N || y.C != x.C || y.H != 1 || y.W != 1 {
		return fmt.Errorf("cuda global avg pool forward: y %v, x %v: %v", y, x, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vy)
	b.argView(vx)
	for _, v := range []int{vx.n, vx.c, vx.h * vx.w} {
		b.args.Int(int32(v))
	}
	return b.launch(b.fn.gapF, vx.n*vx.c)
}

// GlobalAvgPoolBackward spreads dy/(H*W) over the image.
func (b *Backend) GlobalAvgPoolBackward(dx, dy gpu.Tensor, accumulate bool) error {
	vdx, vdy, err := resolve2(dx, dy)
	if err != nil || dy.N != dx.N || dy.C != dx.C || dy.H != 1 || dy.W != 1 {
		return fmt.Errorf("cuda global avg pool backward: dx %v, dy %v: %v", dx, dy, errOrShape(err))
	}
	b.args.Reset()
	b.argView(vdx)
	b.argView(vdy)
	for _, v := range []int{vdx.n, vdx.c, vdx.h * vdx.w} {
		b.args.Int(int32(v))
	}
	b.args.Int(boolInt(accumulate))
	return b.launch(b.fn.gapB, vdx.n*vdx.chw())
}

// DropoutForward zeroes elements with probability p and scales the rest.
func (b *Backend) DropoutForward(y, x gpu.Tensor, p float32, seed gpu.DropoutSeed) error {
	return b.dropout("forward", y, x, p, seed, false)
}

// DropoutBackward applies the forward mask to dy.
func (b *Backend) DropoutBackward(dx, dy gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	return b.dropout("backward", dx, dy, p, seed, accumulate)
}

// dropout passes the kernel a pointer to the step's seed, not its value, so
// that a recorded step reads the value stored before each replay.
func (b *Backend) dropout(op string, y, x gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	vy, vx, err := resolve2(y, x)
	if err != nil || !gpu.SameShape(y, x) || !(p >= 0 && p < 1) {
		return fmt.Errorf("cuda dropout %s: y %v, x %v, p %v: %v", op, y, x, p, errOrShape(err))
	}
	step, err := seedPtr(seed.Step)
	if err != nil {
		return fmt.Errorf("cuda dropout %s: y %v: seed: %w", op, y, err)
	}
	b.args.Reset()
	b.argView(vy)
	b.argView(vx)
	b.args.Int(int32(vx.n))
	b.args.Int(int32(vx.chw()))
	b.args.Float(p)
	b.args.Ptr(step)
	b.args.U64(seed.Salt)
	b.args.Int(boolInt(accumulate))
	return b.launch(b.fn.dropout, vx.n*vx.chw())
}

// SetSeed stores seed in dst's two elements, low half first, in stream
// order: two 4-byte memsets, whose values are taken when they are issued.
func (b *Backend) SetSeed(dst gpu.IntSlice, seed uint64) error {
	p, err := seedPtr(dst)
	if err != nil {
		return fmt.Errorf("cuda set seed: %w", err)
	}
	w := gpu.SeedWords(seed)
	for i, v := range w {
		if err := b.ctx.MemsetD32(p+lib.DevicePtr(4*i), uint32(v), 1, b.stream); err != nil {
			return fmt.Errorf("cuda set seed: %w", err)
		}
	}
	return nil
}

// seedPtr is the device address of a seed's two elements.
func seedPtr(s gpu.IntSlice) (lib.DevicePtr, error) {
	p, err := dints(s)
	if err == nil && s.Len != 2 {
		err = fmt.Errorf("%d elements, want 2", s.Len)
	}
	return p, err
}

func matrix(t gpu.Tensor) (view, error) {
	if t.H != 1 || t.W != 1 {
		return view{}, fmt.Errorf("tensor %v: want N x C x 1 x 1", t)
	}
	return resolve(t)
}

// LinearForward computes y = x w^T + b with cuBLAS (column-major: y^T = w x^T).
func (b *Backend) LinearForward(y, x gpu.Tensor, w, bias gpu.Slice) error {
	vx, err := matrix(x)
	if err != nil {
		return fmt.Errorf("cuda linear forward x: %w", err)
	}
	vy, err := matrix(y)
	if err != nil {
		return fmt.Errorf("cuda linear forward y: %w", err)
	}
	wp, err := dslice(w)
	if err != nil || w.Len != y.C*x.C || x.N != y.N {
		return fmt.Errorf("cuda linear forward: y %v, x %v, weight of %d (%v)", y, x, w.Len, err)
	}
	bp, err := dslice(bias)
	if err != nil || bias.Len != y.C {
		return fmt.Errorf("cuda linear forward: bias of %d for %d outputs (%v)", bias.Len, y.C, err)
	}
	b.args.Reset()
	b.argView(vy)
	b.args.Ptr(bp)
	b.args.Int(int32(y.N))
	b.args.Int(int32(y.C))
	if err := b.launch(b.fn.biasRows, y.N*y.C); err != nil {
		return err
	}
	return b.blas.Sgemm(true, false, y.C, x.N, x.C, 1, wp, x.C, vx.ptr, vx.stride, 1, vy.ptr, vy.stride)
}

// LinearBackward computes dw, db (+=) and dx (=, +=).
func (b *Backend) LinearBackward(dx gpu.Tensor, dw, db gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	vx, err := matrix(x)
	if err != nil {
		return fmt.Errorf("cuda linear backward x: %w", err)
	}
	vdy, err := matrix(dy)
	if err != nil {
		return fmt.Errorf("cuda linear backward dy: %w", err)
	}
	wp, err := dslice(w)
	if err != nil || w.Len != dy.C*x.C || x.N != dy.N {
		return fmt.Errorf("cuda linear backward: dy %v, x %v, weight of %d (%v)", dy, x, w.Len, err)
	}
	dwp, err := dslice(dw)
	if err != nil || dw.Len != w.Len {
		return fmt.Errorf("cuda linear backward: weight gradient of %d (%v)", dw.Len, err)
	}
	dbp, err := dslice(db)
	if err != nil || db.Len != dy.C {
		return fmt.Errorf("cuda linear backward: bias gradient of %d (%v)", db.Len, err)
	}
	// dw^T (In x Out, column-major) += x^T dy
	if err := b.blas.Sgemm(false, true, x.C, dy.C, x.N, 1, vx.ptr, vx.stride, vdy.ptr, vdy.stride, 1, dwp, x.C); err != nil {
		return err
	}
	b.args.Reset()
	b.args.Ptr(dbp)
	b.argView(vdy)
	b.args.Int(int32(dy.N))
	b.args.Int(int32(dy.C))
	if err := b.launch(b.fn.biasGrad, dy.C); err != nil {
		return err
	}
	if dx.Buf == nil {
		return nil
	}
	if !gpu.SameShape(dx, x) {
		return fmt.Errorf("cuda linear backward: dx %v, x %v: shapes differ", dx, x)
	}
	vdx, err := matrix(dx)
	if err != nil {
		return fmt.Errorf("cuda linear backward dx: %w", err)
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	// dx^T (In x N) = w^T dy^T
	return b.blas.Sgemm(false, false, x.C, dy.N, dy.C, 1, wp, x.C, vdy.ptr, vdy.stride, beta, vdx.ptr, vdx.stride)
}

// SoftmaxCrossEntropy computes the loss, its gradient and the metrics in one
// block, reducing in a fixed order so that results are deterministic.
func (b *Backend) SoftmaxCrossEntropy(dlogits gpu.Tensor, metrics gpu.Slice, logits gpu.Tensor, labels gpu.IntSlice, gradScale float32) error {
	vl, err := matrix(logits)
	if err != nil {
		return fmt.Errorf("cuda softmax cross-entropy logits: %w", err)
	}
	lp, err := dints(labels)
	if err != nil || labels.Len != logits.N {
		return fmt.Errorf("cuda softmax cross-entropy: %d labels for logits %v (%v)", labels.Len, logits, err)
	}
	mp, err := dslice(metrics)
	if err != nil || metrics.Len != 3 {
		return fmt.Errorf("cuda softmax cross-entropy: metrics of %d values, want 3 (%v)", metrics.Len, err)
	}
	var vd view
	if dlogits.Buf != nil {
		if !gpu.SameShape(dlogits, logits) {
			return fmt.Errorf("cuda softmax cross-entropy: dlogits %v, logits %v: shapes differ", dlogits, logits)
		}
		if vd, err = matrix(dlogits); err != nil {
			return fmt.Errorf("cuda softmax cross-entropy dlogits: %w", err)
		}
	}
	b.args.Reset()
	b.argView(vd) // a zero pointer means no gradient
	b.args.Ptr(mp)
	b.argView(vl)
	b.args.Ptr(lp)
	b.args.Int(int32(logits.N))
	b.args.Int(int32(logits.C))
	b.args.Float(gradScale)
	return b.launchBlocks(b.fn.xent, 1)
}

func (b *Backend) optimizerSlices(params, grads, m, v, decay gpu.Slice, needM, needV bool) (p, g, mp, vp, d lib.DevicePtr, err error) {
	get := func(name string, s gpu.Slice) lib.DevicePtr {
		if err != nil {
			return 0
		}
		var ptr lib.DevicePtr
		if ptr, err = dslice(s); err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		} else if s.Len != params.Len {
			err = fmt.Errorf("%s has %d values, params %d", name, s.Len, params.Len)
		}
		return ptr
	}
	p, g, d = get("params", params), get("grads", grads), get("decay", decay)
	if needM {
		mp = get("state", m)
	}
	if needV {
		vp = get("second moment", v)
	}
	return
}

// SGDStep is PyTorch's SGD update in one fused kernel.
func (b *Backend) SGDStep(params, grads, momentum, decay gpu.Slice, hp gpu.SGDParams) error {
	p, g, m, _, d, err := b.optimizerSlices(params, grads, momentum, gpu.Slice{}, decay, hp.Momentum != 0, false)
	if err != nil {
		return fmt.Errorf("cuda sgd: %w", err)
	}
	b.args.Reset()
	b.args.Ptr(p)
	b.args.Ptr(g)
	b.args.Ptr(m)
	b.args.Ptr(d)
	b.args.Int(int32(params.Len))
	b.args.Float(hp.LR)
	b.args.Float(hp.Momentum)
	b.args.Float(hp.Dampening)
	b.args.Float(hp.WeightDecay)
	b.args.Int(boolInt(hp.Nesterov))
	return b.launch(b.fn.sgd, params.Len)
}

// AdamStep is PyTorch's Adam or AdamW update in one fused kernel.
func (b *Backend) AdamStep(params, grads, m, v, decay gpu.Slice, hp gpu.AdamParams) error {
	if hp.Step < 1 {
		return fmt.Errorf("cuda adam: step %d, want >= 1", hp.Step)
	}
	p, g, mp, vp, d, err := b.optimizerSlices(params, grads, m, v, decay, true, true)
	if err != nil {
		return fmt.Errorf("cuda adam: %w", err)
	}
	b.args.Reset()
	for _, ptr := range [...]lib.DevicePtr{p, g, mp, vp, d} {
		b.args.Ptr(ptr)
	}
	b.args.Int(int32(params.Len))
	b.args.Float(hp.LR)
	b.args.Float(hp.Beta1)
	b.args.Float(hp.Beta2)
	b.args.Float(hp.Eps)
	b.args.Float(hp.WeightDecay)
	b.args.Int(boolInt(hp.Decoupled))
	b.args.Float(float32(1 - math.Pow(float64(hp.Beta1), float64(hp.Step))))
	b.args.Float(float32(1 - math.Pow(float64(hp.Beta2), float64(hp.Step))))
	return b.launch(b.fn.adam, params.Len)
}
