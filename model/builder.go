package model

import (
	"fmt"

	"repro/gpu"
)

// bnMomentum and bnEps are PyTorch's batch-norm defaults, which the public
// reproductions of both papers use.
const (
	bnMomentum = 0.1
	bnEps      = 1e-5
)

// builder walks an architecture once. Without a backend (dry run) it only
// records the parameter layout and buffer sizes; with one it also plans the
// ops, allocates the activations and appends the layers to net. Both walks
// take the same steps, so offsets agree. The first error sticks in err and
// turns every later step into a no-op.
type builder struct {
	cfg   Config
	batch int
	b     gpu.Backend
	net   *Net
	err   error

	params                  []Param
	nParams, nState, nSaved int
	saved                   gpu.Slice
	flops                   float64 // forward multiply-adds x 2, per image
	dropouts                int     // dropout ops so far, each salted by its number
}

func (bl *builder) fail(err error) {
	if bl.err == nil && err != nil {
		bl.err = err
	}
}

func (bl *builder) build() error {
	var x gpu.Tensor
	x = bl.tensor(bl.batch, 3, 32, 32)
	if bl.net != nil {
		bl.net.Input = x
	}
	switch bl.cfg.Arch {
	case "resnet":
		bl.resnet(x)
	case "densenet":
		bl.densenet(x)
	}
	return bl.err
}

func (bl *builder) add(l layer) {
	if bl.net != nil && bl.err == nil {
		bl.net.layers = append(bl.net.layers, l)
	}
}

// dropoutSeed is the seed of the next dropout op: the net's step seed
// (allocated with the first dropout op), salted with the op's number so that
// no two ops share a mask.
func (bl *builder) dropoutSeed() gpu.DropoutSeed {
	bl.dropouts++
	s := gpu.DropoutSeed{Salt: uint64(bl.dropouts)}
	if bl.net == nil || bl.err != nil {
		return s
	}
	if bl.net.stepSeed.Buf == nil {
		cell, err := bl.b.AllocInt(2)
		if err != nil {
			bl.fail(fmt.Errorf("dropout seed: %w", err))
			return s
		}
		bl.net.stepSeed = cell
	}
	s.Step = bl.net.stepSeed
	return s
}

// param registers a parameter tensor and returns its value and gradient views.
func (bl *builder) param(name string, kind Kind, shape ...int) (w, dw gpu.Slice) {
	n := 1
	for _, s := range shape {
		n *= s
	}
	off := bl.nParams
	bl.params = append(bl.params, Param{Name: name, Kind: kind, Shape: shape, Off: off, Len: n})
	bl.nParams += n
	if bl.b == nil || bl.err != nil {
		return gpu.Slice{}, gpu.Slice{}
	}
	return bl.net.Params.Sub(off, n), bl.net.Grads.Sub(off, n)
}

func (bl *builder) stateSlice(n int, runVar bool) gpu.Slice {
	off := bl.nState
	bl.nState += n
	if bl.b == nil || bl.err != nil {
		return gpu.Slice{}
	}
	if runVar {
		bl.net.RunVarRanges = append(bl.net.RunVarRanges, [2]int{off, off + n})
	}
	return bl.net.State.Sub(off, n)
}

func (bl *builder) savedSlice(n int) gpu.Slice {
	off := bl.nSaved
	bl.nSaved += n
	if bl.b == nil || bl.err != nil {
		return gpu.Slice{}
	}
	return bl.saved.Sub(off, n)
}

// tensor allocates an activation (shape only in a dry run).
func (bl *builder) tensor(n, c, h, w int) gpu.Tensor {
	if bl.b == nil || bl.err != nil {
		return gpu.Tensor{N: n, C: c, H: h, W: w, ParentC: c}
	}
	t, err := bl.b.NewTensor(n, c, h, w)
	bl.fail(err)
	return t
}

// within returns an N x c x h x w tensor stored in the buffer of t, which
// must be at least as large: scratch shared by layers of different widths.
func within(t gpu.Tensor, c int) gpu.Tensor {
	if c > t.ParentC {
		panic(fmt.Sprintf("model: scratch of %d channels asked for %d", t.ParentC, c))
	}
	return gpu.Tensor{Buf: t.Buf, Off: t.Off, N: t.N, C: c, H: t.H, W: t.W, ParentC: c}
}

// convOp is a planned convolution and its weight.
type convOp struct {
	op    gpu.Conv
	w, dw gpu.Slice
}

func (bl *builder) conv(name string, in, out, k, stride, pad, h, w int) *convOp {
	c := &convOp{}
	c.w, c.dw = bl.param(name+".weight", ConvWeight, out, in, k, k)
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	bl.flops += 2 * float64(out*in*k*k*oh*ow)
	if bl.b == nil || bl.err != nil {
		return c
	}
	op, err := bl.b.NewConv(gpu.ConvSpec{N: bl.batch, InC: in, InH: h, InW: w, OutC: out, Kernel: k, Stride: stride, Pad: pad})
	bl.fail(err)
	c.op = op
	return c
}

func (c *convOp) forward(y, x gpu.Tensor) error { return c.op.Forward(y, x, c.w) }

func (c *convOp) backward(dx, dy, x gpu.Tensor, accumulate bool) error {
	return c.op.Backward(dx, c.dw, dy, x, c.w, accumulate)
}

// bnOp is a planned batch norm with its parameters and statistics, and the
// ReLU that follows it where relu is set: fused into the batch norm
// (gpu.BatchNormSpec.ReLU) unless Config.UnfusedReLU asks for two ops.
type bnOp struct {
	b                          gpu.Backend
	op                         gpu.BatchNorm
	gamma, beta, dgamma, dbeta gpu.Slice
	runMean, runVar            gpu.Slice
	saveMean, saveInvStd       gpu.Slice
	// batchVar is set when the batch statistics are shared (a prefix of a
	// DenseNet block's channelStats, which saveMean and saveInvStd then view
	// too): the training forward reads them instead of computing them.
	batchVar gpu.Slice
	// relu: a ReLU follows; residual: a shortcut is added, then a ReLU
	// (forwardAdd); fused: whichever follows runs inside the batch norm
	// (gpu.BatchNormSpec.ReLU, ResidualReLU)
	relu, residual, fused bool
}

// bn plans a batch norm over c channels; with shared statistics st, over
// the first c channels of st's tensor, whose statistics st computes.
func (bl *builder) bn(name string, c, h, w int, relu bool, st *channelStats) *bnOp {
	return bl.bnThen(name, c, h, w, relu, false, st)
}

// bnAdd plans a batch norm that a shortcut add and a ReLU follow, the end of
// a residual block whose shortcut has the output's shape (forwardAdd).
func (bl *builder) bnAdd(name string, c, h, w int) *bnOp {
	return bl.bnThen(name, c, h, w, false, true, nil)
}

func (bl *builder) bnThen(name string, c, h, w int, relu, residual bool, st *channelStats) *bnOp {
	b := &bnOp{b: bl.b, relu: relu, residual: residual, fused: (relu || residual) && !bl.cfg.UnfusedReLU}
	b.gamma, b.dgamma = bl.param(name+".weight", BNScale, c)
	b.beta, b.dbeta = bl.param(name+".bias", BNShift, c)
	b.runMean = bl.stateSlice(c, false)
	b.runVar = bl.stateSlice(c, true)
	if st == nil {
		b.saveMean = bl.savedSlice(c)
		b.saveInvStd = bl.savedSlice(c)
	}
	if bl.b == nil || bl.err != nil {
		return b
	}
	if st != nil {
		b.saveMean, b.saveInvStd, b.batchVar = st.mean.Sub(0, c), st.invstd.Sub(0, c), st.batchVar.Sub(0, c)
	}
	op, err := bl.b.NewBatchNorm(gpu.BatchNormSpec{N: bl.batch, C: c, H: h, W: w, Eps: bnEps, Momentum: bnMomentum,
		ReLU: relu && b.fused, ResidualReLU: residual && b.fused})
	bl.fail(err)
	b.op = op
	return b
}

// channelStats are the batch statistics of a tensor's channels, shared by
// every batch norm that reads a prefix of them: a DenseNet block's channels
// keep their values for the rest of the forward pass once written, so each
// channel's statistics are computed once, when it is written (compute), and
// the block's later layers normalize with them (gpu.BatchNorm.Stats and
// ForwardTrainFromStats). Without this, layer i recomputed the statistics
// of all the channels before it: a read of the block's whole prefix per
// layer.
type channelStats struct {
	mean, invstd, batchVar gpu.Slice
	// stats plans Stats for each width written at once (a layer's k new
	// channels, and the first channels from the stem or a transition)
	stats map[int]gpu.BatchNorm
}

// channelStats plans shared statistics for n x c x h x w, or returns nil
// when Config.PerLayerBNStats asks each batch norm to compute its own.
func (bl *builder) channelStats(c, h, w int, widths ...int) *channelStats {
	if bl.cfg.PerLayerBNStats {
		return nil
	}
	st := &channelStats{mean: bl.savedSlice(c), invstd: bl.savedSlice(c), batchVar: bl.savedSlice(c), stats: map[int]gpu.BatchNorm{}}
	if bl.b == nil || bl.err != nil {
		return st
	}
	for _, k := range widths {
		if st.stats[k] != nil {
			continue
		}
		op, err := bl.b.NewBatchNorm(gpu.BatchNormSpec{N: bl.batch, C: k, H: h, W: w, Eps: bnEps, Momentum: bnMomentum})
		bl.fail(err)
		st.stats[k] = op
	}
	return st
}

// compute writes the statistics of channels [c0, c0+x.C) from x, those
// channels of the tensor (a no-op without sharing: st nil).
func (st *channelStats) compute(c0 int, x gpu.Tensor) error {
	if st == nil {
		return nil
	}
	k := x.C
	return st.stats[k].Stats(st.mean.Sub(c0, k), st.invstd.Sub(c0, k), st.batchVar.Sub(c0, k), x)
}

// forward writes y = bn(x), after the ReLU when relu is set.
func (b *bnOp) forward(y, x gpu.Tensor, train bool) error {
	return b.forwardAdd(y, x, gpu.Tensor{}, train)
}

// forwardAdd writes y = bn(x), then with residual y = max(y + r, 0) (r of
// y's shape: the shortcut), or with relu max(y, 0).
func (b *bnOp) forwardAdd(y, x, r gpu.Tensor, train bool) error {
	fr := gpu.Tensor{} // the shortcut as the fused op reads it
	if b.residual && b.fused {
		fr = r
	}
	var err error
	switch {
	case train && b.batchVar.Len > 0:
		err = b.op.ForwardTrainFromStats(y, b.runMean, b.runVar, x, fr, b.gamma, b.beta, b.saveMean, b.saveInvStd, b.batchVar)
	case train:
		err = b.op.ForwardTrain(y, b.saveMean, b.saveInvStd, b.runMean, b.runVar, x, fr, b.gamma, b.beta)
	default:
		err = b.op.ForwardInfer(y, x, fr, b.gamma, b.beta, b.runMean, b.runVar)
	}
	if err != nil || b.fused || !(b.relu || b.residual) {
		return err
	}
	if b.residual {
		if err := b.b.AddForward(y, y, r); err != nil {
			return err
		}
	}
	return b.b.ReLUForward(y, y)
}

// backward computes dx (=, or += when accumulate) from dy, the gradient of
// the output y that forward wrote from x (both unchanged since). y is read
// only by an unfused ReLU, whose backward runs in place on dy; pass the zero
// Tensor otherwise. The fused ReLU recomputes its mask from x.
func (b *bnOp) backward(dx, dy, x, y gpu.Tensor, accumulate bool) error {
	if b.relu && !b.fused {
		if err := b.b.ReLUBackward(dy, dy, y); err != nil {
			return err
		}
	}
	return b.op.Backward(dx, b.dgamma, b.dbeta, dy, x, b.gamma, b.beta, b.saveMean, b.saveInvStd, accumulate)
}

// head is global average pooling and the classifier:
// logits = W * mean_{i,j} x[:, :, i, j] + b.
type head struct {
	b               gpu.Backend
	x, dx           gpu.Tensor
	pooled, dpooled gpu.Tensor
	w, dw, bias, db gpu.Slice
	logits, dlogits gpu.Tensor
}

func (bl *builder) head(x, dx gpu.Tensor) {
	h := &head{b: bl.b, x: x, dx: dx}
	h.pooled = bl.tensor(bl.batch, x.C, 1, 1)
	h.dpooled = bl.tensor(bl.batch, x.C, 1, 1)
	h.w, h.dw = bl.param("fc.weight", LinearWeight, bl.cfg.Classes, x.C)
	h.bias, h.db = bl.param("fc.bias", LinearBias, bl.cfg.Classes)
	bl.flops += 2 * float64(bl.cfg.Classes*x.C)
	h.logits = bl.tensor(bl.batch, bl.cfg.Classes, 1, 1)
	h.dlogits = bl.tensor(bl.batch, bl.cfg.Classes, 1, 1)
	if bl.net != nil {
		bl.net.Logits, bl.net.DLogits = h.logits, h.dlogits
	}
	bl.add(h)
}

func (h *head) forward(bool) error {
	if err := h.b.GlobalAvgPoolForward(h.pooled, h.x); err != nil {
		return err
	}
	return h.b.LinearForward(h.logits, h.pooled, h.w, h.bias)
}

func (h *head) backward() error {
	if err := h.b.LinearBackward(h.dpooled, h.dw, h.db, h.dlogits, h.pooled, h.w, false); err != nil {
		return err
	}
	return h.b.GlobalAvgPoolBackward(h.dx, h.dpooled, false)
}
