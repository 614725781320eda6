package gputest_test

import (
	"errors"
	"fmt"

	"repro/gpu"
	"repro/gpu/ref"
)

// refBackend is a deliberately naive gpu.Backend for the suite's own tests:
// float32 memory on the host, tensors kept NCHW (a view's element (n,c,h,w)
// at Off + ((n*ParentC + C0+c)*H + h)*W + w), every op done by copying its
// operands to float64, calling package ref and rounding the results back.
type refBackend struct{ bytes int64 }

type buffer struct{ d []float32 }

func (b *buffer) Len() int { return len(b.d) }

type intBuffer struct{ d []int32 }

func (b *intBuffer) Len() int { return len(b.d) }

func (b *refBackend) Name() string       { return "ref" }
func (b *refBackend) Describe() string   { return "ref: float64 reference on the host, NCHW" }
func (b *refBackend) MemoryInUse() int64 { return b.bytes }
func (b *refBackend) Close() error       { return nil }
func (b *refBackend) Sync() error        { return nil }

func (b *refBackend) Alloc(n int) (gpu.Slice, error) {
	if n < 0 {
		return gpu.Slice{}, fmt.Errorf("alloc %d", n)
	}
	b.bytes += 4 * int64(n)
	return gpu.Slice{Buf: &buffer{make([]float32, n)}, Len: n}, nil
}

func (b *refBackend) AllocInt(n int) (gpu.IntSlice, error) {
	if n < 0 {
		return gpu.IntSlice{}, fmt.Errorf("alloc int %d", n)
	}
	b.bytes += 4 * int64(n)
	return gpu.IntSlice{Buf: &intBuffer{make([]int32, n)}, Len: n}, nil
}

func (b *refBackend) NewTensor(n, c, h, w int) (gpu.Tensor, error) {
	if n <= 0 || c <= 0 || h <= 0 || w <= 0 {
		return gpu.Tensor{}, fmt.Errorf("tensor [%d %d %d %d]", n, c, h, w)
	}
	s, err := b.Alloc(n * c * h * w)
	return gpu.Tensor{Buf: s.Buf, N: n, C: c, H: h, W: w, ParentC: c}, err
}

func floats(s gpu.Slice) []float32 {
	d := s.Buf.(*buffer).d
	return d[s.Off : s.Off+s.Len]
}

func ints(s gpu.IntSlice) []int32 {
	d := s.Buf.(*intBuffer).d
	return d[s.Off : s.Off+s.Len]
}

func wide(s gpu.Slice) []float64 {
	v := make([]float64, s.Len)
	for i, x := range floats(s) {
		v[i] = float64(x)
	}
	return v
}

func setSlice(s gpu.Slice, v []float64) {
	d := floats(s)
	for i, x := range v {
		d[i] = float32(x)
	}
}

// index is where element (n, c, h, w) of t lives in its buffer.
func index(t gpu.Tensor, n, c, h, w int) int {
	return t.Off + ((n*t.ParentC+t.C0+c)*t.H+h)*t.W + w
}

// each calls f with the NCHW index within t and the buffer index of every
// element of t.
func each(t gpu.Tensor, f func(e, k int)) {
	e := 0
	for n := 0; n < t.N; n++ {
		for c := 0; c < t.C; c++ {
			for h := 0; h < t.H; h++ {
				for w := 0; w < t.W; w++ {
					f(e, index(t, n, c, h, w))
					e++
				}
			}
		}
	}
}

func gather(t gpu.Tensor) []float64 {
	d, v := t.Buf.(*buffer).d, make([]float64, t.Elems())
	each(t, func(e, k int) { v[e] = float64(d[k]) })
	return v
}

func scatter(t gpu.Tensor, v []float64) {
	d := t.Buf.(*buffer).d
	each(t, func(e, k int) { d[k] = float32(v[e]) })
}

func (b *refBackend) Upload(dst gpu.Slice, src []float32) error {
	if len(src) != dst.Len {
		return errors.New("upload: length")
	}
	copy(floats(dst), src)
	return nil
}

func (b *refBackend) Download(dst []float32, src gpu.Slice) error {
	if len(dst) != src.Len {
		return errors.New("download: length")
	}
	copy(dst, floats(src))
	return nil
}

func (b *refBackend) UploadInt(dst gpu.IntSlice, src []int32) error {
	if len(src) != dst.Len {
		return errors.New("upload int: length")
	}
	copy(ints(dst), src)
	return nil
}

func (b *refBackend) DownloadInt(dst []int32, src gpu.IntSlice) error {
	if len(dst) != src.Len {
		return errors.New("download int: length")
	}
	copy(dst, ints(src))
	return nil
}

func (b *refBackend) UploadTensor(t gpu.Tensor, src []float32) error {
	if len(src) != t.Elems() {
		return errors.New("upload tensor: length")
	}
	d := t.Buf.(*buffer).d
	each(t, func(e, k int) { d[k] = src[e] })
	return nil
}

func (b *refBackend) DownloadTensor(dst []float32, t gpu.Tensor) error {
	if len(dst) != t.Elems() {
		return errors.New("download tensor: length")
	}
	d := t.Buf.(*buffer).d
	each(t, func(e, k int) { dst[e] = d[k] })
	return nil
}

func (b *refBackend) Zero(s gpu.Slice) error { clear(floats(s)); return nil }

func (b *refBackend) ZeroTensor(t gpu.Tensor) error {
	scatter(t, make([]float64, t.Elems()))
	return nil
}

func (b *refBackend) Copy(dst, src gpu.Tensor) error {
	if dst.Shape() != src.Shape() {
		return errors.New("copy: shapes differ")
	}
	scatter(dst, gather(src))
	return nil
}

type refConv struct{ s gpu.ConvSpec }

func (b *refBackend) NewConv(s gpu.ConvSpec) (gpu.Conv, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &refConv{s}, nil
}

func (c *refConv) Spec() gpu.ConvSpec { return c.s }

func (c *refConv) Forward(y, x gpu.Tensor, w gpu.Slice) error {
	v := make([]float64, y.Elems())
	ref.ConvForward(v, gather(x), wide(w), c.s)
	scatter(y, v)
	return nil
}

func (c *refConv) Backward(dx gpu.Tensor, dw gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	var dxv []float64
	if dx.Buf != nil {
		dxv = gather(dx)
	}
	dwv := wide(dw)
	ref.ConvBackward(dxv, dwv, gather(dy), gather(x), wide(w), c.s, accumulate)
	setSlice(dw, dwv)
	if dx.Buf != nil {
		scatter(dx, dxv)
	}
	return nil
}

type refBatchNorm struct{ s gpu.BatchNormSpec }

func (b *refBackend) NewBatchNorm(s gpu.BatchNormSpec) (gpu.BatchNorm, error) {
	return &refBatchNorm{s}, nil
}

func (bn *refBatchNorm) Spec() gpu.BatchNormSpec { return bn.s }

func (bn *refBatchNorm) ForwardTrain(y gpu.Tensor, saveMean, saveInvStd, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta gpu.Slice) error {
	yv, m, is, rm, rv := make([]float64, y.Elems()), wide(saveMean), wide(saveInvStd), wide(runMean), wide(runVar)
	xv := gather(x)
	ref.BatchNormForwardTrain(yv, m, is, rm, rv, xv, gatherOrNil(r), wide(gamma), wide(beta), bn.s)
	setSlice(saveMean, m)
	setSlice(saveInvStd, is)
	if bn.s.ReLU { // as a float32 backend, so that Backward's mask matches
		pre := bn.preReLU(xv, gamma, beta, saveMean, saveInvStd)
		for i, v := range pre {
			yv[i] = max(v, 0)
		}
	}
	scatter(y, yv)
	setSlice(runMean, rm)
	setSlice(runVar, rv)
	return nil
}

func (bn *refBatchNorm) Stats(saveMean, saveInvStd, batchVar gpu.Slice, x gpu.Tensor) error {
	m, is, bv := wide(saveMean), wide(saveInvStd), wide(batchVar)
	ref.BatchNormStats(m, is, bv, gather(x), bn.s)
	setSlice(saveMean, m)
	setSlice(saveInvStd, is)
	setSlice(batchVar, bv)
	return nil
}

func (bn *refBatchNorm) ForwardTrainFromStats(y gpu.Tensor, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta, saveMean, saveInvStd, batchVar gpu.Slice) error {
	yv, rm, rv, xv := make([]float64, y.Elems()), wide(runMean), wide(runVar), gather(x)
	ref.BatchNormForwardTrainFromStats(yv, rm, rv, xv, gatherOrNil(r), wide(gamma), wide(beta), wide(saveMean), wide(saveInvStd), wide(batchVar), bn.s)
	setSlice(runMean, rm)
	setSlice(runVar, rv)
	if bn.s.ReLU { // as ForwardTrain
		for i, v := range bn.preReLU(xv, gamma, beta, saveMean, saveInvStd) {
			yv[i] = max(v, 0)
		}
	}
	scatter(y, yv)
	return nil
}

func (bn *refBatchNorm) ForwardInfer(y gpu.Tensor, x, r gpu.Tensor, gamma, beta, runMean, runVar gpu.Slice) error {
	v := make([]float64, y.Elems())
	ref.BatchNormForwardInfer(v, gather(x), gatherOrNil(r), wide(gamma), wide(beta), wide(runMean), wide(runVar), bn.s)
	scatter(y, v)
	return nil
}

func (bn *refBatchNorm) Backward(dx gpu.Tensor, dgamma, dbeta gpu.Slice, dy, x gpu.Tensor, gamma, beta, saveMean, saveInvStd gpu.Slice, accumulate bool) error {
	dxv, dg, db, dyv, xv := gather(dx), wide(dgamma), wide(dbeta), gather(dy), gather(x)
	s := bn.s
	if s.ReLU { // mask as ForwardTrain computed its output, then no ReLU
		for i, v := range bn.preReLU(xv, gamma, beta, saveMean, saveInvStd) {
			if !(v > 0) {
				dyv[i] = 0
			}
		}
		s.ReLU = false
	}
	ref.BatchNormBackward(dxv, dg, db, dyv, xv, wide(gamma), nil, wide(saveMean), wide(saveInvStd), s, accumulate)
	scatter(dx, dxv)
	setSlice(dgamma, dg)
	setSlice(dbeta, db)
	return nil
}

// gatherOrNil is gather, or nil for the zero Tensor.
func gatherOrNil(t gpu.Tensor) []float64 {
	if t.Buf == nil {
		return nil
	}
	return gather(t)
}

// preReLU is x*k1 + k0 in float32 with gpu.BatchNormTrainCoeffs of the saved
// statistics: a fused ReLU's input as a float32 backend computes it.
func (bn *refBatchNorm) preReLU(x []float64, gamma, beta, saveMean, saveInvStd gpu.Slice) []float64 {
	g, b, m, is := floats(gamma), floats(beta), floats(saveMean), floats(saveInvStd)
	hw := bn.s.H * bn.s.W
	pre := make([]float64, len(x))
	for i, v := range x {
		c := i / hw % bn.s.C
		k1, k0 := gpu.BatchNormTrainCoeffs(g[c], b[c], m[c], is[c])
		pre[i] = float64(float32(float32(v)*k1) + k0)
	}
	return pre
}

func (b *refBackend) ReLUForward(y, x gpu.Tensor) error {
	v := gather(x)
	ref.ReLUForward(v, v)
	scatter(y, v)
	return nil
}

func (b *refBackend) ReLUBackward(dx, dy, y gpu.Tensor) error {
	v := gather(dy)
	ref.ReLUBackward(v, v, gather(y))
	scatter(dx, v)
	return nil
}

func (b *refBackend) ResidualForward(y, a, s gpu.Tensor) error {
	v := make([]float64, y.Elems())
	ref.ResidualForward(v, gather(a), gather(s), ref.ShapeOf(a), ref.ShapeOf(s))
	scatter(y, v)
	return nil
}

func (b *refBackend) ShortcutBackward(ds, dy gpu.Tensor, accumulate bool) error {
	v := gather(ds)
	ref.ShortcutBackward(v, gather(dy), ref.ShapeOf(ds), ref.ShapeOf(dy), accumulate)
	scatter(ds, v)
	return nil
}

func (b *refBackend) AddForward(y, a, c gpu.Tensor) error {
	v := gather(a)
	ref.AddForward(v, v, gather(c))
	scatter(y, v)
	return nil
}

func (b *refBackend) AvgPoolForward(y, x gpu.Tensor, k int) error {
	v := make([]float64, y.Elems())
	ref.AvgPoolForward(v, gather(x), ref.ShapeOf(x), k)
	scatter(y, v)
	return nil
}

func (b *refBackend) AvgPoolBackward(dx, dy gpu.Tensor, k int, accumulate bool) error {
	v := gather(dx)
	ref.AvgPoolBackward(v, gather(dy), ref.ShapeOf(dx), k, accumulate)
	scatter(dx, v)
	return nil
}

func (b *refBackend) GlobalAvgPoolForward(y, x gpu.Tensor) error {
	v := make([]float64, y.Elems())
	ref.GlobalAvgPoolForward(v, gather(x), ref.ShapeOf(x))
	scatter(y, v)
	return nil
}

func (b *refBackend) GlobalAvgPoolBackward(dx, dy gpu.Tensor, accumulate bool) error {
	v := gather(dx)
	ref.GlobalAvgPoolBackward(v, gather(dy), ref.ShapeOf(dx), accumulate)
	scatter(dx, v)
	return nil
}

func (b *refBackend) LinearForward(y, x gpu.Tensor, w, bias gpu.Slice) error {
	v := make([]float64, y.Elems())
	ref.LinearForward(v, gather(x), wide(w), wide(bias), x.N, x.C*x.H*x.W, y.C)
	scatter(y, v)
	return nil
}

func (b *refBackend) LinearBackward(dx gpu.Tensor, dw, db gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	var dxv []float64
	if dx.Buf != nil {
		dxv = gather(dx)
	}
	dwv, dbv := wide(dw), wide(db)
	ref.LinearBackward(dxv, dwv, dbv, gather(dy), gather(x), wide(w), x.N, x.C*x.H*x.W, dy.C, accumulate)
	setSlice(dw, dwv)
	setSlice(db, dbv)
	if dx.Buf != nil {
		scatter(dx, dxv)
	}
	return nil
}

func (b *refBackend) SetSeed(dst gpu.IntSlice, seed uint64) error {
	if dst.Len != 2 {
		return errors.New("set seed: length")
	}
	w := gpu.SeedWords(seed)
	copy(ints(dst), w[:])
	return nil
}

// key is the dropout key of seed with the step its cell holds now.
func key(seed gpu.DropoutSeed) uint64 {
	w := ints(seed.Step)
	return seed.Key(gpu.SeedFromWords(w[0], w[1]))
}

func (b *refBackend) DropoutForward(y, x gpu.Tensor, p float32, seed gpu.DropoutSeed) error {
	v := gather(x)
	ref.DropoutForward(v, v, p, key(seed))
	scatter(y, v)
	return nil
}

func (b *refBackend) DropoutBackward(dx, dy gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	v := gather(dx)
	ref.DropoutBackward(v, gather(dy), p, key(seed), accumulate)
	scatter(dx, v)
	return nil
}

func (b *refBackend) SoftmaxCrossEntropy(dlogits gpu.Tensor, metrics gpu.Slice, logits gpu.Tensor, labels gpu.IntSlice, gradScale float32) error {
	var d []float64
	if dlogits.Buf != nil {
		d = make([]float64, dlogits.Elems())
	}
	m := wide(metrics)
	ref.SoftmaxCrossEntropy(d, m, gather(logits), ints(labels), logits.C, float64(gradScale))
	setSlice(metrics, m)
	if d != nil {
		scatter(dlogits, d)
	}
	return nil
}

func (b *refBackend) SGDStep(params, grads, momentum, decay gpu.Slice, hp gpu.SGDParams) error {
	p, m := wide(params), wide(momentum)
	ref.SGDStep(p, wide(grads), m, wide(decay), hp)
	setSlice(params, p)
	setSlice(momentum, m)
	return nil
}

func (b *refBackend) AdamStep(params, grads, m, v, decay gpu.Slice, hp gpu.AdamParams) error {
	p, mv, vv := wide(params), wide(m), wide(v)
	ref.AdamStep(p, wide(grads), mv, vv, wide(decay), hp)
	setSlice(params, p)
	setSlice(m, mv)
	setSlice(v, vv)
	return nil
}

type refDataset struct{ spec gpu.DatasetSpec }

func (d *refDataset) Len() int  { return d.spec.N }
func (d *refDataset) Size() int { return d.spec.Size }

func (b *refBackend) NewDataset(spec gpu.DatasetSpec) (gpu.Dataset, error) {
	return &refDataset{spec}, nil
}

func (b *refBackend) BuildBatch(x gpu.Tensor, labels gpu.IntSlice, d gpu.Dataset, order gpu.IntSlice, start int, aug gpu.Augment) error {
	v := make([]float64, x.Elems())
	ref.BuildBatch(v, ints(labels), d.(*refDataset).spec, ints(order), start, aug)
	scatter(x, v)
	return nil
}

var _ gpu.Backend = (*refBackend)(nil)
