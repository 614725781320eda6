package gputest_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"repro/gpu"
	"repro/gpu/gputest"
	"repro/gpu/ref"
)

// Each mutant is the naive backend with one op made wrong in a way a real
// backend could get it wrong. The suite must fail the cases that exercise
// that op (mustFail) and no case outside the op (every failure must have a
// name starting with one of prefixes).
type mutant struct {
	name     string
	b        gpu.Backend
	prefixes []string
	mustFail []string
	runAll   bool // run every case, not only those under prefixes
}

func TestMutantsFail(t *testing.T) {
	mutants := []mutant{
		{name: "ReLUBackward passes dy where y == 0", b: reluAtZero{&refBackend{}},
			prefixes: []string{"relu/16ch-8x8/backward", "relu/odd-5x7-views/backward"},
			mustFail: []string{"relu/16ch-8x8/backward", "relu/16ch-8x8/backward-in-place",
				"relu/odd-5x7-views/backward", "relu/odd-5x7-views/backward-in-place"},
			runAll: true},
		{name: "ReLUForward writes the channel after its view", b: reluSpills{&refBackend{}},
			prefixes: []string{"relu/"}, mustFail: []string{"relu/odd-5x7-views/forward"}},
		{name: "Conv.Backward ignores accumulate", b: convOverwrites{&refBackend{}},
			prefixes: []string{"conv/"},
			mustFail: []string{"conv/resnet-16to32-s2-32x32/backward", "conv/densenet-concat-same-buffer/backward"}},
		{name: "BatchNorm running variance biased", b: bnBiased{&refBackend{}},
			prefixes: []string{"batchnorm/"},
			mustFail: []string{"batchnorm/small-2x3x2x2/forward-train", "batchnorm/resnet-16ch-32x32/forward-train",
				"batchnorm/small-2x3x2x2/stats"}},
		{name: "ZeroTensor clears the whole parent", b: zeroParent{&refBackend{}},
			prefixes: []string{"memory/"}, mustFail: []string{"memory/zero-tensor"}},
		{name: "DropoutBackward leaves dropped elements unwritten", b: dropoutSparse{&refBackend{}},
			prefixes: []string{"dropout/"}, mustFail: []string{"dropout/p0.2-16ch-8x8/backward", "dropout/p0.5-odd-5x7-views/backward"}},
		{name: "Dropout keyed by its salt alone", b: dropoutSaltOnly{&refBackend{}},
			prefixes: []string{"dropout/"}, mustFail: []string{"dropout/p0.2-16ch-8x8/forward", "dropout/seed-in-memory"}},
		{name: "SetSeed stores the high half first", b: seedSwapped{&refBackend{}},
			prefixes: []string{"dropout/"}, mustFail: []string{"dropout/seed-in-memory"}},
		{name: "ResidualForward without the channel padding offset", b: residualNoPad{&refBackend{}},
			prefixes: []string{"residual/"}, mustFail: []string{"residual/option-a-16to32-s2/forward", "residual/option-a-4to8-s2-view/forward"}},
		{name: "LinearBackward overwrites db", b: linearSetsBias{&refBackend{}},
			prefixes: []string{"linear/"}, mustFail: []string{"linear/resnet-64to10-n8/backward"}},
		{name: "SoftmaxCrossEntropy counts errors against the last maximum", b: lastArgmax{&refBackend{}},
			prefixes: []string{"softmax-xent/"}, mustFail: []string{"softmax-xent/ties-k5"}},
		{name: "SGDStep ignores the decay mask", b: sgdNoMask{&refBackend{}},
			prefixes: []string{"sgd/"}, mustFail: []string{"sgd/plain-wd", "sgd/momentum-wd", "sgd/nesterov-wd", "sgd/dampening-wd"}},
		{name: "AdamStep adds Eps inside the square root", b: adamEpsInside{&refBackend{}},
			prefixes: []string{"adam/"}, mustFail: []string{"adam/adam-eps-step10", "adam/adamw-eps-step10"}},
		{name: "BuildBatch never flips", b: noFlip{&refBackend{}},
			prefixes: []string{"dataset/"}, mustFail: []string{"dataset/flip-only-32", "dataset/pad-crop-flip-32", "dataset/static-3x-keep-original-32"}},
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			var failed []string
			for _, c := range gputest.Cases() {
				in := slices.ContainsFunc(m.prefixes, func(p string) bool { return strings.HasPrefix(c.Name, p) })
				if !in && !m.runAll {
					continue
				}
				err := c.Check(m.b, 1e-5)
				if err == nil {
					continue
				}
				failed = append(failed, c.Name)
				if !in {
					t.Errorf("case %s, outside the mutated op, failed: %v", c.Name, err)
				}
			}
			for _, name := range m.mustFail {
				if !slices.Contains(failed, name) {
					t.Errorf("case %s passed; failed: %v", name, failed)
				}
			}
		})
	}
}

func TestMutantErrorMessage(t *testing.T) {
	for _, c := range gputest.Cases() {
		if c.Name != "relu/16ch-8x8/backward" {
			continue
		}
		err := c.Check(reluAtZero{&refBackend{}}, 1e-5)
		if err == nil || !strings.Contains(err.Error(), "dx") || !strings.Contains(err.Error(), "relative error") {
			t.Errorf("error %v: want the output name and its relative error", err)
		}
		return
	}
	t.Fatal("case relu/16ch-8x8/backward not found")
}

type reluAtZero struct{ *refBackend }

func (b reluAtZero) ReLUBackward(dx, dy, y gpu.Tensor) error {
	v, yv := gather(dy), gather(y)
	for i := range v {
		if yv[i] < 0 { // should be y <= 0
			v[i] = 0
		}
	}
	scatter(dx, v)
	return nil
}

type reluSpills struct{ *refBackend }

func (b reluSpills) ReLUForward(y, x gpu.Tensor) error {
	if err := b.refBackend.ReLUForward(y, x); err != nil {
		return err
	}
	if y.C0+y.C < y.ParentC {
		next := y
		next.C0, next.C = y.C0+y.C, 1
		scatter(next, make([]float64, next.Elems()))
	}
	return nil
}

type convOverwrites struct{ *refBackend }

type overwritingConv struct{ gpu.Conv }

func (b convOverwrites) NewConv(s gpu.ConvSpec) (gpu.Conv, error) {
	c, err := b.refBackend.NewConv(s)
	return overwritingConv{c}, err
}

func (c overwritingConv) Backward(dx gpu.Tensor, dw gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, _ bool) error {
	return c.Conv.Backward(dx, dw, dy, x, w, false)
}

type bnBiased struct{ *refBackend }

type biasedBatchNorm struct{ gpu.BatchNorm }

func (b bnBiased) NewBatchNorm(s gpu.BatchNormSpec) (gpu.BatchNorm, error) {
	bn, err := b.refBackend.NewBatchNorm(s)
	return biasedBatchNorm{bn}, err
}

func (bn biasedBatchNorm) ForwardTrain(y gpu.Tensor, saveMean, saveInvStd, runMean, runVar gpu.Slice, x, r gpu.Tensor, gamma, beta gpu.Slice) error {
	old := wide(runVar)
	if err := bn.BatchNorm.ForwardTrain(y, saveMean, saveInvStd, runMean, runVar, x, r, gamma, beta); err != nil {
		return err
	}
	s := bn.Spec()
	m := float64(s.N * s.H * s.W)
	v := wide(runVar)
	for c := range v {
		unbiased := (v[c] - (1-s.Momentum)*old[c]) / s.Momentum
		v[c] = (1-s.Momentum)*old[c] + s.Momentum*unbiased*(m-1)/m
	}
	setSlice(runVar, v)
	return nil
}

func (bn biasedBatchNorm) Stats(saveMean, saveInvStd, batchVar gpu.Slice, x gpu.Tensor) error {
	if err := bn.BatchNorm.Stats(saveMean, saveInvStd, batchVar, x); err != nil {
		return err
	}
	s := bn.Spec()
	m := float64(s.N * s.H * s.W)
	v := wide(batchVar)
	for c := range v {
		v[c] *= (m - 1) / m
	}
	setSlice(batchVar, v)
	return nil
}

type zeroParent struct{ *refBackend }

func (b zeroParent) ZeroTensor(t gpu.Tensor) error {
	t.C0, t.C = 0, t.ParentC
	return b.refBackend.ZeroTensor(t)
}

type dropoutSparse struct{ *refBackend }

func (b dropoutSparse) DropoutBackward(dx, dy gpu.Tensor, p float32, seed gpu.DropoutSeed, accumulate bool) error {
	if accumulate {
		return b.refBackend.DropoutBackward(dx, dy, p, seed, true)
	}
	v, g := gather(dx), gather(dy)
	for e := range v {
		if ref.DropoutKeep(p, key(seed), e) {
			v[e] = g[e] / (1 - float64(p))
		}
	}
	scatter(dx, v)
	return nil
}

type dropoutSaltOnly struct{ *refBackend }

func (b dropoutSaltOnly) DropoutForward(y, x gpu.Tensor, p float32, seed gpu.DropoutSeed) error {
	v := gather(x)
	ref.DropoutForward(v, v, p, seed.Key(0))
	scatter(y, v)
	return nil
}

type seedSwapped struct{ *refBackend }

func (b seedSwapped) SetSeed(dst gpu.IntSlice, seed uint64) error {
	return b.refBackend.SetSeed(dst, seed>>32|seed<<32)
}

// Dropout reads the halves as the mutant's SetSeed stored them, so only the
// stored words can tell.
func (b seedSwapped) DropoutForward(y, x gpu.Tensor, p float32, seed gpu.DropoutSeed) error {
	w := ints(seed.Step)
	v := gather(x)
	ref.DropoutForward(v, v, p, seed.Key(gpu.SeedFromWords(w[1], w[0])))
	scatter(y, v)
	return nil
}

type residualNoPad struct{ *refBackend }

func (b residualNoPad) ResidualForward(y, a, s gpu.Tensor) error {
	as, ss := ref.ShapeOf(a), ref.ShapeOf(s)
	av, sv := gather(a), gather(s)
	f := ss.H / as.H
	for n := 0; n < as.N; n++ {
		for c := 0; c < ss.C; c++ { // should be channel c + (a.C-s.C)/2
			for i := 0; i < as.H; i++ {
				for j := 0; j < as.W; j++ {
					av[as.Index(n, c, i, j)] += sv[ss.Index(n, c, i*f, j*f)]
				}
			}
		}
	}
	scatter(y, av)
	return nil
}

type linearSetsBias struct{ *refBackend }

func (b linearSetsBias) LinearBackward(dx gpu.Tensor, dw, db gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	clear(floats(db))
	return b.refBackend.LinearBackward(dx, dw, db, dy, x, w, accumulate)
}

type lastArgmax struct{ *refBackend }

func (b lastArgmax) SoftmaxCrossEntropy(dlogits gpu.Tensor, metrics gpu.Slice, logits gpu.Tensor, labels gpu.IntSlice, gradScale float32) error {
	before := floats(metrics)[1]
	if err := b.refBackend.SoftmaxCrossEntropy(dlogits, metrics, logits, labels, gradScale); err != nil {
		return err
	}
	l, k, errs := gather(logits), logits.C, 0
	for n, label := range ints(labels) {
		row := l[n*k : (n+1)*k]
		arg := 0
		for j, v := range row {
			if v >= row[arg] { // should be >
				arg = j
			}
		}
		if label >= 0 && arg != int(label) {
			errs++
		}
	}
	floats(metrics)[1] = before + float32(errs)
	return nil
}

type sgdNoMask struct{ *refBackend }

func (b sgdNoMask) SGDStep(params, grads, momentum, decay gpu.Slice, hp gpu.SGDParams) error {
	p, m, ones := wide(params), wide(momentum), make([]float64, params.Len)
	for i := range ones {
		ones[i] = 1
	}
	ref.SGDStep(p, wide(grads), m, ones, hp)
	setSlice(params, p)
	setSlice(momentum, m)
	return nil
}

type adamEpsInside struct{ *refBackend }

func (b adamEpsInside) AdamStep(params, grads, m, v, decay gpu.Slice, hp gpu.AdamParams) error {
	p, g, mv, vv, d := wide(params), wide(grads), wide(m), wide(v), wide(decay)
	lr, b1, b2, eps, wd := float64(hp.LR), float64(hp.Beta1), float64(hp.Beta2), float64(hp.Eps), float64(hp.WeightDecay)
	for i := range p {
		gi := g[i]
		if hp.Decoupled {
			p[i] -= lr * wd * d[i] * p[i]
		} else {
			gi += wd * d[i] * p[i]
		}
		mv[i] = b1*mv[i] + (1-b1)*gi
		vv[i] = b2*vv[i] + (1-b2)*gi*gi
		mhat := mv[i] / (1 - math.Pow(b1, float64(hp.Step)))
		vhat := vv[i] / (1 - math.Pow(b2, float64(hp.Step)))
		p[i] -= lr * mhat / math.Sqrt(vhat+eps) // should be sqrt(vhat) + eps
	}
	setSlice(params, p)
	setSlice(m, mv)
	setSlice(v, vv)
	return nil
}

type noFlip struct{ *refBackend }

func (b noFlip) BuildBatch(x gpu.Tensor, labels gpu.IntSlice, d gpu.Dataset, order gpu.IntSlice, start int, aug gpu.Augment) error {
	aug.Flip = false
	return b.refBackend.BuildBatch(x, labels, d, order, start, aug)
}
