package data

import (
	"fmt"
	"math"
)

// axisWeights holds, for each output coordinate, the two source coordinates
// and the weight of the second one.
type axisWeights struct {
	i0, i1 []int
	f      []float64
}

// bilinearAxis computes the interpolation of one axis from in to out samples
// with half-pixel centres: src = (dst+0.5)*in/out - 0.5, clamped to [0, in-1].
func bilinearAxis(in, out int) axisWeights {
	w := axisWeights{i0: make([]int, out), i1: make([]int, out), f: make([]float64, out)}
	for d := range out {
		s := (float64(d)+0.5)*float64(in)/float64(out) - 0.5
		s = min(max(s, 0), float64(in-1))
		i0 := int(math.Floor(s))
		w.i0[d] = i0
		w.i1[d] = min(i0+1, in-1)
		w.f[d] = s - float64(i0)
	}
	return w
}

// resizePlane resizes the in x in plane s into the out x out plane d by
// bilinear interpolation; uint8 results are rounded to nearest (halves up).
func resizePlane[T uint8 | float32](d, s []T, in int, ax axisWeights) {
	out := len(ax.f)
	_, round := any(T(0)).(uint8)
	for y := range out {
		r0, r1, fy := s[ax.i0[y]*in:(ax.i0[y]+1)*in], s[ax.i1[y]*in:(ax.i1[y]+1)*in], ax.f[y]
		row := d[y*out : (y+1)*out]
		for x := range out {
			x0, x1, fx := ax.i0[x], ax.i1[x], ax.f[x]
			top := float64(r0[x0])*(1-fx) + float64(r0[x1])*fx
			bot := float64(r1[x0])*(1-fx) + float64(r1[x1])*fx
			v := top*(1-fy) + bot*fy
			if round {
				v = math.Floor(v + 0.5)
			}
			row[x] = T(v)
		}
	}
}

// Resize returns a copy of im with every image resized to size x size by
// bilinear interpolation with half-pixel centres, as PIL and torchvision
// resize when upscaling (src = (dst+0.5)*in/out - 0.5, clamped to the edge),
// each value rounded to the nearest uint8 (halves away from zero). When
// downscaling no antialiasing filter is applied. The same size returns a copy.
func Resize(im *Images, size int) (*Images, error) {
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("Resize: %w", err)
	}
	if size <= 0 {
		return nil, fmt.Errorf("Resize: size %d, expected > 0", size)
	}
	out := &Images{
		N: im.N, C: im.C, Size: size,
		Pixels:  make([]uint8, im.N*im.C*size*size),
		Labels:  append([]uint8(nil), im.Labels...),
		Classes: append([]string(nil), im.Classes...),
	}
	if size == im.Size {
		copy(out.Pixels, im.Pixels)
		return out, nil
	}
	ax := bilinearAxis(im.Size, size)
	in := im.Size
	for i := range im.N {
		sp, dp := im.Image(i), out.Image(i)
		for c := range im.C {
			s := sp[c*in*in : (c+1)*in*in]
			d := dp[c*size*size : (c+1)*size*size]
			resizePlane(d, s, in, ax)
		}
	}
	return out, nil
}

// resizeFloatPlanes resizes c planes of in x in float32 values to out x out
// with the interpolation of Resize, without rounding.
func resizeFloatPlanes(p []float32, c, in, out int) []float32 {
	res := make([]float32, c*out*out)
	ax := bilinearAxis(in, out)
	for k := range c {
		s := p[k*in*in : (k+1)*in*in]
		d := res[k*out*out : (k+1)*out*out]
		resizePlane(d, s, in, ax)
	}
	return res
}
