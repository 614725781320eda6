package vec

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkBatchNormLoops times batch norm's loops on one thread, each with
// and without what a fusion adds to it, on a ResNet-56 stage-1 tensor of 16
// channels (a batch of 128: 8 MiB) and on a DenseNet view (120 channels of a
// 216-channel block, 32 images), each well past the caches. It reports the bytes each call must move
// (every float read or written once), so that the columns compare as GB/s:
//
//	go test -run '^$' -bench BatchNormLoops ./gpu/cpu/vec/
//
// The masked backward loops read x for the mask where they read y before
// (so "grad-sums/relu" moves what "grad-sums" moves), and the fused shortcut
// adds one read to the forward's affine pass where the add and the ReLU
// made two passes of their own.
func BenchmarkBatchNormLoops(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range []struct {
		name       string
		rows, c, l int
	}{{"resnet-16ch", 128 * 32 * 32, 16, 16}, {"densenet-120of216ch", 32 * 32 * 32, 120, 216}} {
		n := length(s.rows, s.l, s.c)
		x, y, dy, dx, sc := random(rng, n), random(rng, n), random(rng, n), random(rng, n), random(rng, n)
		k1, k2, k0 := random(rng, s.c), random(rng, s.c), random(rng, s.c)
		s1, s2 := make([]float64, s.c), make([]float64, s.c)
		tensor := int64(4 * s.rows * s.c) // bytes of one pass over the tensor
		for _, l := range []struct {
			name   string
			passes int64
			run    func()
		}{
			{"sums", 1, func() { Sums(s1, s2, x, s.l, s.rows, s.c) }},
			{"affine", 2, func() { Affine(y, s.l, x, s.l, nil, 0, k1, k0, s.rows, s.c, false) }},
			{"affine/relu", 2, func() { Affine(y, s.l, x, s.l, nil, 0, k1, k0, s.rows, s.c, true) }},
			{"affine/shortcut", 3, func() { Affine(y, s.l, x, s.l, sc, s.l, k1, k0, s.rows, s.c, true) }},
			{"grad-sums", 2, func() { GradSums(s1, s2, dy, s.l, x, s.l, nil, nil, s.rows, s.c) }},
			{"grad-sums/relu", 2, func() { GradSums(s1, s2, dy, s.l, x, s.l, k1, k0, s.rows, s.c) }},
			{"affine-grad", 3, func() { AffineGrad(dx, s.l, dy, s.l, x, s.l, k1, k2, k0, nil, nil, s.rows, s.c, false) }},
			{"affine-grad/relu", 3, func() { AffineGrad(dx, s.l, dy, s.l, x, s.l, k1, k2, k0, k1, k0, s.rows, s.c, false) }},
			{"affine-grad/accumulate", 4, func() { AffineGrad(dx, s.l, dy, s.l, x, s.l, k1, k2, k0, nil, nil, s.rows, s.c, true) }},
		} {
			b.Run(s.name+"/"+l.name, func(b *testing.B) {
				b.SetBytes(l.passes * tensor)
				for b.Loop() {
					l.run()
				}
			})
		}
	}
}
