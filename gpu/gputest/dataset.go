package gputest

import (
	"math/rand/v2"
	"slices"

	"repro/gpu"
	"repro/gpu/ref"
)

func datasetCases() []Case {
	pad := func(a gpu.Augment) gpu.Augment { // the papers' pad-4 random crop of a 32 image
		a.OutSize, a.Random, a.MinOffset, a.MaxOffset, a.Flip = 32, true, -4, 4, true
		return a
	}
	resize := func(a gpu.Augment) gpu.Augment { // the write-up's random 32 crop of a 36 image
		a.OutSize, a.Random, a.MinOffset, a.MaxOffset, a.Center, a.Flip = 32, true, 0, 4, 2, true
		return a
	}
	cs := []struct {
		name   string
		size   int
		copies int // the pool is copies x the images
		start  int
		order  int // length of order; 0: the whole pool
		batch  int
		aug    gpu.Augment
	}{
		{"none-32", 32, 1, 4, 0, 12, gpu.Augment{OutSize: 32}},
		{"pad-crop-flip-32", 32, 1, 2, 0, 16, pad(gpu.Augment{Seed: 1234, Epoch: 3})},
		{"flip-only-32", 32, 1, 0, 0, 20, gpu.Augment{OutSize: 32, Random: true, Flip: true, Seed: 99, Epoch: 1}},
		{"resize-crop-flip-36", 36, 1, 0, 0, 16, resize(gpu.Augment{Seed: 77, Epoch: 12})},
		{"resize-center-36", 36, 1, 3, 0, 16, gpu.Augment{OutSize: 32, MinOffset: 0, MaxOffset: 4, Center: 2, Flip: true}},
		{"static-3x-keep-original-32", 32, 3, 20, 0, 24, pad(gpu.Augment{Static: true, KeepOriginal: true, Seed: 5, Epoch: 8})},
		{"static-2x-36", 36, 2, 7, 0, 16, resize(gpu.Augment{Static: true, Seed: 6})},
		{"padding-32", 32, 1, 12, 20, 16, pad(gpu.Augment{Seed: 8, Epoch: 2})},
		{"padding-all-36", 36, 1, 20, 20, 8, resize(gpu.Augment{Seed: 9})},
	}
	var out []Case
	for _, c := range cs {
		out = append(out, newCase(join("dataset", c.name), func(e *env) {
			spec := RandomDataset(e.rng, 20, 3, c.size)
			d, err := e.b.NewDataset(spec)
			e.do("NewDataset", err)
			if d.Len() != spec.N || d.Size() != spec.Size {
				e.errorf("dataset Len %d Size %d, want %d %d", d.Len(), d.Size(), spec.N, spec.Size)
			}
			pool := c.copies * spec.N
			ov := make([]int32, pool)
			for i, p := range e.rng.Perm(pool) {
				ov[i] = int32(p)
			}
			if c.order > 0 {
				ov = ov[:c.order]
			}
			order := e.ints(ov)
			xs := ref.Shape{N: c.batch, C: spec.C, H: c.aug.OutSize, W: c.aug.OutSize}
			x := e.tensor(xs)
			before := e.snap(x)
			lv := make([]int32, c.batch)
			for i := range lv {
				lv[i] = 99
			}
			labels := e.ints(lv)
			e.do("BuildBatch", e.b.BuildBatch(x, labels, d, order, c.start, c.aug))

			want, wantL := make([]float64, xs.Elems()), make([]int32, c.batch)
			ref.BuildBatch(want, wantL, spec, ov, c.start, c.aug)
			e.expect("x", x, before, want)
			if got := e.getI(labels); !slices.Equal(got, wantL) {
				e.errorf("labels %v, want %v", got, wantL)
			}
			for _, off := range []int{labels.Off - 1, labels.Off + labels.Len} {
				g := make([]int32, 1)
				e.do("DownloadInt", e.b.DownloadInt(g, gpu.IntSlice{Buf: labels.Buf, Off: off, Len: 1}))
				if g[0] != guardInt {
					e.errorf("labels: wrote %d at element %d, outside the slice", g[0], off)
				}
			}
		}))
	}
	return out
}

// RandomDataset makes n random images of c x size x size drawn from rng,
// with random labels (10 classes), random per-image affine maps and random
// normalization planes: the data set of the conformance suite's batch
// building cases, shared with the kernels' host tests.
func RandomDataset(rng *rand.Rand, n, c, size int) gpu.DatasetSpec {
	uniform := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return v
	}
	plane := c * size * size
	d := gpu.DatasetSpec{N: n, C: c, Size: size, Classes: 10,
		Pixels: make([]uint8, n*plane), Labels: make([]uint8, n),
		ImageScale: uniform(n, 0.5/255, 2.0/255), ImageShift: uniform(n, -0.5, 0.5),
		Mean: uniform(plane, 0, 1), Scale: uniform(plane, 0.5, 2)}
	for i := range d.Pixels {
		d.Pixels[i] = uint8(rng.IntN(256))
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(rng.IntN(d.Classes))
	}
	return d
}
