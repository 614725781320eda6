package data

import (
	"slices"
	"testing"
)

// idSet returns n images of 3 classes whose first two values hold the image
// index, so that images can be traced through Split and Subset.
func idSet(n int) *Images {
	labels := make([]uint8, n)
	for i := range labels {
		labels[i] = uint8((i*7 + i/5) % 3)
	}
	return newImages(3, 2, []string{"a", "b", "c"}, labels, func(i, k int) uint8 {
		switch k {
		case 0:
			return uint8(i)
		case 1:
			return uint8(i >> 8)
		}
		return uint8(i*k + 1)
	})
}

func ids(im *Images) []int {
	out := make([]int, im.N)
	for i := range out {
		img := im.Image(i)
		out[i] = int(img[0]) | int(img[1])<<8
	}
	return out
}

func TestSplit(t *testing.T) {
	im := idSet(300)
	orig := slices.Clone(im.Pixels)
	tr, va, err := Split(im, 30, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.Pixels, orig) {
		t.Fatal("Split modified its input")
	}
	if tr.N != 270 || va.N != 30 {
		t.Fatalf("sizes %d/%d", tr.N, va.N)
	}
	for c, n := range va.ClassCounts() {
		if n != 10 {
			t.Errorf("val class %d: %d images, expected 10", c, n)
		}
	}
	for _, part := range []*Images{tr, va} {
		if err := part.Validate(); err != nil {
			t.Fatal(err)
		}
		id := ids(part)
		if !slices.IsSorted(id) {
			t.Errorf("part does not keep the original order: %v", id)
		}
		for j, i := range id {
			if part.Labels[j] != im.Labels[i] || !slices.Equal(part.Image(j), im.Image(i)) {
				t.Fatalf("image %d differs from the original", i)
			}
		}
	}
	all := append(ids(tr), ids(va)...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train+val is not a partition: %v", all)
		}
	}

	// Deterministic for a seed, different for another.
	tr2, va2, err := Split(im, 30, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(va), ids(va2)) || !slices.Equal(tr.Pixels, tr2.Pixels) {
		t.Error("same seed, different split")
	}
	_, va3, err := Split(im, 30, 43)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(ids(va), ids(va3)) {
		t.Error("seeds 42 and 43 give the same split")
	}
	// The split is pinned: a change of generator or algorithm shows here.
	pinnedSplit := []int{1, 5, 12, 17, 18}
	if got := ids(va)[:5]; !slices.Equal(got, pinnedSplit) {
		t.Errorf("seed 42 val ids start %v, expected %v (the seeded split changed)", got, pinnedSplit)
	}

	// Over many seeds every image is chosen at some point.
	chosen := make([]bool, im.N)
	for seed := range uint64(100) {
		_, v, err := Split(im, 30, seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range ids(v) {
			chosen[i] = true
		}
	}
	for i, c := range chosen {
		if !c {
			t.Errorf("image %d never chosen for validation in 100 seeds", i)
		}
	}
}

func TestSplitBad(t *testing.T) {
	im := idSet(30)
	_, _, err := Split(im, 31, 1)
	wantErr(t, err, "Split", "31", "multiple")
	_, _, err = Split(im, -3, 1)
	wantErr(t, err, "Split", "-3")
	_, _, err = Split(im, 60, 1)
	wantErr(t, err, "Split", "class", "expected at least")
	tr, va, err := Split(im, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if va.N != 0 || tr.N != 30 || !slices.Equal(tr.Pixels, im.Pixels) {
		t.Errorf("nVal 0: train %d val %d", tr.N, va.N)
	}
	bad := *im
	bad.Labels = bad.Labels[:3]
	_, _, err = Split(&bad, 3, 1)
	wantErr(t, err, "Split", "labels")
}

func TestSubset(t *testing.T) {
	im := idSet(60)
	sub, err := Subset(im, 4)
	if err != nil {
		t.Fatal(err)
	}
	if sub.N != 12 {
		t.Fatalf("N=%d", sub.N)
	}
	// The first 4 of each class, in original order.
	var want []int
	seen := make([]int, 3)
	for i, l := range im.Labels {
		if seen[l] < 4 {
			seen[l]++
			want = append(want, i)
		}
	}
	if got := ids(sub); !slices.Equal(got, want) {
		t.Errorf("ids %v, expected %v", got, want)
	}
	for c, n := range sub.ClassCounts() {
		if n != 4 {
			t.Errorf("class %d: %d", c, n)
		}
	}
	_, err = Subset(im, 100)
	wantErr(t, err, "Subset", "class", "perClass = 100")
	_, err = Subset(im, 0)
	wantErr(t, err, "Subset", "perClass 0")
}

// TestSplitMix64 checks the generator against the published first outputs of
// SplitMix64 seeded with 0 (Vigna's splitmix64.c, also the xoshiro seeding
// example).
func TestSplitMix64(t *testing.T) {
	r := splitMix64{}
	for i, want := range []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec} {
		if got := r.next(); got != want {
			t.Fatalf("output %d: %#x, expected %#x", i, got, want)
		}
	}
	// below stays in range and reaches every value.
	seen := make([]bool, 7)
	for range 1000 {
		v := r.below(7)
		if v >= 7 {
			t.Fatalf("below(7) = %d", v)
		}
		seen[v] = true
	}
	if slices.Contains(seen, false) {
		t.Errorf("below(7) missed a value: %v", seen)
	}
}
