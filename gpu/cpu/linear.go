package cpu

import (
	"fmt"
	"math"

	"repro/gpu"
)

// matrix returns an N x C x 1 x 1 tensor as a row-major matrix with its
// leading dimension.
func matrix(t gpu.Tensor) ([]float32, int, error) {
	if t.H != 1 || t.W != 1 {
		return nil, 0, fmt.Errorf("tensor %v: want N x C x 1 x 1", t)
	}
	v, err := resolve(t)
	return v.data, v.ld, err
}

// LinearForward computes y = x w^T + b; see gpu.Backend.
func (b *Backend) LinearForward(y, x gpu.Tensor, w, bias gpu.Slice) error {
	xd, ldx, err := matrix(x)
	if err != nil {
		return fmt.Errorf("cpu linear forward x: %w", err)
	}
	yd, ldy, err := matrix(y)
	if err != nil {
		return fmt.Errorf("cpu linear forward y: %w", err)
	}
	wd, err := floats(w)
	if err != nil || len(wd) != y.C*x.C || x.N != y.N {
		return fmt.Errorf("cpu linear forward: y %v, x %v, weight of %d: want N x Out, N x In, Out*In (%v)", y, x, w.Len, err)
	}
	bd, err := floats(bias)
	if err != nil || len(bd) != y.C {
		return fmt.Errorf("cpu linear forward: bias of %d for %d outputs (%v)", bias.Len, y.C, err)
	}
	for n := 0; n < y.N; n++ {
		copy(yd[n*ldy:n*ldy+y.C], bd)
	}
	b.gemm[0].Sgemm(false, true, x.N, y.C, x.C, 1, xd, ldx, wd, x.C, 1, yd, ldy)
	return nil
}

// LinearBackward computes dw, db (+=) and dx (=, +=); see gpu.Backend.
func (b *Backend) LinearBackward(dx gpu.Tensor, dw, db gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	xd, ldx, err := matrix(x)
	if err != nil {
		return fmt.Errorf("cpu linear backward x: %w", err)
	}
	dyd, lddy, err := matrix(dy)
	if err != nil {
		return fmt.Errorf("cpu linear backward dy: %w", err)
	}
	wd, err := floats(w)
	if err != nil || len(wd) != dy.C*x.C || x.N != dy.N {
		return fmt.Errorf("cpu linear backward: dy %v, x %v, weight of %d (%v)", dy, x, w.Len, err)
	}
	dwd, err := floats(dw)
	if err != nil || len(dwd) != len(wd) {
		return fmt.Errorf("cpu linear backward: weight gradient of %d for weight of %d (%v)", dw.Len, w.Len, err)
	}
	dbd, err := floats(db)
	if err != nil || len(dbd) != dy.C {
		return fmt.Errorf("cpu linear backward: bias gradient of %d for %d outputs (%v)", db.Len, dy.C, err)
	}
	b.gemm[0].Sgemm(true, false, dy.C, x.C, x.N, 1, dyd, lddy, xd, ldx, 1, dwd, x.C)
	for n := 0; n < dy.N; n++ {
		for o, v := range dyd[n*lddy : n*lddy+dy.C] {
			dbd[o] += v
		}
	}
	if dx.Buf == nil {
		return nil
	}
	if !gpu.SameShape(dx, x) {
		return fmt.Errorf("cpu linear backward: dx %v, x %v: shapes differ", dx, x)
	}
	dxd, lddx, err := matrix(dx)
	if err != nil {
		return fmt.Errorf("cpu linear backward dx: %w", err)
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	b.gemm[0].Sgemm(false, false, dy.N, x.C, dy.C, 1, dyd, lddy, wd, x.C, beta, dxd, lddx)
	return nil
}

// SoftmaxCrossEntropy computes the loss, its gradient and the batch
// metrics; see gpu.Backend.
func (b *Backend) SoftmaxCrossEntropy(dlogits gpu.Tensor, metrics gpu.Slice, logits gpu.Tensor, labels gpu.IntSlice, gradScale float32) error {
	ld, ldl, err := matrix(logits)
	if err != nil {
		return fmt.Errorf("cpu softmax cross-entropy logits: %w", err)
	}
	lab, err := ints(labels)
	if err != nil || len(lab) != logits.N {
		return fmt.Errorf("cpu softmax cross-entropy: %d labels for logits %v (%v)", labels.Len, logits, err)
	}
	met, err := floats(metrics)
	if err != nil || len(met) != 3 {
		return fmt.Errorf("cpu softmax cross-entropy: metrics of %d values, want 3 (%v)", metrics.Len, err)
	}
	var dd []float32
	var ldd int
	if dlogits.Buf != nil {
		if !gpu.SameShape(dlogits, logits) {
			return fmt.Errorf("cpu softmax cross-entropy: dlogits %v, logits %v: shapes differ", dlogits, logits)
		}
		if dd, ldd, err = matrix(dlogits); err != nil {
			return fmt.Errorf("cpu softmax cross-entropy dlogits: %w", err)
		}
	}
	K := logits.C
	var loss float64
	var wrong, count int
	for n := 0; n < logits.N; n++ {
		z := ld[n*ldl : n*ldl+K]
		label := int(lab[n])
		if label < 0 {
			if dd != nil {
				clear(dd[n*ldd : n*ldd+K])
			}
			continue
		}
		if label >= K {
			return fmt.Errorf("cpu softmax cross-entropy: label %d of sample %d outside 0..%d", label, n, K-1)
		}
		arg, zmax := 0, z[0]
		for k, v := range z {
			if v > zmax {
				arg, zmax = k, v
			}
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v - zmax))
		}
		lse := float64(zmax) + math.Log(sum)
		loss += lse - float64(z[label])
		count++
		if arg != label {
			wrong++
		}
		if dd != nil {
			d := dd[n*ldd : n*ldd+K]
			for k, v := range z {
				p := math.Exp(float64(v) - lse)
				if k == label {
					p--
				}
				d[k] = float32(p) * gradScale
			}
		}
	}
	met[0] += float32(loss)
	met[1] += float32(wrong)
	met[2] += float32(count)
	return nil
}
