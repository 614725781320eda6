// Package profile wraps a gpu.Backend to show where a training step's time
// goes: every op is followed by Sync, and its wall time, launch included, is
// added to the op's row. The waits make a profiled step slower than a plain
// one (the device cannot overlap ops, and on a GPU the host's launch cost is
// no longer hidden), so the table shows shares, not the step's speed.
//
// Use it by building the model on the wrapper instead of the backend; memory,
// transfers and the other non-op methods pass through untimed.
package profile

import (
	"fmt"
	"io"
	"sort"
	"time"

	"repro/gpu"
)

// Row is the time spent in one kind of op.
type Row struct {
	Op      string
	Calls   int
	Seconds float64
}

// Backend is a gpu.Backend whose ops are timed.
type Backend struct {
	gpu.Backend
	rows  map[string]*Row
	start time.Time
}

// Wrap returns b with its ops timed.
func Wrap(b gpu.Backend) *Backend {
	return &Backend{Backend: b, rows: map[string]*Row{}}
}

// Reset forgets the rows so far (call it after warm-up steps).
func (p *Backend) Reset() {
	for k := range p.rows {
		delete(p.rows, k)
	}
}

// Rows are the ops, most time first.
func (p *Backend) Rows() []Row {
	out := make([]Row, 0, len(p.rows))
	for _, r := range p.rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seconds != out[j].Seconds {
			return out[i].Seconds > out[j].Seconds
		}
		return out[i].Op < out[j].Op
	})
	return out
}

// Write prints the rows as a table: per step (steps is how many were
// profiled) milliseconds and calls, the share of the total, and the mean
// microseconds per call.
func (p *Backend) Write(w io.Writer, steps int) {
	rows := p.Rows()
	total := 0.0
	for _, r := range rows {
		total += r.Seconds
	}
	if steps < 1 || total == 0 {
		fmt.Fprintln(w, "  (no ops profiled)")
		return
	}
	fmt.Fprintf(w, "  %-34s %10s %12s %7s %10s\n", "op", "calls/step", "ms/step", "share", "us/call")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-34s %10.1f %12.3f %6.1f%% %10.1f\n", r.Op, float64(r.Calls)/float64(steps),
			1000*r.Seconds/float64(steps), 100*r.Seconds/total, 1e6*r.Seconds/float64(r.Calls))
	}
	fmt.Fprintf(w, "  %-34s %10s %12.3f\n", "total (each op synchronized)", "", 1000*total/float64(steps))
}

// begin starts timing an op; the device is already idle, as every op before
// this one ended with Sync.
func (p *Backend) begin() { p.start = time.Now() }

// end waits for the op and charges its time to the row named op.
func (p *Backend) end(op string, err error) error {
	if err == nil {
		err = p.Backend.Sync()
	}
	d := time.Since(p.start).Seconds()
	r := p.rows[op]
	if r == nil {
		r = &Row{Op: op}
		p.rows[op] = r
	}
	r.Calls++
	r.Seconds += d
	return err
}

func layout(t gpu.Tensor) string {
	if t.Contiguous() {
		return ""
	}
	return " (view)"
}

func (p *Backend) Zero(s gpu.Slice) error {
	p.begin()
	return p.end("zero", p.Backend.Zero(s))
}

func (p *Backend) ZeroTensor(t gpu.Tensor) error {
	p.begin()
	return p.end("zero", p.Backend.ZeroTensor(t))
}

func (p *Backend) SetSeed(dst gpu.IntSlice, seed uint64) error {
	p.begin()
	return p.end("set seed", p.Backend.SetSeed(dst, seed))
}

func (p *Backend) Copy(dst, src gpu.Tensor) error {
	p.begin()
	return p.end("copy", p.Backend.Copy(dst, src))
}

// NewConv plans the convolution on the wrapped backend and times its calls
// under names that give the kernel size and stride.
func (p *Backend) NewConv(s gpu.ConvSpec) (gpu.Conv, error) {
	c, err := p.Backend.NewConv(s)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("conv%dx%d", s.Kernel, s.Kernel)
	if s.Stride != 1 {
		name += fmt.Sprintf("/%d", s.Stride)
	}
	return &conv{Conv: c, p: p, fwd: name + " forward", bwd: name + " backward (data+filter)", bwdFilter: name + " backward (filter only)"}, nil
}

type conv struct {
	gpu.Conv
	p                   *Backend
	fwd, bwd, bwdFilter string
}

func (c *conv) Forward(y, x gpu.Tensor, w gpu.Slice) error {
	c.p.begin()
	return c.p.end(c.fwd, c.Conv.Forward(y, x, w))
}

func (c *conv) Backward(dx gpu.Tensor, dw gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	name := c.bwd
	if dx.Buf == nil {
		name = c.bwdFilter
	}
	c.p.begin()
	return c.p.end(name, c.Conv.Backward(dx, dw, dy, x, w, accumulate))
}

// NewBatchNorm plans batch norm on the wrapped backend; calls on channel
// views (DenseNet's concatenations) are counted apart from packed tensors.
func (p *Backend) NewBatchNorm(s gpu.BatchNormSpec) (gpu.BatchNorm, error) {
	bn, err := p.Backend.NewBatchNorm(s)
	if err != nil {
		return nil, err
	}
	return &batchNorm{BatchNorm: bn, p: p}, nil
}

type batchNorm struct {
	gpu.BatchNorm
	p *Backend
}

func (b *batchNorm) ForwardTrain(y gpu.Tensor, saveMean, saveInvStd, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta gpu.Slice) error {
	b.p.begin()
	return b.p.end(b.name("train forward", x), b.BatchNorm.ForwardTrain(y, saveMean, saveInvStd, runMean, runVar, x, r, gamma, beta))
}

func (b *batchNorm) Stats(saveMean, saveInvStd, batchVar gpu.Slice, x gpu.Tensor) error {
	b.p.begin()
	return b.p.end(b.name("stats", x), b.BatchNorm.Stats(saveMean, saveInvStd, batchVar, x))
}

func (b *batchNorm) ForwardTrainFromStats(y gpu.Tensor, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta, saveMean, saveInvStd, batchVar gpu.Slice) error {
	b.p.begin()
	return b.p.end(b.name("train forward from stats", x), b.BatchNorm.ForwardTrainFromStats(y, runMean, runVar, x, r, gamma, beta, saveMean, saveInvStd, batchVar))
}

func (b *batchNorm) ForwardInfer(y gpu.Tensor, x, r gpu.Tensor, gamma, beta, runMean, runVar gpu.Slice) error {
	b.p.begin()
	return b.p.end(b.name("infer forward", x), b.BatchNorm.ForwardInfer(y, x, r, gamma, beta, runMean, runVar))
}

func (b *batchNorm) Backward(dx gpu.Tensor, dgamma, dbeta gpu.Slice, dy, x gpu.Tensor, gamma, beta, saveMean, saveInvStd gpu.Slice, accumulate bool) error {
	b.p.begin()
	return b.p.end(b.name("backward", x), b.BatchNorm.Backward(dx, dgamma, dbeta, dy, x, gamma, beta, saveMean, saveInvStd, accumulate))
}

// name is the profile row of a batch-norm call: "batchnorm+relu backward
// (view)" and the like.
func (b *batchNorm) name(pass string, x gpu.Tensor) string {
	op := "batchnorm "
	switch s := b.Spec(); {
	case s.ReLU:
		op = "batchnorm+relu "
	case s.ResidualReLU:
		op = "batchnorm+add+relu "
	}
	return op + pass + layout(x)
}

func (p *Backend) ReLUForward(y, x gpu.Tensor) error {
	p.begin()
	return p.end("relu forward", p.Backend.ReLUForward(y, x))
}

func (p *Backend) ReLUBackward(dx, dy, y gpu.Tensor) error {
	p.begin()
	return p.end("relu backward", p.Backend.ReLUBackward(dx, dy, y))
}

func (p *Backend) ResidualForward(y, a, s gpu.Tensor) error {
	p.begin()
	return p.end("residual forward", p.Backend.ResidualForward(y, a, s))
}

func (p *Backend) ShortcutBackward(ds, dy gpu.Tensor, accumulate bool) error {
	p.begin()
	return p.end("shortcut backward", p.Backend.ShortcutBackward(ds, dy, accumulate))
}

func (p *Backend) AddForward(y, a, b gpu.Tensor) error {
	p.begin()
	return p.end("add", p.Backend.AddForward(y, a, b))
}

func (p *Backend) AvgPoolForward(y, x gpu.Tensor, k int) error {
	p.begin()
	return p.end("avgpool forward", p.Backend.AvgPoolForward(y, x, k))
}

func (p *Backend) AvgPoolBackward(dx, dy gpu.Tensor, k int, accumulate bool) error {
	p.begin()
	return p.end("avgpool backward", p.Backend.AvgPoolBackward(dx, dy, k, accumulate))
}

func (p *Backend) GlobalAvgPoolForward(y, x gpu.Tensor) error {
	p.begin()
	return p.end("global avgpool forward", p.Backend.GlobalAvgPoolForward(y, x))
}

func (p *Backend) GlobalAvgPoolBackward(dx, dy gpu.Tensor, accumulate bool) error {
	p.begin()
	return p.end("global avgpool backward", p.Backend.GlobalAvgPoolBackward(dx, dy, accumulate))
}

func (p *Backend) LinearForward(y, x gpu.Tensor, w, b gpu.Slice) error {
	p.begin()
	return p.end("linear forward", p.Backend.LinearForward(y, x, w, b))
}

func (p *Backend) LinearBackward(dx gpu.Tensor, dw, db gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	p.begin()
	return p.end("linear backward", p.Backend.LinearBackward(dx, dw, db, dy, x, w, accumulate))
}

func (p *Backend) DropoutForward(y, x gpu.Tensor, prob float32, seed gpu.DropoutSeed) error {
	p.begin()
	return p.end("dropout forward", p.Backend.DropoutForward(y, x, prob, seed))
}

func (p *Backend) DropoutBackward(dx, dy gpu.Tensor, prob float32, seed gpu.DropoutSeed, accumulate bool) error {
	p.begin()
	return p.end("dropout backward", p.Backend.DropoutBackward(dx, dy, prob, seed, accumulate))
}

func (p *Backend) SoftmaxCrossEntropy(dlogits gpu.Tensor, metrics gpu.Slice, logits gpu.Tensor, labels gpu.IntSlice, gradScale float32) error {
	p.begin()
	return p.end("softmax cross-entropy", p.Backend.SoftmaxCrossEntropy(dlogits, metrics, logits, labels, gradScale))
}

func (p *Backend) SGDStep(params, grads, momentum, decay gpu.Slice, hp gpu.SGDParams) error {
	p.begin()
	return p.end("sgd step", p.Backend.SGDStep(params, grads, momentum, decay, hp))
}

func (p *Backend) AdamStep(params, grads, m, v, decay gpu.Slice, hp gpu.AdamParams) error {
	p.begin()
	return p.end("adam step", p.Backend.AdamStep(params, grads, m, v, decay, hp))
}

func (p *Backend) BuildBatch(x gpu.Tensor, labels gpu.IntSlice, d gpu.Dataset, order gpu.IntSlice, start int, aug gpu.Augment) error {
	p.begin()
	return p.end("build batch", p.Backend.BuildBatch(x, labels, d, order, start, aug))
}
