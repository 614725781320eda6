package ref

import (
	"fmt"

	"repro/gpu"
)

// checkDataset panics unless the slices of d match its sizes.
func checkDataset(d gpu.DatasetSpec) {
	if d.N <= 0 || d.C <= 0 || d.Size <= 0 || d.Classes <= 0 {
		panic(fmt.Sprintf("ref.BuildBatch: dataset of %d images of %d x %d x %d in %d classes", d.N, d.C, d.Size, d.Size, d.Classes))
	}
	plane := d.C * d.Size * d.Size
	for _, p := range []struct {
		name      string
		got, want int
	}{
		{"Pixels", len(d.Pixels), d.N * plane}, {"Labels", len(d.Labels), d.N},
		{"ImageScale", len(d.ImageScale), d.N}, {"ImageShift", len(d.ImageShift), d.N},
		{"Mean", len(d.Mean), plane}, {"Scale", len(d.Scale), plane},
	} {
		if p.got != p.want {
			panic(fmt.Sprintf("ref.BuildBatch: dataset %s has %d elements, want %d", p.name, p.got, p.want))
		}
	}
}

// Pixel is the normalized value of stored pixel (c, y, x) of image i, as
// gpu.DatasetSpec says:
//
//	(u*ImageScale[i] + ImageShift[i] - Mean[c,y,x]) * Scale[c,y,x]
//
// and 0 when (y, x) lies outside the stored Size x Size image.
func Pixel(d gpu.DatasetSpec, i, c, y, x int) float64 {
	if y < 0 || y >= d.Size || x < 0 || x >= d.Size {
		return 0
	}
	k := (c*d.Size+y)*d.Size + x
	u := float64(d.Pixels[i*d.C*d.Size*d.Size+k])
	return (u*float64(d.ImageScale[i]) + float64(d.ImageShift[i]) - float64(d.Mean[k])) * float64(d.Scale[k])
}

// Placement says where pool item p of a set of images images comes from, as
// gpu.Augment says: image i = p mod images, copy j = p div images, key
// k = Mix(Mix(Seed, u), i) with u = j when Static, else Epoch; unless
// Random is false, or Static and KeepOriginal and j == 0,
//
//	oy = MinOffset + int(k mod R), ox = MinOffset + int((k>>20) mod R),
//	flip = Flip and (k>>40)&1 == 1, with R = MaxOffset-MinOffset+1;
//
// otherwise oy = ox = Center and flip is false.
func Placement(aug gpu.Augment, images, p int) (i, oy, ox int, flip bool) {
	if images <= 0 || p < 0 {
		panic(fmt.Sprintf("ref.Placement: pool item %d of %d images", p, images))
	}
	i, j := p%images, p/images
	if !aug.Random || (aug.Static && aug.KeepOriginal && j == 0) {
		return i, aug.Center, aug.Center, false
	}
	u := uint64(aug.Epoch)
	if aug.Static {
		u = uint64(j)
	}
	k := gpu.Mix(gpu.Mix(aug.Seed, u), uint64(i))
	r := aug.MaxOffset - aug.MinOffset + 1
	if r <= 0 {
		panic(fmt.Sprintf("ref.Placement: offsets [%d, %d]", aug.MinOffset, aug.MaxOffset))
	}
	oy = aug.MinOffset + int(k%uint64(r))
	ox = aug.MinOffset + int((k>>20)%uint64(r))
	flip = aug.Flip && (k>>40)&1 == 1
	return i, oy, ox, flip
}

// BuildBatch fills a batch as gpu.Backend.BuildBatch: x is len(labels) x C x
// OutSize x OutSize. Sample s is pool item p = order[start+s], placed by
// Placement(aug, d.N, p): output pixel (c, y, x) is Pixel(d, i, c, y+oy, x')
// with x' = (OutSize-1-x)+ox when flipped, else x+ox, and its label is
// d.Labels[i]. Samples with start+s >= len(order) are padding: zeros and
// label -1.
func BuildBatch(x []float64, labels []int32, d gpu.DatasetSpec, order []int32, start int, aug gpu.Augment) {
	checkDataset(d)
	out := aug.OutSize
	if out <= 0 || start < 0 {
		panic(fmt.Sprintf("ref.BuildBatch: output size %d, start %d", out, start))
	}
	bs := Shape{len(labels), d.C, out, out}
	need("BuildBatch", "x", x, bs.Elems())
	for s := range labels {
		if start+s >= len(order) {
			labels[s] = -1
			clear(x[bs.Index(s, 0, 0, 0):bs.Index(s+1, 0, 0, 0)])
			continue
		}
		i, oy, ox, flip := Placement(aug, d.N, int(order[start+s]))
		labels[s] = int32(d.Labels[i])
		for c := 0; c < d.C; c++ {
			for y := 0; y < out; y++ {
				for xx := 0; xx < out; xx++ {
					sx := xx + ox
					if flip {
						sx = (out - 1 - xx) + ox
					}
					x[bs.Index(s, c, y, xx)] = Pixel(d, i, c, y+oy, sx)
				}
			}
		}
	}
}
