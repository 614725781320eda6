//go:build cuda

package cuda

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/cuda/lib"
)

// batchNorm is spatial batch normalization planned for one shape: cuDNN
// when every tensor of the call is a whole (packed) tensor and no op is
// fused, our kernels when one is a channel view (a DenseNet layer normalizes
// a prefix of its block), which cuDNN's batch norm does not promise to take,
// when a ReLU or shortcut is fused (which cuDNN's legacy batch norm cannot
// do for FP32 NCHW), and everywhere with Options.OurBatchNorm.
type batchNorm struct {
	b   *Backend
	s   gpu.BatchNormSpec
	bnd lib.TensorDesc // 1 x C x 1 x 1
	x   lib.TensorDesc // packed N x C x H x W
	// segments splits each channel's reduction over that many blocks (see
	// bnSegments)
	segments int
}

// bnSegments is how many blocks share one channel's reduction in our
// batch-norm kernels: enough for about 512 blocks in all (four per SM of a
// 132-SM H100) but none with fewer than 4096 values (four loads in flight
// per thread of 256 for four rounds). DenseNet's wide views need 1-21;
// ResNet-56's 16 channels of 131072 values 32 (one block per channel kept
// 16 SMs busy).
func bnSegments(c, values int) int {
	return max(1, min(512/c, values/4096))
}

// bnScratchPerChannel is how many floats per channel our batch-norm
// kernels keep in b.bnScratch: the forward's k1, k0; the backward's k1, k2,
// k0 and, with a fused ReLU, the forward's k1, k0 again for its mask.
const bnScratchPerChannel = 5

// NewBatchNorm plans batch normalization.
func (b *Backend) NewBatchNorm(s gpu.BatchNormSpec) (gpu.BatchNorm, error) {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.Eps <= 0 || s.Momentum < 0 || s.Momentum > 1 || s.N*s.H*s.W < 2 || (s.ReLU && s.ResidualReLU) {
		return nil, fmt.Errorf("cuda batch norm %+v: sizes positive, N*H*W at least 2, eps positive, momentum in [0, 1], not both ReLU and ResidualReLU", s)
	}
	bn := &batchNorm{b: b, s: s}
	var err error
	if bn.x, err = b.newTensorDesc(s.N, s.C, s.H, s.W, s.C*s.H*s.W, s.H*s.W, s.W, 1); err != nil {
		return nil, err
	}
	if bn.bnd, err = b.newTensorDesc(1, s.C, 1, 1, s.C, 1, 1, 1); err != nil {
		return nil, err
	}
	if s.C > b.bnScratchCh {
		p, err := b.malloc(uint64(4 * bnScratchPerChannel * s.C))
		if err != nil {
			return nil, err
		}
		b.bnScratch, b.bnScratchCh = p, s.C
	}
	bn.segments = bnSegments(s.C, s.N*s.H*s.W)
	if n := 2 * s.C * bn.segments; bn.segments > 1 && n > b.bnPartLen {
		p, err := b.malloc(uint64(8 * n))
		if err != nil {
			return nil, err
		}
		b.bnPart, b.bnPartLen = p, n
	}
	if bn.segments > 1 && s.C > b.bnCountLen {
		p, err := b.malloc(uint64(4 * s.C))
		if err != nil {
			return nil, err
		}
		if err := b.ctx.MemsetD32(p, 0, uint64(s.C), b.stream); err != nil {
			return nil, fmt.Errorf("cuda batch norm %+v: zeroing the segment counters: %w", s, err)
		}
		b.bnCount, b.bnCountLen = p, s.C
	}
	return bn, nil
}

func (bn *batchNorm) Spec() gpu.BatchNormSpec { return bn.s }

func (bn *batchNorm) tensor(op, name string, t gpu.Tensor) (view, error) {
	s := bn.s
	if t.N != s.N || t.C != s.C || t.H != s.H || t.W != s.W {
		return view{}, fmt.Errorf("cuda batch norm %s: %s %v, spec wants [%d %d %d %d]", op, name, t, s.N, s.C, s.H, s.W)
	}
	v, err := resolve(t)
	if err != nil {
		return view{}, fmt.Errorf("cuda batch norm %s %s: %w", op, name, err)
	}
	return v, nil
}

func (bn *batchNorm) channels(op string, ptrs []*lib.DevicePtr, slices ...gpu.Slice) error {
	for i, s := range slices {
		if s.Len != bn.s.C {
			return fmt.Errorf("cuda batch norm %s: per-channel argument %d has %d values, want %d", op, i, s.Len, bn.s.C)
		}
		p, err := dslice(s)
		if err != nil {
			return fmt.Errorf("cuda batch norm %s: %w", op, err)
		}
		*ptrs[i] = p
	}
	return nil
}

// forwardViews resolves a forward's tensors: y, x and, with ResidualReLU,
// the shortcut r (else none: a NULL pointer).
func (bn *batchNorm) forwardViews(op string, y, x, r gpu.Tensor) (vy, vx, vr view, err error) {
	if vy, err = bn.tensor(op, "y", y); err != nil {
		return
	}
	if vx, err = bn.tensor(op, "x", x); err != nil {
		return
	}
	if bn.s.ResidualReLU {
		vr, err = bn.tensor(op, "r", r)
	}
	return
}

// fused says whether the forward fuses an op after the batch norm, which
// only our kernels do.
func (bn *batchNorm) fused() bool { return bn.s.ReLU || bn.s.ResidualReLU }

// cudnn says whether cuDNN's batch norm takes a call on these tensors:
// packed ones (it does not promise to take channel views), unless
// Options.OurBatchNorm.
func (bn *batchNorm) cudnn(vs ...view) bool {
	if bn.b.opts.OurBatchNorm {
		return false
	}
	for _, v := range vs {
		if !v.packed() {
			return false
		}
	}
	return true
}

func (bn *batchNorm) argsNCHW(v view) {
	a := bn.b.args
	a.Int(int32(v.n))
	a.Int(int32(v.c))
	a.Int(int32(v.h * v.w))
}

// ForwardTrain normalizes with the batch statistics; see gpu.BatchNorm.
func (bn *batchNorm) ForwardTrain(y gpu.Tensor, saveMean, saveInvStd, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta gpu.Slice) error {
	const op = "forward train"
	vy, vx, vr, err := bn.forwardViews(op, y, x, r)
	if err != nil {
		return err
	}
	var sm, si, rm, rv, g, be lib.DevicePtr
	if err := bn.channels(op, []*lib.DevicePtr{&sm, &si, &rm, &rv, &g, &be}, saveMean, saveInvStd, runMean, runVar, gamma, beta); err != nil {
		return err
	}
	b, s := bn.b, bn.s
	if !bn.fused() && bn.cudnn(vx, vy) {
		return b.dnn.BNForwardTraining(1, 0, bn.x, vx.ptr, bn.x, vy.ptr, bn.bnd, g, be, s.Momentum, rm, rv, s.Eps, sm, si)
	}
	// bn_stats leaves the forward's coefficients too
	k1, k0 := b.bnScratch, b.bnScratch+lib.DevicePtr(4*s.C)
	if err := bn.stats(vx, sm, si, rm, rv, g, be, k1, k0); err != nil {
		return err
	}
	return bn.apply(vy, vx, vr, k1, k0)
}

// stats runs bn_stats, one launch however many segments each channel's sum
// is split into: the saved statistics, and the running ones, or with rm 0
// the unbiased batch variance into rv; with k1 not 0 also the forward's
// coefficients from g and be.
func (bn *batchNorm) stats(vx view, sm, si, rm, rv, g, be, k1, k0 lib.DevicePtr) error {
	b, s := bn.b, bn.s
	a := b.args
	a.Reset()
	a.Ptr(sm)
	a.Ptr(si)
	a.Ptr(rm)
	a.Ptr(rv)
	b.argView(vx)
	bn.argsNCHW(vx)
	a.Float(float32(s.Eps))
	a.Float(float32(s.Momentum))
	for _, p := range [...]lib.DevicePtr{g, be, k1, k0, b.bnPart, b.bnCount} {
		a.Ptr(p)
	}
	a.Int(int32(bn.segments))
	return b.launchBlocks(b.fn.bnStats, s.C*bn.segments)
}

// coeffsApply folds given statistics into the forward's coefficients,
// updates the running statistics from them and bv, and applies them
// (ForwardTrainFromStats).
func (bn *batchNorm) coeffsApply(vy, vx, vr view, g, be, sm, si, rm, rv, bv lib.DevicePtr) error {
	b, s := bn.b, bn.s
	k1, k0 := b.bnScratch, b.bnScratch+lib.DevicePtr(4*s.C)
	a := b.args
	a.Reset()
	for _, p := range [...]lib.DevicePtr{k1, k0, g, be, sm, si, rm, rv, bv} {
		a.Ptr(p)
	}
	a.Float(float32(s.Momentum))
	a.Int(int32(s.C))
	if err := b.launch(b.fn.bnCoeffsTrain, s.C); err != nil {
		return err
	}
	return bn.apply(vy, vx, vr, k1, k0)
}

// Stats computes the batch statistics alone (our kernels, views or not).
func (bn *batchNorm) Stats(saveMean, saveInvStd, batchVar gpu.Slice, x gpu.Tensor) error {
	const op = "stats"
	vx, err := bn.tensor(op, "x", x)
	if err != nil {
		return err
	}
	var sm, si, bv lib.DevicePtr
	if err := bn.channels(op, []*lib.DevicePtr{&sm, &si, &bv}, saveMean, saveInvStd, batchVar); err != nil {
		return err
	}
	return bn.stats(vx, sm, si, 0, bv, 0, 0, 0, 0)
}

// ForwardTrainFromStats normalizes with statistics Stats computed.
func (bn *batchNorm) ForwardTrainFromStats(y gpu.Tensor, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta, saveMean, saveInvStd, batchVar gpu.Slice) error {
	const op = "forward train from stats"
	vy, vx, vr, err := bn.forwardViews(op, y, x, r)
	if err != nil {
		return err
	}
	var rm, rv, g, be, sm, si, bv lib.DevicePtr
	if err := bn.channels(op, []*lib.DevicePtr{&rm, &rv, &g, &be, &sm, &si, &bv}, runMean, runVar, gamma, beta, saveMean, saveInvStd, batchVar); err != nil {
		return err
	}
	return bn.coeffsApply(vy, vx, vr, g, be, sm, si, rm, rv, bv)
}

func (bn *batchNorm) apply(vy, vx, vr view, k1, k0 lib.DevicePtr) error {
	b := bn.b
	a := b.args
	a.Reset()
	b.argView(vy)
	b.argView(vx)
	b.argView(vr)
	a.Ptr(k1)
	a.Ptr(k0)
	bn.argsNCHW(vx)
	a.Int(boolInt(bn.s.ReLU))
	return b.launch(b.fn.bnApply, vx.n*vx.chw())
}

// ForwardInfer normalizes with the running statistics.
func (bn *batchNorm) ForwardInfer(y gpu.Tensor, x, r gpu.Tensor, gamma, beta, runMean, runVar gpu.Slice) error {
	const op = "forward infer"
	vy, vx, vr, err := bn.forwardViews(op, y, x, r)
	if err != nil {
		return err
	}
	var g, be, rm, rv lib.DevicePtr
	if err := bn.channels(op, []*lib.DevicePtr{&g, &be, &rm, &rv}, gamma, beta, runMean, runVar); err != nil {
		return err
	}
	b, s := bn.b, bn.s
	if !bn.fused() && bn.cudnn(vx, vy) {
		return b.dnn.BNForwardInference(1, 0, bn.x, vx.ptr, bn.x, vy.ptr, bn.bnd, g, be, rm, rv, s.Eps)
	}
	k1, k0 := b.bnScratch, b.bnScratch+lib.DevicePtr(4*s.C)
	a := b.args
	a.Reset()
	for _, p := range [...]lib.DevicePtr{k1, k0, g, be, rm, rv} {
		a.Ptr(p)
	}
	a.Float(float32(s.Eps))
	a.Int(int32(s.C))
	if err := b.launch(b.fn.bnCoeffsInfer, s.C); err != nil {
		return err
	}
	return bn.apply(vy, vx, vr, k1, k0)
}

// Backward computes dgamma, dbeta (+=) and dx (=, +=); with the fused ReLU,
// from dy masked where the forward's output, recomputed from x, was 0.
func (bn *batchNorm) Backward(dx gpu.Tensor, dgamma, dbeta gpu.Slice, dy, x gpu.Tensor, gamma, beta, saveMean, saveInvStd gpu.Slice, accumulate bool) error {
	const op = "backward"
	vx, err := bn.tensor(op, "x", x)
	if err != nil {
		return err
	}
	vdy, err := bn.tensor(op, "dy", dy)
	if err != nil {
		return err
	}
	vdx, err := bn.tensor(op, "dx", dx)
	if err != nil {
		return err
	}
	var dg, db, g, sm, si, be lib.DevicePtr
	if err := bn.channels(op, []*lib.DevicePtr{&dg, &db, &g, &sm, &si}, dgamma, dbeta, gamma, saveMean, saveInvStd); err != nil {
		return err
	}
	b, s := bn.b, bn.s
	if s.ReLU {
		if err := bn.channels(op, []*lib.DevicePtr{&be}, beta); err != nil {
			return err
		}
	} else if bn.cudnn(vx, vdy, vdx) {
		betaData := float32(0)
		if accumulate {
			betaData = 1
		}
		return b.dnn.BNBackward(1, betaData, 1, 1, bn.x, vx.ptr, bn.x, vdy.ptr, bn.x, vdx.ptr, bn.bnd, g, dg, db, s.Eps, sm, si)
	}
	relu := boolInt(s.ReLU)
	a := b.args
	a.Reset()
	a.Ptr(dg)
	a.Ptr(db)
	a.Ptr(b.bnScratch)
	b.argView(vdy)
	b.argView(vx)
	for _, p := range [...]lib.DevicePtr{g, be, sm, si} {
		a.Ptr(p)
	}
	bn.argsNCHW(vx)
	a.Int(relu)
	a.Ptr(b.bnPart)
	a.Ptr(b.bnCount)
	a.Int(int32(bn.segments))
	if err := b.launchBlocks(b.fn.bnGradStats, s.C*bn.segments); err != nil {
		return err
	}
	a.Reset()
	b.argView(vdx)
	b.argView(vdy)
	b.argView(vx)
	a.Ptr(b.bnScratch)
	bn.argsNCHW(vx)
	a.Int(relu)
	a.Int(boolInt(accumulate))
	return b.launch(b.fn.bnGradApply, vx.n*vx.chw())
}
