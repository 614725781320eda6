package data

import (
	"math"
	"slices"
	"testing"
)

// tinySet is two 2-channel 2x2 images:
//
//	image 0: channel 0 = 0 10 20 30, channel 1 = 100 100 100 100
//	image 1: channel 0 = 10 20 30 40, channel 1 = 50 150 50 150
func tinySet() *Images {
	px := [][]uint8{{0, 10, 20, 30, 100, 100, 100, 100}, {10, 20, 30, 40, 50, 150, 50, 150}}
	return newImages(2, 2, []string{"a"}, []uint8{0, 0}, func(i, k int) uint8 { return px[i][k] })
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, expected %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %v, expected %v", what, i, got[i], want[i])
		}
	}
}

func TestFitNormModes(t *testing.T) {
	im := tinySet()
	u := func(i, k int) float64 { return float64(im.Image(i)[k]) }
	apply := func(f func(i, k int) float64) []float64 {
		var out []float64
		for i := range 2 {
			for k := range 8 {
				out = append(out, f(i, k))
			}
		}
		return out
	}

	t.Run("none", func(t *testing.T) {
		n, err := FitNorm(NormNone, im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "mean", n.Mean, make([]float64, 8), 0)
		x, err := n.Apply(im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "x", x, apply(func(i, k int) float64 { return u(i, k) / 255 }), 1e-6)
	})
	t.Run("pixel_mean", func(t *testing.T) {
		n, err := FitNorm(NormPixelMean, im)
		if err != nil {
			t.Fatal(err)
		}
		mean := []float64{5, 15, 25, 35, 75, 125, 75, 125}
		near(t, "mean", n.Mean, mean, 0)
		x, err := n.Apply(im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "x", x, apply(func(i, k int) float64 { return (u(i, k) - mean[k]) / 255 }), 1e-6)
	})
	t.Run("channel_meanstd", func(t *testing.T) {
		n, err := FitNorm(NormChannel, im)
		if err != nil {
			t.Fatal(err)
		}
		// Channel 0: values 0 10 20 30 10 20 30 40, mean 20, variance 150.
		// Channel 1: four 100s, 50 150 50 150, mean 100, variance 1250.
		mean := []float64{20, 20, 20, 20, 100, 100, 100, 100}
		std := []float64{math.Sqrt(150), math.Sqrt(1250)}
		near(t, "mean", n.Mean, mean, 1e-7)
		near(t, "scale", n.Scale, []float64{1 / std[0], 1 / std[0], 1 / std[0], 1 / std[0], 1 / std[1], 1 / std[1], 1 / std[1], 1 / std[1]}, 1e-6)
		x, err := n.Apply(im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "x", x, apply(func(i, k int) float64 { return (u(i, k) - mean[k]) / std[k/4] }), 1e-6)
	})
	t.Run("gcn", func(t *testing.T) {
		n, err := FitNorm(NormGCN, im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "mean", n.Mean, make([]float64, 8), 0)
		near(t, "scale", n.Scale, []float64{1, 1, 1, 1, 1, 1, 1, 1}, 0)
		// Image 0: mean 57.5, variance 41400/8 - 57.5^2 = 1868.75.
		// Image 1: mean 62.5, variance (100+400+900+1600+2*(2500+22500))/8 - 62.5^2 = 2718.75.
		m := []float64{57.5, 62.5}
		v := []float64{1868.75, 2718.75}
		scale, shift := n.ImageAffine(im)
		near(t, "image scale", scale, []float64{1 / math.Sqrt(10+v[0]), 1 / math.Sqrt(10+v[1])}, 1e-6)
		near(t, "image shift", shift, []float64{-m[0] / math.Sqrt(10+v[0]), -m[1] / math.Sqrt(10+v[1])}, 1e-6)
		x, err := n.Apply(im)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "x", x, apply(func(i, k int) float64 { return (u(i, k) - m[i]) / math.Sqrt(10+v[i]) }), 1e-6)
	})
	t.Run("affine is identity except gcn", func(t *testing.T) {
		n, err := FitNorm(NormChannel, im)
		if err != nil {
			t.Fatal(err)
		}
		scale, shift := n.ImageAffine(im)
		near(t, "scale", scale, []float64{1, 1}, 0)
		near(t, "shift", shift, []float64{0, 0}, 0)
	})
}

func TestFitNormBad(t *testing.T) {
	flat := newImages(3, 2, []string{"a"}, []uint8{0, 0}, func(_, k int) uint8 { return uint8(k / 4 * 9) })
	_, err := FitNorm(NormChannel, flat)
	wantErr(t, err, "FitNorm", "channel 0", "zero variance")
	_, err = FitNorm("zca", flat)
	wantErr(t, err, "zca", "none", "pixel_mean", "channel_meanstd", "gcn")
	empty := &Images{C: 3, Size: 2, Classes: []string{"a"}}
	_, err = FitNorm(NormPixelMean, empty)
	wantErr(t, err, "FitNorm", "non-empty")
	n, err := FitNorm(NormNone, flat)
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Apply(tinySet())
	wantErr(t, err, "Norm.Apply", "2 channels", "3")
}

func TestParseNormMode(t *testing.T) {
	for _, m := range NormModes() {
		got, err := ParseNormMode(string(m))
		if err != nil || got != m {
			t.Errorf("ParseNormMode(%q) = %q, %v", m, got, err)
		}
	}
	_, err := ParseNormMode("Pixel_Mean")
	wantErr(t, err, `"Pixel_Mean"`, "none, pixel_mean, channel_meanstd, gcn")
}

// TestPlanes checks that the resized mean plane is exactly the mean of the
// resized (unrounded) images, within the rounding of Resize of the stored
// ones, and that same-size planes are copies.
func TestPlanes(t *testing.T) {
	const n, size, out = 5, 6, 9
	im := newImages(3, size, []string{"a"}, make([]uint8, n), func(i, k int) uint8 {
		return uint8((i*37 + k*k*11 + k/7) % 256)
	})
	for _, mode := range NormModes() {
		nm, err := FitNorm(mode, im)
		if err != nil {
			t.Fatal(err)
		}
		mean, scale, err := nm.Planes(out)
		if err != nil {
			t.Fatal(err)
		}
		// Scale planes are constant per channel in every mode, so stay so.
		for c := range 3 {
			for k := range out * out {
				if scale[c*out*out+k] != nm.Scale[c*size*size] {
					t.Fatalf("%s: scale changed by resizing", mode)
				}
			}
		}
		if mode != NormPixelMean {
			continue
		}
		exact := make([]float64, 3*out*out)
		for i := range n {
			f := make([]float32, 3*size*size)
			for k, v := range im.Image(i) {
				f[k] = float32(v)
			}
			for k, v := range resizeFloatPlanes(f, 3, size, out) {
				exact[k] += float64(v) / n
			}
		}
		near(t, "resized mean", mean, exact, 1e-5)
		resized, err := Resize(im, out)
		if err != nil {
			t.Fatal(err)
		}
		fit, err := FitNorm(NormPixelMean, resized)
		if err != nil {
			t.Fatal(err)
		}
		for k := range mean {
			if d := math.Abs(float64(mean[k] - fit.Mean[k])); d > 0.5 {
				t.Errorf("mean of rounded resized images differs by %v at %d", d, k)
			}
		}
		// Apply on resized images uses the resized planes.
		x, err := nm.Apply(resized)
		if err != nil {
			t.Fatal(err)
		}
		if want := (float64(resized.Pixels[10]) - float64(mean[10])) / 255; math.Abs(float64(x[10])-want) > 1e-6 {
			t.Errorf("Apply on resized images: %v, expected %v", x[10], want)
		}
	}
	nm, err := FitNorm(NormPixelMean, im)
	if err != nil {
		t.Fatal(err)
	}
	mean, scale, err := nm.Planes(size)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mean, nm.Mean) || !slices.Equal(scale, nm.Scale) {
		t.Fatal("same-size planes differ")
	}
	mean[0] = -1
	if nm.Mean[0] == -1 {
		t.Fatal("same-size planes are not copies")
	}
	_, _, err = nm.Planes(0)
	wantErr(t, err, "Planes", "size 0")
	_, _, err = Norm{C: 3, Size: 2}.Planes(4)
	wantErr(t, err, "Planes", "expected C*Size*Size = 12")
}
