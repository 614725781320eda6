package ref

import (
	"fmt"
	"math"

	"repro/gpu"
)

func bnShape(op string, s gpu.BatchNormSpec) (Shape, int) {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		panic(fmt.Sprintf("ref.%s: batch-norm spec %+v: sizes must be positive", op, s))
	}
	return Shape{s.N, s.C, s.H, s.W}, s.N * s.H * s.W
}

// BatchNormForwardTrain normalizes x with its batch statistics, as
// gpu.BatchNorm.ForwardTrain: BatchNormStats, then
// BatchNormForwardTrainFromStats. With m = N*H*W, for each channel c:
//
//	mean[c] = (1/m) sum_{n,i,j} x[n,c,i,j]
//	var[c] = (1/m) sum_{n,i,j} (x[n,c,i,j]-mean[c])^2
//	invstd[c] = 1/sqrt(var[c]+Eps)
//	y[n,c,i,j] = gamma[c]*(x[n,c,i,j]-mean[c])*invstd[c] + beta[c]
//	saveMean[c] = mean[c], saveInvStd[c] = invstd[c]
//	runMean[c] = (1-Momentum)*runMean[c] + Momentum*mean[c]
//	runVar[c] = (1-Momentum)*runVar[c] + Momentum*var[c]*m/(m-1)
//
// The running variance takes the unbiased batch variance, so m must be at
// least 2. With s.ReLU, y[n,c,i,j] = max(that value, 0); with
// s.ResidualReLU, max(that value + r[n,c,i,j], 0) (r is read only then).
func BatchNormForwardTrain(y, saveMean, saveInvStd, runMean, runVar, x, r, gamma, beta []float64, s gpu.BatchNormSpec) {
	// checked here too, so that a mistake names the function called
	const op = "BatchNormForwardTrain"
	sh, _ := bnShape(op, s)
	bnNeedTensors(op, y, x, r, sh, s)
	needAll(op, s.C, "saveMean saveInvStd runMean runVar gamma beta", saveMean, saveInvStd, runMean, runVar, gamma, beta)
	batchVar := make([]float64, s.C)
	BatchNormStats(saveMean, saveInvStd, batchVar, x, s)
	BatchNormForwardTrainFromStats(y, runMean, runVar, x, r, gamma, beta, saveMean, saveInvStd, batchVar, s)
}

// BatchNormStats computes x's batch statistics as gpu.BatchNorm.Stats: with
// mean, var and invstd as in BatchNormForwardTrain,
//
//	saveMean[c] = mean[c], saveInvStd[c] = invstd[c], batchVar[c] = var[c]*m/(m-1)
func BatchNormStats(saveMean, saveInvStd, batchVar, x []float64, s gpu.BatchNormSpec) {
	const op = "BatchNormStats"
	sh, m := bnShape(op, s)
	if m < 2 {
		panic(fmt.Sprintf("ref.%s: %d values per channel: the unbiased variance needs at least 2", op, m))
	}
	need(op, "x", x, sh.Elems())
	needAll(op, s.C, "saveMean saveInvStd batchVar", saveMean, saveInvStd, batchVar)
	for c := 0; c < sh.C; c++ {
		sum := 0.0
		for n := 0; n < sh.N; n++ {
			for i := 0; i < sh.H*sh.W; i++ {
				sum += x[sh.Index(n, c, 0, 0)+i]
			}
		}
		mean := sum / float64(m)
		ss := 0.0
		for n := 0; n < sh.N; n++ {
			for i := 0; i < sh.H*sh.W; i++ {
				d := x[sh.Index(n, c, 0, 0)+i] - mean
				ss += d * d
			}
		}
		variance := ss / float64(m)
		saveMean[c], saveInvStd[c] = mean, 1/math.Sqrt(variance+s.Eps)
		batchVar[c] = variance * float64(m) / float64(m-1)
	}
}

// BatchNormForwardTrainFromStats is BatchNormForwardTrain from the
// statistics BatchNormStats computed, as gpu.BatchNorm.ForwardTrainFromStats:
//
//	y[n,c,i,j] = gamma[c]*(x[n,c,i,j]-saveMean[c])*saveInvStd[c] + beta[c]
//	runMean[c] = (1-Momentum)*runMean[c] + Momentum*saveMean[c]
//	runVar[c] = (1-Momentum)*runVar[c] + Momentum*batchVar[c]
//
// and with s.ReLU (s.ResidualReLU) the same as there.
func BatchNormForwardTrainFromStats(y, runMean, runVar, x, r, gamma, beta, saveMean, saveInvStd, batchVar []float64, s gpu.BatchNormSpec) {
	const op = "BatchNormForwardTrainFromStats"
	sh, _ := bnShape(op, s)
	bnNeedTensors(op, y, x, r, sh, s)
	needAll(op, s.C, "runMean runVar gamma beta saveMean saveInvStd batchVar", runMean, runVar, gamma, beta, saveMean, saveInvStd, batchVar)
	bnNormalize(y, x, r, gamma, beta, saveMean, saveInvStd, sh, s)
	for c := 0; c < sh.C; c++ {
		runMean[c] = (1-s.Momentum)*runMean[c] + s.Momentum*saveMean[c]
		runVar[c] = (1-s.Momentum)*runVar[c] + s.Momentum*batchVar[c]
	}
}

// bnNeedTensors checks a forward's output y, input x and, with
// s.ResidualReLU, shortcut r, all of shape sh.
func bnNeedTensors(op string, y, x, r []float64, sh Shape, s gpu.BatchNormSpec) {
	needAll(op, sh.Elems(), "y x", y, x)
	if s.ResidualReLU {
		need(op, "r", r, sh.Elems())
	}
}

// bnNormalize writes y = bnOut(gamma[c]*(x-mean[c])*invstd[c] + beta[c]),
// the normalization both forwards share.
func bnNormalize(y, x, r, gamma, beta, mean, invstd []float64, sh Shape, s gpu.BatchNormSpec) {
	for n := 0; n < sh.N; n++ {
		for c := 0; c < sh.C; c++ {
			for i := 0; i < sh.H*sh.W; i++ {
				k := sh.Index(n, c, 0, 0) + i
				y[k] = bnOut(gamma[c]*(x[k]-mean[c])*invstd[c]+beta[c], r, k, s)
			}
		}
	}
}

// BatchNormForwardInfer normalizes x with the running statistics, as
// gpu.BatchNorm.ForwardInfer:
//
//	y[n,c,i,j] = gamma[c]*(x[n,c,i,j]-runMean[c])/sqrt(runVar[c]+Eps) + beta[c]
//
// and with s.ReLU (s.ResidualReLU) the same as BatchNormForwardTrain.
func BatchNormForwardInfer(y, x, r, gamma, beta, runMean, runVar []float64, s gpu.BatchNormSpec) {
	const op = "BatchNormForwardInfer"
	sh, _ := bnShape(op, s)
	bnNeedTensors(op, y, x, r, sh, s)
	needAll(op, s.C, "gamma beta runMean runVar", gamma, beta, runMean, runVar)
	invstd := make([]float64, s.C)
	for c := range invstd {
		invstd[c] = 1 / math.Sqrt(runVar[c]+s.Eps)
	}
	bnNormalize(y, x, r, gamma, beta, runMean, invstd, sh, s)
}

// BatchNormBackward is the gradient of BatchNormForwardTrain, as
// gpu.BatchNorm.Backward. With xhat = (x-saveMean[c])*saveInvStd[c] and
// mean_c the mean over the m = N*H*W positions of channel c:
//
//	dbeta[c] += sum dy
//	dgamma[c] += sum dy*xhat
//	dx (=, or += when accumulate) gamma[c]*saveInvStd[c]*(dy - mean_c(dy) - xhat*mean_c(dy*xhat))
//
// With s.ReLU, dy is first replaced by dy where gamma[c]*xhat + beta[c] > 0
// (the forward's output before its ReLU), else 0: the gradient is that of
// max(bn(x), 0). beta is read only then (it may be nil otherwise).
func BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, beta, saveMean, saveInvStd []float64, s gpu.BatchNormSpec, accumulate bool) {
	const op = "BatchNormBackward"
	sh, m := bnShape(op, s)
	needAll(op, sh.Elems(), "dx dy x", dx, dy, x)
	needAll(op, s.C, "dgamma dbeta gamma saveMean saveInvStd", dgamma, dbeta, gamma, saveMean, saveInvStd)
	if s.ReLU {
		need(op, "beta", beta, s.C)
		masked := make([]float64, len(dy))
		for k := range dy {
			c := k / (sh.H * sh.W) % sh.C
			if gamma[c]*(x[k]-saveMean[c])*saveInvStd[c]+beta[c] > 0 {
				masked[k] = dy[k]
			}
		}
		dy = masked
	}
	g := make([]float64, sh.Elems())
	for c := 0; c < sh.C; c++ {
		sumDy, sumDyXhat := 0.0, 0.0
		for n := 0; n < sh.N; n++ {
			for i := 0; i < sh.H*sh.W; i++ {
				k := sh.Index(n, c, 0, 0) + i
				xhat := (x[k] - saveMean[c]) * saveInvStd[c]
				sumDy += dy[k]
				sumDyXhat += dy[k] * xhat
			}
		}
		meanDy, meanDyXhat := sumDy/float64(m), sumDyXhat/float64(m)
		for n := 0; n < sh.N; n++ {
			for i := 0; i < sh.H*sh.W; i++ {
				k := sh.Index(n, c, 0, 0) + i
				xhat := (x[k] - saveMean[c]) * saveInvStd[c]
				g[k] = gamma[c] * saveInvStd[c] * (dy[k] - meanDy - xhat*meanDyXhat)
			}
		}
		dbeta[c] += sumDy
		dgamma[c] += sumDyXhat
	}
	store(dx, g, accumulate)
}

// bnOut is a batch norm's output value v at element k, after the fused ReLU
// or the fused shortcut r and ReLU if s has one.
func bnOut(v float64, r []float64, k int, s gpu.BatchNormSpec) float64 {
	switch {
	case s.ReLU:
		return max(v, 0)
	case s.ResidualReLU:
		return max(v+r[k], 0)
	}
	return v
}
