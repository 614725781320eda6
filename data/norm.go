package data

import (
	"fmt"
	"math"
	"strings"
)

// NormMode names an input normalization.
type NormMode string

// The input normalizations. u is a stored value in 0..255.
const (
	NormNone      NormMode = "none"            // x = u/255
	NormPixelMean NormMode = "pixel_mean"      // x = (u - mean[c,y,x]) / 255, mean per pixel over the training set (ResNet paper)
	NormChannel   NormMode = "channel_meanstd" // x = (u - mean[c]) / std[c], per channel over the training set (DenseNet paper / fb.resnet.torch)
	NormGCN       NormMode = "gcn"             // per image: x = (u - m_i) / sqrt(10 + v_i), m_i, v_i mean and variance of the image's C*Size*Size values in 0..255 units
)

// gcnBias is the variance bias of global contrast normalization, in squared
// 0..255 units.
const gcnBias = 10

// NormModes returns the valid modes, in the order of the constants.
func NormModes() []NormMode {
	return []NormMode{NormNone, NormPixelMean, NormChannel, NormGCN}
}

// ParseNormMode returns the mode named s; an unknown name is an error that
// lists the valid ones.
func ParseNormMode(s string) (NormMode, error) {
	names := make([]string, 0, 4)
	for _, m := range NormModes() {
		if string(m) == s {
			return m, nil
		}
		names = append(names, string(m))
	}
	return "", fmt.Errorf("normalization %q: unknown, expected one of %s", s, strings.Join(names, ", "))
}

// Norm is normalization fitted on a training set. A stored value u of image
// i, channel c, row y, column x is normalized as
//
//	(u*scale_i + shift_i - Mean[c,y,x]) * Scale[c,y,x]
//
// where (scale_i, shift_i) come from ImageAffine ((1, 0) except for GCN).
type Norm struct {
	Mode        NormMode
	C, Size     int
	Mean, Scale []float32 // C*Size*Size planes
}

// FitNorm fits mode on train, computing the statistics in float64. Standard
// deviations (NormChannel) and variances (NormGCN) are population ones
// (divided by the count). A channel of zero variance is an error for
// NormChannel.
func FitNorm(mode NormMode, train *Images) (Norm, error) {
	if _, err := ParseNormMode(string(mode)); err != nil {
		return Norm{}, fmt.Errorf("FitNorm: %w", err)
	}
	if err := train.Validate(); err != nil {
		return Norm{}, fmt.Errorf("FitNorm: %w", err)
	}
	plane := train.Size * train.Size
	n := Norm{Mode: mode, C: train.C, Size: train.Size,
		Mean: make([]float32, train.C*plane), Scale: make([]float32, train.C*plane)}
	fill := func(p []float32, v float64) {
		for i := range p {
			p[i] = float32(v)
		}
	}
	needData := mode == NormPixelMean || mode == NormChannel
	if needData && train.N == 0 {
		return Norm{}, fmt.Errorf("FitNorm: %s needs a non-empty training set", mode)
	}
	switch mode {
	case NormNone:
		fill(n.Scale, 1.0/255)
	case NormGCN:
		fill(n.Scale, 1)
	case NormPixelMean:
		sums := make([]uint64, train.C*plane)
		for i := range train.N {
			for k, u := range train.Image(i) {
				sums[k] += uint64(u)
			}
		}
		for k, s := range sums {
			n.Mean[k] = float32(float64(s) / float64(train.N))
		}
		fill(n.Scale, 1.0/255)
	case NormChannel:
		sum := make([]uint64, train.C)
		sq := make([]uint64, train.C)
		for i := range train.N {
			img := train.Image(i)
			for c := range train.C {
				for _, u := range img[c*plane : (c+1)*plane] {
					sum[c] += uint64(u)
					sq[c] += uint64(u) * uint64(u)
				}
			}
		}
		cnt := float64(train.N) * float64(plane)
		for c := range train.C {
			mean := float64(sum[c]) / cnt
			v := float64(sq[c])/cnt - mean*mean
			if v <= 0 {
				return Norm{}, fmt.Errorf("FitNorm: channel %d of the training set has zero variance, %s cannot scale it", c, mode)
			}
			fill(n.Mean[c*plane:(c+1)*plane], mean)
			fill(n.Scale[c*plane:(c+1)*plane], 1/math.Sqrt(v))
		}
	}
	return n, nil
}

// Planes returns Mean and Scale for images of another size (e.g. 36 after
// Resize): the planes resized by the bilinear interpolation of Resize, without
// rounding. For the mean this is exact before rounding, since resizing is
// linear: the resized mean is the mean of the resized images. The same size
// returns copies.
func (n Norm) Planes(size int) (mean, scale []float32, err error) {
	if size <= 0 {
		return nil, nil, fmt.Errorf("Norm.Planes: size %d, expected > 0", size)
	}
	want := n.C * n.Size * n.Size
	if n.C <= 0 || n.Size <= 0 || len(n.Mean) != want || len(n.Scale) != want {
		return nil, nil, fmt.Errorf("Norm.Planes: C=%d Size=%d with %d mean and %d scale values, expected C*Size*Size = %d of each", n.C, n.Size, len(n.Mean), len(n.Scale), want)
	}
	if size == n.Size {
		return append([]float32(nil), n.Mean...), append([]float32(nil), n.Scale...), nil
	}
	return resizeFloatPlanes(n.Mean, n.C, n.Size, size), resizeFloatPlanes(n.Scale, n.C, n.Size, size), nil
}

// ImageAffine returns per-image scale and shift (len im.N): for NormGCN
// 1/sqrt(10+v_i) and -m_i/sqrt(10+v_i), computed in float64 from the stored
// values of image i, for the other modes 1 and 0. im must be valid (see
// Images.Validate).
func (n Norm) ImageAffine(im *Images) (scale, shift []float32) {
	scale, shift = make([]float32, im.N), make([]float32, im.N)
	for i := range im.N {
		if n.Mode != NormGCN {
			scale[i] = 1
			continue
		}
		var s, sq uint64
		img := im.Image(i)
		for _, u := range img {
			s += uint64(u)
			sq += uint64(u) * uint64(u)
		}
		cnt := float64(len(img))
		m := float64(s) / cnt
		v := max(float64(sq)/cnt-m*m, 0)
		inv := 1 / math.Sqrt(gcnBias+v)
		scale[i] = float32(inv)
		shift[i] = float32(-m * inv)
	}
	return scale, shift
}

// Apply returns the normalized images of im as float32 in NCHW order
// (N*C*Size*Size values). Images of another size than the fit use the planes
// of Planes(im.Size).
func (n Norm) Apply(im *Images) ([]float32, error) {
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("Norm.Apply: %w", err)
	}
	if im.C != n.C {
		return nil, fmt.Errorf("Norm.Apply: images have %d channels, the normalization was fitted on %d", im.C, n.C)
	}
	mean, scale, err := n.Planes(im.Size)
	if err != nil {
		return nil, err
	}
	isc, ish := n.ImageAffine(im)
	out := make([]float32, len(im.Pixels))
	per := im.imageLen()
	for i := range im.N {
		a, b := float64(isc[i]), float64(ish[i])
		o := out[i*per : (i+1)*per]
		for k, u := range im.Image(i) {
			o[k] = float32((float64(u)*a + b - float64(mean[k])) * float64(scale[k]))
		}
	}
	return out, nil
}
