package data

import (
	"errors"
	"fmt"
)

// Images is a labelled set of square RGB images stored as uint8, each image as
// C planes (R, G, B) of Size rows of Size pixels (the CIFAR-10 binary record
// order).
type Images struct {
	N, C, Size int
	Pixels     []uint8  // N*C*Size*Size
	Labels     []uint8  // N
	Classes    []string // class names, label order
}

// CIFAR10Classes returns the CIFAR-10 class names in label order 0..9 (a fresh
// slice on every call).
func CIFAR10Classes() []string {
	return []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
}

// imageLen is the number of values of one image.
func (im *Images) imageLen() int { return im.C * im.Size * im.Size }

// Image returns the C*Size*Size pixels of image i, a subslice of Pixels (no
// copy). It panics when i is out of range, like a slice index.
func (im *Images) Image(i int) []uint8 {
	n := im.imageLen()
	return im.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// Validate checks that the lengths are consistent and every label is below
// len(Classes).
func (im *Images) Validate() error {
	if im == nil {
		return errors.New("images: nil set")
	}
	if im.N < 0 || im.C <= 0 || im.Size <= 0 {
		return fmt.Errorf("images: N=%d C=%d Size=%d, expected N >= 0 and C, Size > 0", im.N, im.C, im.Size)
	}
	if want := im.N * im.imageLen(); len(im.Pixels) != want {
		return fmt.Errorf("images: %d pixel values, expected N*C*Size*Size = %d", len(im.Pixels), want)
	}
	if len(im.Labels) != im.N {
		return fmt.Errorf("images: %d labels, expected N = %d", len(im.Labels), im.N)
	}
	if len(im.Classes) == 0 || len(im.Classes) > 256 {
		return fmt.Errorf("images: %d classes, expected 1..256", len(im.Classes))
	}
	for i, l := range im.Labels {
		if int(l) >= len(im.Classes) {
			return fmt.Errorf("images: image %d has label %d, expected 0..%d", i, l, len(im.Classes)-1)
		}
	}
	return nil
}

// ClassCounts returns the number of images of each class, in label order.
func (im *Images) ClassCounts() []int {
	counts := make([]int, len(im.Classes))
	for _, l := range im.Labels {
		if int(l) < len(counts) {
			counts[l]++
		}
	}
	return counts
}

// empty returns a set with im's geometry and classes holding n images.
func (im *Images) empty(n int) *Images {
	return &Images{
		N: n, C: im.C, Size: im.Size,
		Pixels:  make([]uint8, n*im.imageLen()),
		Labels:  make([]uint8, n),
		Classes: append([]string(nil), im.Classes...),
	}
}

// pick returns the images of im at the given indices, in that order.
func (im *Images) pick(idx []int) *Images {
	out := im.empty(len(idx))
	for j, i := range idx {
		copy(out.Image(j), im.Image(i))
		out.Labels[j] = im.Labels[i]
	}
	return out
}

// Subset returns the first perClass images of each class, keeping their
// relative order in im. It is an error when a class has fewer images.
func Subset(im *Images, perClass int) (*Images, error) {
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("Subset: %w", err)
	}
	if perClass <= 0 {
		return nil, fmt.Errorf("Subset: perClass %d, expected > 0", perClass)
	}
	counts := im.ClassCounts()
	for c, n := range counts {
		if n < perClass {
			return nil, fmt.Errorf("Subset: class %d (%s) has %d images, expected at least perClass = %d", c, im.Classes[c], n, perClass)
		}
	}
	taken := make([]int, len(im.Classes))
	idx := make([]int, 0, perClass*len(im.Classes))
	for i, l := range im.Labels {
		if taken[l] < perClass {
			taken[l]++
			idx = append(idx, i)
		}
	}
	return im.pick(idx), nil
}

// Split divides im into a train part and a validation part of nVal images,
// stratified by class: nVal/len(Classes) images of each class (nVal must be a
// multiple of the number of classes; the ResNet paper's 45k/5k split of
// CIFAR-10 is nVal = 5000). The validation images of each class are the first
// ones of a Fisher-Yates shuffle of that class's images driven by a SplitMix64
// generator seeded with seed, so the split is the same for a seed on every
// platform and Go version. Both parts keep the original relative order.
func Split(im *Images, nVal int, seed uint64) (train, val *Images, err error) {
	if err := im.Validate(); err != nil {
		return nil, nil, fmt.Errorf("Split: %w", err)
	}
	k := len(im.Classes)
	if nVal < 0 || nVal%k != 0 {
		return nil, nil, fmt.Errorf("Split: nVal %d, expected a non-negative multiple of the %d classes", nVal, k)
	}
	per := nVal / k
	byClass := make([][]int, k)
	for i, l := range im.Labels {
		byClass[l] = append(byClass[l], i)
	}
	for c, idx := range byClass {
		if len(idx) < per {
			return nil, nil, fmt.Errorf("Split: class %d (%s) has %d images, expected at least nVal/classes = %d", c, im.Classes[c], len(idx), per)
		}
	}
	isVal := make([]bool, im.N)
	rng := splitMix64{state: seed}
	for _, idx := range byClass {
		// Partial Fisher-Yates: the first per positions are a uniform sample.
		for i := 0; i < per; i++ {
			j := i + int(rng.below(uint64(len(idx)-i)))
			idx[i], idx[j] = idx[j], idx[i]
			isVal[idx[i]] = true
		}
	}
	tr := make([]int, 0, im.N-nVal)
	va := make([]int, 0, nVal)
	for i, v := range isVal {
		if v {
			va = append(va, i)
		} else {
			tr = append(tr, i)
		}
	}
	return im.pick(tr), im.pick(va), nil
}

// splitMix64 is Steele, Lea and Flood's SplitMix64 generator, written out here
// so that seeded splits never change with the standard library.
type splitMix64 struct{ state uint64 }

func (r *splitMix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a uniform value in [0, n) for n > 0, by rejection sampling.
func (r *splitMix64) below(n uint64) uint64 {
	limit := -n % n // 2^64 mod n: values below it are rejected
	for {
		v := r.next()
		if v >= limit {
			return v % n
		}
	}
}
