package ref

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"repro/gpu"
)

// testDataset makes n random images of c x size x size with random
// normalization planes and per-image affine maps.
func testDataset(n, c, size int, seed uint64) gpu.DatasetSpec {
	rng := rand.New(rand.NewPCG(seed, 1))
	plane := c * size * size
	d := gpu.DatasetSpec{N: n, C: c, Size: size, Classes: 10,
		Pixels: make([]uint8, n*plane), Labels: make([]uint8, n),
		ImageScale: make([]float32, n), ImageShift: make([]float32, n),
		Mean: make([]float32, plane), Scale: make([]float32, plane)}
	for i := range d.Pixels {
		d.Pixels[i] = uint8(rng.IntN(256))
	}
	for i := range n {
		d.Labels[i] = uint8(rng.IntN(10))
		d.ImageScale[i] = float32(0.5+rng.Float64()) / 255
		d.ImageShift[i] = float32(rng.Float64() - 0.5)
	}
	for k := range plane {
		d.Mean[k] = float32(rng.Float64())
		d.Scale[k] = float32(0.5 + 1.5*rng.Float64())
	}
	return d
}

// normalized returns image i normalized and zero-padded by pad on every
// side, as a [C][Size+2pad][Size+2pad] array: the papers' "pad, then crop".
func normalized(d gpu.DatasetSpec, i, pad int) [][][]float64 {
	side := d.Size + 2*pad
	img := make([][][]float64, d.C)
	for c := range img {
		img[c] = make([][]float64, side)
		for y := range img[c] {
			img[c][y] = make([]float64, side)
		}
		for y := 0; y < d.Size; y++ {
			for x := 0; x < d.Size; x++ {
				k := (c*d.Size+y)*d.Size + x
				u := float64(d.Pixels[(i*d.C)*d.Size*d.Size+k])
				img[c][y+pad][x+pad] = (u*float64(d.ImageScale[i]) + float64(d.ImageShift[i]) - float64(d.Mean[k])) * float64(d.Scale[k])
			}
		}
	}
	return img
}

// crop cuts an out x out window at (top, left) of img, mirrored left to
// right when flip.
func crop(img [][][]float64, top, left, out int, flip bool) []float64 {
	var v []float64
	for c := range img {
		for y := 0; y < out; y++ {
			row := slices.Clone(img[c][top+y][left : left+out])
			if flip {
				slices.Reverse(row)
			}
			v = append(v, row...)
		}
	}
	return v
}

func sample(x []float64, s, per int) []float64 { return x[s*per : (s+1)*per] }

func sameValues(t *testing.T, name string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-12 || math.IsNaN(got[i]) {
			t.Fatalf("%s: element %d = %g, want %g", name, i, got[i], want[i])
		}
	}
}

func TestBuildBatchNoAugmentation(t *testing.T) {
	d := testDataset(3, 2, 4, 1)
	aug := gpu.Augment{OutSize: 4, Flip: true, Seed: 9} // Random false: no crop, no flip
	order := []int32{2, 0, 1}
	x, labels := make([]float64, 3*2*16), make([]int32, 3)
	BuildBatch(x, labels, d, order, 0, aug)
	for s, p := range order {
		sameValues(t, "sample", sample(x, s, 32), crop(normalized(d, int(p), 0), 0, 0, 4, false))
		if labels[s] != int32(d.Labels[p]) {
			t.Errorf("label %d = %d, want %d", s, labels[s], d.Labels[p])
		}
	}
}

func TestBuildBatchPadCrop(t *testing.T) {
	const images, pad = 5, 2
	d := testDataset(images, 3, 4, 2)
	aug := gpu.Augment{OutSize: 4, Random: true, MinOffset: -pad, MaxOffset: pad, Flip: true, Seed: 42, Epoch: 7}
	order := []int32{4, 3, 2, 1, 0, 6} // 6 is copy 1 of image 1: same key as image 1 when not Static
	per := 3 * 16
	x, labels := make([]float64, len(order)*per), make([]int32, len(order))
	BuildBatch(x, labels, d, order, 0, aug)
	flips := 0
	for s, p := range order {
		i := int(p) % images
		k := gpu.Mix(gpu.Mix(42, 7), uint64(i))
		oy, ox, flip := -pad+int(k%5), -pad+int((k>>20)%5), (k>>40)&1 == 1
		if flip {
			flips++
		}
		if gi, goy, gox, gflip := Placement(aug, images, int(p)); gi != i || goy != oy || gox != ox || gflip != flip {
			t.Errorf("Placement(%d) = %d %d %d %v, want %d %d %d %v", p, gi, goy, gox, gflip, i, oy, ox, flip)
		}
		sameValues(t, "cropped sample", sample(x, s, per), crop(normalized(d, i, pad), oy+pad, ox+pad, 4, flip))
		if labels[s] != int32(d.Labels[i]) {
			t.Errorf("label %d = %d, want %d", s, labels[s], d.Labels[i])
		}
	}
	if flips == 0 || flips == len(order) {
		t.Errorf("%d of %d samples flipped: choose another seed so both cases are covered", flips, len(order))
	}
	// Over many images every offset and both flips occur.
	seenY, seenX, seenF := map[int]bool{}, map[int]bool{}, map[bool]bool{}
	for p := range 500 {
		_, oy, ox, f := Placement(aug, 500, p)
		if oy < -pad || oy > pad || ox < -pad || ox > pad {
			t.Fatalf("offset (%d, %d) outside [%d, %d]", oy, ox, -pad, pad)
		}
		seenY[oy], seenX[ox], seenF[f] = true, true, true
	}
	if len(seenY) != 5 || len(seenX) != 5 || len(seenF) != 2 {
		t.Errorf("offsets seen: y %v x %v flips %v", seenY, seenX, seenF)
	}
	// Without Flip no sample is mirrored.
	aug.Flip = false
	for p := range 100 {
		if _, _, _, f := Placement(aug, 100, p); f {
			t.Fatal("flipped with Flip false")
		}
	}
}

func TestBuildBatchResizeCrop(t *testing.T) {
	// Stored 6 x 6, cropped to 4 x 4 at offsets 0..2 (the write-up's
	// resize-36 crop, scaled down), centre 1 when not random.
	d := testDataset(4, 1, 6, 3)
	x, labels := make([]float64, 4*16), make([]int32, 4)
	order := []int32{0, 1, 2, 3}
	aug := gpu.Augment{OutSize: 4, MinOffset: 0, MaxOffset: 2, Center: 1, Flip: true, Seed: 5}
	BuildBatch(x, labels, d, order, 0, aug)
	for s := range order {
		sameValues(t, "centre crop", sample(x, s, 16), crop(normalized(d, s, 0), 1, 1, 4, false))
	}
	aug.Random = true
	BuildBatch(x, labels, d, order, 0, aug)
	for s := range order {
		_, oy, ox, f := Placement(aug, 4, s)
		if oy < 0 || oy > 2 || ox < 0 || ox > 2 {
			t.Fatalf("offset (%d, %d) outside [0, 2]", oy, ox)
		}
		sameValues(t, "random crop", sample(x, s, 16), crop(normalized(d, s, 0), oy, ox, 4, f))
	}
}

func TestBuildBatchStaticCopies(t *testing.T) {
	const images = 4
	d := testDataset(images, 2, 4, 4)
	aug := gpu.Augment{OutSize: 4, Random: true, MinOffset: -2, MaxOffset: 2, Flip: true,
		Static: true, KeepOriginal: true, Seed: 11, Epoch: 1}
	order := make([]int32, 3*images) // the pool: 3 copies of each image
	for p := range order {
		order[p] = int32((p*5 + 3) % len(order)) // a permutation
	}
	per := 2 * 16
	x, labels := make([]float64, len(order)*per), make([]int32, len(order))
	BuildBatch(x, labels, d, order, 0, aug)
	for s, p := range order {
		i, j := int(p)%images, int(p)/images
		want := crop(normalized(d, i, 2), 2, 2, 4, false) // copy 0: the original
		if j > 0 {
			k := gpu.Mix(gpu.Mix(11, uint64(j)), uint64(i))
			oy, ox, flip := -2+int(k%5), -2+int((k>>20)%5), (k>>40)&1 == 1
			want = crop(normalized(d, i, 2), oy+2, ox+2, 4, flip)
		}
		sameValues(t, "static copy", sample(x, s, per), want)
		if labels[s] != int32(d.Labels[i]) {
			t.Errorf("label %d = %d, want %d", s, labels[s], d.Labels[i])
		}
	}
	// Static copies do not change with the epoch; dynamic ones do.
	x2 := make([]float64, len(x))
	aug.Epoch = 2
	BuildBatch(x2, labels, d, order, 0, aug)
	sameValues(t, "static copies in another epoch", x2, x)
	aug.Static, aug.KeepOriginal = false, false
	BuildBatch(x, labels, d, order, 0, aug)
	aug.Epoch = 3
	BuildBatch(x2, labels, d, order, 0, aug)
	if slices.Equal(x, x2) {
		t.Error("dynamic augmentation gave the same batch in two epochs")
	}
}

func TestBuildBatchPadding(t *testing.T) {
	d := testDataset(3, 2, 4, 5)
	order := []int32{1, 2}
	x, labels := make([]float64, 4*32), make([]int32, 4)
	for i := range x {
		x[i] = math.NaN()
	}
	BuildBatch(x, labels, d, order, 1, gpu.Augment{OutSize: 4})
	sameValues(t, "sample 0", sample(x, 0, 32), crop(normalized(d, 2, 0), 0, 0, 4, false))
	for s := 1; s < 4; s++ {
		sameValues(t, "padding sample", sample(x, s, 32), make([]float64, 32))
	}
	if want := []int32{int32(d.Labels[2]), -1, -1, -1}; !slices.Equal(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
}
