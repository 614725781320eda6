package cpu

import (
	"testing"

	"repro/gpu"
)

// TestWinogradGroupFitsL2 checks the planned group of images: the largest
// whose transformed matrices fit winogradBytes (one image at least), and no
// more than gemmRows output pixels.
func TestWinogradGroupFitsL2(t *testing.T) {
	for _, alg := range []string{"4", "2"} {
		t.Setenv("REPRO_CPU_WINOGRAD", alg)
		b, err := New(gpu.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		checkWinogradGroups(t, b)
		b.Close()
	}
}

func checkWinogradGroups(t *testing.T, b *Backend) {
	for _, s := range []gpu.ConvSpec{
		{N: 128, InC: 16, InH: 32, InW: 32, OutC: 16, Kernel: 3, Stride: 1, Pad: 1},
		{N: 128, InC: 32, InH: 16, InW: 16, OutC: 32, Kernel: 3, Stride: 1, Pad: 1},
		{N: 128, InC: 64, InH: 8, InW: 8, OutC: 64, Kernel: 3, Stride: 1, Pad: 1},
		{N: 64, InC: 48, InH: 32, InW: 32, OutC: 12, Kernel: 3, Stride: 1, Pad: 1},
	} {
		cv, err := b.NewConv(s)
		if err != nil {
			t.Fatal(err)
		}
		c := cv.(*conv)
		if !c.winograd {
			t.Fatalf("%+v: not planned as Winograd (%s)", s, b.Describe())
		}
		bytes := c.winogradMatrixBytes
		if c.group > 1 && bytes(c.group) > winogradBytes {
			t.Errorf("%v %+v: group of %d images takes %d bytes, more than %d", c.wino, s, c.group, bytes(c.group), winogradBytes)
		}
		if c.group < gemmRows/(c.oh*c.ow) && bytes(c.group+1) <= winogradBytes {
			t.Errorf("%v %+v: group of %d images, but %d fit in %d bytes", c.wino, s, c.group, c.group+1, winogradBytes)
		}
	}
}
