package data

import (
	"math"
	"slices"
	"testing"
)

func TestResizeConstant(t *testing.T) {
	im := newImages(3, 32, []string{"a"}, []uint8{0, 0}, func(i, k int) uint8 { return uint8(17 + 100*i + k/1024) })
	for _, size := range []int{36, 40, 32, 20, 7} {
		out, err := Resize(im, size)
		if err != nil {
			t.Fatal(err)
		}
		if out.N != 2 || out.C != 3 || out.Size != size || out.Validate() != nil {
			t.Fatalf("size %d: geometry N=%d C=%d Size=%d", size, out.N, out.C, out.Size)
		}
		for i := range 2 {
			for c := range 3 {
				want := uint8(17 + 100*i + c)
				for _, v := range out.Image(i)[c*size*size : (c+1)*size*size] {
					if v != want {
						t.Fatalf("size %d image %d channel %d: %d, expected %d", size, i, c, v, want)
					}
				}
			}
		}
	}
}

// TestResizeGradient checks 4 -> 6 against hand-computed values. With
// src = (dst+0.5)*4/6 - 0.5 the source coordinates are -1/6 (clamped to 0),
// 1/2, 7/6, 11/6, 5/2, 19/6 (clamped to 3), so a ramp 10*x becomes
// 0, 5, 11.67, 18.33, 25, 30.
func TestResizeGradient(t *testing.T) {
	im := newImages(1, 4, []string{"a"}, []uint8{0}, func(_, k int) uint8 {
		y, x := k/4, k%4
		return uint8(10*x + 40*y)
	})
	out, err := Resize(im, 6)
	if err != nil {
		t.Fatal(err)
	}
	ramp := []float64{0, 5, 35.0 / 3, 55.0 / 3, 25, 30} // 10*src, per axis
	wantRow0 := []uint8{0, 5, 12, 18, 25, 30}
	if got := out.Image(0)[:6]; !slices.Equal(got, wantRow0) {
		t.Fatalf("row 0 = %v, expected %v", got, wantRow0)
	}
	for y := range 6 {
		for x := range 6 {
			want := uint8(math.Floor(ramp[x] + 4*ramp[y] + 0.5))
			if got := out.Image(0)[y*6+x]; got != want {
				t.Errorf("(%d,%d) = %d, expected %d", y, x, got, want)
			}
		}
	}
	// Spot values by hand: (y=2,x=3) = 18.33 + 46.67 = 65; (5,5) = 30 + 120 = 150.
	if out.Image(0)[2*6+3] != 65 || out.Image(0)[35] != 150 {
		t.Errorf("spot values %d %d, expected 65 150", out.Image(0)[2*6+3], out.Image(0)[35])
	}
}

func TestResizeSameSizeCopies(t *testing.T) {
	im := newImages(3, 4, []string{"a", "b"}, []uint8{1, 0}, func(i, k int) uint8 { return uint8(i*50 + k) })
	out, err := Resize(im, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Pixels, im.Pixels) || !slices.Equal(out.Labels, im.Labels) {
		t.Fatal("same-size resize changed the data")
	}
	out.Pixels[0] = 99
	if im.Pixels[0] == 99 {
		t.Fatal("same-size resize shares pixels with its input")
	}
	_, err = Resize(im, 0)
	wantErr(t, err, "Resize", "size 0")
}
