package ref

import (
	"fmt"
	"math"
)

// SoftmaxCrossEntropy, as gpu.Backend.SoftmaxCrossEntropy: logits are N x K
// (N = len(labels)); a label < 0 marks padding, ignored everywhere. For each
// valid n, with p = softmax(logits[n]):
//
//	loss_n = -log p[label_n]
//	dlogits[n] = (p - onehot(label_n)) * gradScale   (0 for padding; skipped when dlogits is nil)
//	metrics[0] += sum of loss_n
//	metrics[1] += count of n whose first maximum of logits[n] is not at label_n
//	metrics[2] += count of valid n
func SoftmaxCrossEntropy(dlogits, metrics, logits []float64, labels []int32, k int, gradScale float64) {
	const op = "SoftmaxCrossEntropy"
	n := len(labels)
	need(op, "logits", logits, n*k)
	need(op, "metrics", metrics, 3)
	if dlogits != nil {
		need(op, "dlogits", dlogits, n*k)
	}
	for s := 0; s < n; s++ {
		row := logits[s*k : (s+1)*k]
		label := int(labels[s])
		if label >= k {
			panic(fmt.Sprintf("ref.%s: label %d of sample %d outside %d classes", op, label, s, k))
		}
		if label < 0 {
			if dlogits != nil {
				clear(dlogits[s*k : (s+1)*k])
			}
			continue
		}
		arg := 0
		for j, v := range row {
			if v > row[arg] {
				arg = j
			}
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(v - row[arg])
		}
		metrics[0] += math.Log(sum) - (row[label] - row[arg])
		if arg != label {
			metrics[1]++
		}
		metrics[2]++
		if dlogits != nil {
			for j, v := range row {
				p := math.Exp(v-row[arg]) / sum
				if j == label {
					p--
				}
				dlogits[s*k+j] = p * gradScale
			}
		}
	}
}
