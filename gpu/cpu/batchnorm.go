package cpu

import (
	"fmt"
	"math"

	"repro/gpu"
	"repro/gpu/cpu/vec"
)

// batchNorm is spatial batch normalization planned for one shape. Statistics
// are summed in float64 per worker over a range of pixels and then reduced.
type batchNorm struct {
	b *Backend
	s gpu.BatchNormSpec
	// per-channel coefficients of the current call: y = x*k1 + k0, then
	// max(y, 0) with the fused ReLU (forward); dx = g*k1 + x*k2 + k0
	// (backward), g being dy, or with the fused ReLU dy where
	// x*m1 + m0 > 0, m1 and m0 being the forward's k1 and k0 (nil without)
	k0, k1, k2 []float32
	m0, m1     []float32

	phase      int
	x, y       view // y: the output (forward)
	r          view // the shortcut of a fused residual and ReLU (forward), or none (nil data)
	dx, dy     view
	accumulate bool
}

const (
	bnStats     = iota // sum x, sum x^2
	bnAffine           // y = x*k1 + k0 (then max(y, 0) with the fused ReLU)
	bnGradStats        // sum g, sum g*x (g: dy, masked with the fused ReLU)
	bnGrad             // dx = g*k1 + x*k2 + k0
)

// NewBatchNorm plans batch normalization.
func (b *Backend) NewBatchNorm(s gpu.BatchNormSpec) (gpu.BatchNorm, error) {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.Eps <= 0 || s.Momentum < 0 || s.Momentum > 1 || s.N*s.H*s.W < 2 || (s.ReLU && s.ResidualReLU) {
		return nil, fmt.Errorf("cpu batch norm %+v: sizes and eps must be positive, N*H*W at least 2, momentum in [0, 1], not both ReLU and ResidualReLU", s)
	}
	bn := &batchNorm{b: b, s: s, k0: make([]float32, s.C), k1: make([]float32, s.C), k2: make([]float32, s.C)}
	b.bytes += int64(12 * s.C)
	if s.ReLU {
		bn.m0, bn.m1 = make([]float32, s.C), make([]float32, s.C)
		b.bytes += int64(8 * s.C)
	}
	b.growScratch(0, 2*s.C)
	return bn, nil
}

func (bn *batchNorm) Spec() gpu.BatchNormSpec { return bn.s }

func (bn *batchNorm) tensor(op, name string, t gpu.Tensor) (view, error) {
	s := bn.s
	if t.N != s.N || t.C != s.C || t.H != s.H || t.W != s.W {
		return view{}, fmt.Errorf("cpu batch norm %s: %s %v, spec wants [%d %d %d %d]", op, name, t, s.N, s.C, s.H, s.W)
	}
	v, err := resolve(t)
	if err != nil {
		return view{}, fmt.Errorf("cpu batch norm %s %s: %w", op, name, err)
	}
	return v, nil
}

func (bn *batchNorm) channel(op, name string, s gpu.Slice) ([]float32, error) {
	if s.Len != bn.s.C {
		return nil, fmt.Errorf("cpu batch norm %s: %s has %d values, want %d channels", op, name, s.Len, bn.s.C)
	}
	d, err := floats(s)
	if err != nil {
		return nil, fmt.Errorf("cpu batch norm %s %s: %w", op, name, err)
	}
	return d, nil
}

// channels resolves per-channel arguments in order: out[i] is the floats of
// s[i], named names[i] in an error.
func (bn *batchNorm) channels(op string, names []string, out [][]float32, s ...gpu.Slice) error {
	for i := range s {
		d, err := bn.channel(op, names[i], s[i])
		if err != nil {
			return err
		}
		out[i] = d
	}
	return nil
}

// forwardTensors resolves a forward's tensors: y, x and, with
// ResidualReLU, the shortcut r (else none).
func (bn *batchNorm) forwardTensors(op string, y, x, r gpu.Tensor) error {
	var err error
	if bn.x, err = bn.tensor(op, "x", x); err != nil {
		return err
	}
	if bn.y, err = bn.tensor(op, "y", y); err != nil {
		return err
	}
	bn.r = view{}
	if bn.s.ResidualReLU {
		bn.r, err = bn.tensor(op, "r", r)
	}
	return err
}

// sums runs a statistics phase and returns the reduced float64 sums.
func (bn *batchNorm) sums(phase int) []float64 {
	bn.phase = phase
	pix := bn.x.pix()
	bn.b.pool.run(bn, pix)
	c2 := 2 * bn.s.C
	sum := bn.b.red[0][:c2]
	for w := 1; w < min(bn.b.pool.n, pix); w++ {
		for i, v := range bn.b.red[w][:c2] {
			sum[i] += v
		}
	}
	return sum
}

// ForwardTrain normalizes with the batch statistics; see gpu.BatchNorm.
func (bn *batchNorm) ForwardTrain(y gpu.Tensor, saveMean, saveInvStd, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta gpu.Slice) error {
	const op = "forward train"
	if err := bn.forwardTensors(op, y, x, r); err != nil {
		return err
	}
	var ch [6][]float32
	if err := bn.channels(op, []string{"saveMean", "saveInvStd", "runMean", "runVar", "gamma", "beta"}, ch[:], saveMean, saveInvStd, runMean, runVar, gamma, beta); err != nil {
		return err
	}
	sm, si, rm, rv, g, be := ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]
	sum := bn.sums(bnStats)
	m := float64(bn.x.pix())
	mom := bn.s.Momentum
	for c := 0; c < bn.s.C; c++ {
		mean, variance, invstd := bn.finishStats(sum, c)
		sm[c], si[c] = float32(mean), float32(invstd)
		rm[c] = float32((1-mom)*float64(rm[c]) + mom*mean)
		rv[c] = float32((1-mom)*float64(rv[c]) + mom*variance*m/(m-1))
		// from the saved float32 statistics, which a fused ReLU's backward
		// folds the same way
		bn.k1[c], bn.k0[c] = gpu.BatchNormTrainCoeffs(g[c], be[c], sm[c], si[c])
	}
	bn.phase = bnAffine
	bn.b.pool.run(bn, bn.x.pix())
	return nil
}

// finishStats turns channel c's reduced sums into its mean, biased variance
// and 1/sqrt(variance+Eps).
func (bn *batchNorm) finishStats(sum []float64, c int) (mean, variance, invstd float64) {
	m := float64(bn.x.pix())
	mean = sum[c] / m
	variance = max(sum[bn.s.C+c]/m-mean*mean, 0)
	return mean, variance, 1 / math.Sqrt(variance+bn.s.Eps)
}

// Stats computes the batch statistics alone; see gpu.BatchNorm.
func (bn *batchNorm) Stats(saveMean, saveInvStd, batchVar gpu.Slice, x gpu.Tensor) error {
	const op = "stats"
	var err error
	if bn.x, err = bn.tensor(op, "x", x); err != nil {
		return err
	}
	var ch [3][]float32
	if err := bn.channels(op, []string{"saveMean", "saveInvStd", "batchVar"}, ch[:], saveMean, saveInvStd, batchVar); err != nil {
		return err
	}
	sm, si, bv := ch[0], ch[1], ch[2]
	sum := bn.sums(bnStats)
	m := float64(bn.x.pix())
	for c := 0; c < bn.s.C; c++ {
		mean, variance, invstd := bn.finishStats(sum, c)
		sm[c], si[c], bv[c] = float32(mean), float32(invstd), float32(variance*m/(m-1))
	}
	return nil
}

// ForwardTrainFromStats normalizes with statistics Stats computed; see
// gpu.BatchNorm. y is bit for bit ForwardTrain's.
func (bn *batchNorm) ForwardTrainFromStats(y gpu.Tensor, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta, saveMean, saveInvStd, batchVar gpu.Slice) error {
	const op = "forward train from stats"
	if err := bn.forwardTensors(op, y, x, r); err != nil {
		return err
	}
	var ch [7][]float32
	if err := bn.channels(op, []string{"runMean", "runVar", "gamma", "beta", "saveMean", "saveInvStd", "batchVar"}, ch[:], runMean, runVar, gamma, beta, saveMean, saveInvStd, batchVar); err != nil {
		return err
	}
	rm, rv, g, be, sm, si, bv := ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6]
	mom := bn.s.Momentum
	for c := 0; c < bn.s.C; c++ {
		rm[c] = float32((1-mom)*float64(rm[c]) + mom*float64(sm[c]))
		rv[c] = float32((1-mom)*float64(rv[c]) + mom*float64(bv[c]))
		bn.k1[c], bn.k0[c] = gpu.BatchNormTrainCoeffs(g[c], be[c], sm[c], si[c])
	}
	bn.phase = bnAffine
	bn.b.pool.run(bn, bn.x.pix())
	return nil
}

// ForwardInfer normalizes with the running statistics; see gpu.BatchNorm.
func (bn *batchNorm) ForwardInfer(y gpu.Tensor, x, r gpu.Tensor, gamma, beta, runMean, runVar gpu.Slice) error {
	const op = "forward infer"
	if err := bn.forwardTensors(op, y, x, r); err != nil {
		return err
	}
	var ch [4][]float32
	if err := bn.channels(op, []string{"gamma", "beta", "runMean", "runVar"}, ch[:], gamma, beta, runMean, runVar); err != nil {
		return err
	}
	g, be, rm, rv := ch[0], ch[1], ch[2], ch[3]
	for c := 0; c < bn.s.C; c++ {
		k1 := float64(g[c]) / math.Sqrt(float64(rv[c])+bn.s.Eps)
		bn.k1[c], bn.k0[c] = float32(k1), float32(float64(be[c])-float64(rm[c])*k1)
	}
	bn.phase = bnAffine
	bn.b.pool.run(bn, bn.x.pix())
	return nil
}

// Backward computes dgamma, dbeta (+=) and dx (=, +=); see gpu.BatchNorm.
func (bn *batchNorm) Backward(dx gpu.Tensor, dgamma, dbeta gpu.Slice, dy, x gpu.Tensor, gamma, beta, saveMean, saveInvStd gpu.Slice, accumulate bool) error {
	const op = "backward"
	var err error
	if bn.x, err = bn.tensor(op, "x", x); err != nil {
		return err
	}
	if bn.dy, err = bn.tensor(op, "dy", dy); err != nil {
		return err
	}
	if bn.dx, err = bn.tensor(op, "dx", dx); err != nil {
		return err
	}
	var ch [5][]float32
	if err := bn.channels(op, []string{"dgamma", "dbeta", "gamma", "saveMean", "saveInvStd"}, ch[:], dgamma, dbeta, gamma, saveMean, saveInvStd); err != nil {
		return err
	}
	dg, db, g, sm, si := ch[0], ch[1], ch[2], ch[3], ch[4]
	if bn.s.ReLU { // the forward's coefficients, to mask dy where its output was 0
		be, err := bn.channel(op, "beta", beta)
		if err != nil {
			return err
		}
		for c := range bn.m1 {
			bn.m1[c], bn.m0[c] = gpu.BatchNormTrainCoeffs(g[c], be[c], sm[c], si[c])
		}
	}
	sum := bn.sums(bnGradStats)
	m := float64(bn.x.pix())
	C := bn.s.C
	for c := 0; c < C; c++ {
		mean, invstd := float64(sm[c]), float64(si[c])
		sdy := sum[c]
		sdyxhat := invstd * (sum[C+c] - mean*sdy) // sum dy*(x-mean)*invstd
		db[c] += float32(sdy)
		dg[c] += float32(sdyxhat)
		// dx = gamma*invstd*(dy - sdy/m - xhat*sdyxhat/m)
		k1 := float64(g[c]) * invstd
		k2 := -k1 * invstd * sdyxhat / m
		bn.k1[c] = float32(k1)
		bn.k2[c] = float32(k2)
		bn.k0[c] = float32(-k1*sdy/m - k2*mean)
	}
	bn.accumulate = accumulate
	bn.phase = bnGrad
	bn.b.pool.run(bn, bn.x.pix())
	return nil
}

// run handles pixels [lo, hi) on worker w.
func (bn *batchNorm) run(w, lo, hi int) {
	C, rows := bn.s.C, hi-lo
	x := bn.x.from(lo)
	switch bn.phase {
	case bnStats:
		red := bn.b.red[w][:2*C]
		clear(red)
		vec.Sums(red[:C], red[C:], x, bn.x.ld, rows, C)
	case bnAffine:
		var r []float32
		if bn.r.data != nil {
			r = bn.r.from(lo)
		}
		vec.Affine(bn.y.from(lo), bn.y.ld, x, bn.x.ld, r, bn.r.ld, bn.k1, bn.k0, rows, C, bn.s.ReLU || bn.s.ResidualReLU)
	case bnGradStats:
		red := bn.b.red[w][:2*C]
		clear(red)
		vec.GradSums(red[:C], red[C:], bn.dy.from(lo), bn.dy.ld, x, bn.x.ld, bn.m1, bn.m0, rows, C)
	case bnGrad:
		vec.AffineGrad(bn.dx.from(lo), bn.dx.ld, bn.dy.from(lo), bn.dy.ld, x, bn.x.ld, bn.k1, bn.k2, bn.k0, bn.m1, bn.m0, rows, C, bn.accumulate)
	}
}
