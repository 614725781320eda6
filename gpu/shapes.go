package gpu

import "fmt"

// SameShape reports whether a and b have one logical shape.
func SameShape(a, b Tensor) bool { return a.N == b.N && a.C == b.C && a.H == b.H && a.W == b.W }

// ShortcutGeometry checks that s maps onto a by ResNet's option-A shortcut
// (see Backend.ResidualForward) and returns the subsampling factor and the
// channel offset.
func ShortcutGeometry(a, s Tensor) (f, pad int, ok bool) {
	if a.N != s.N || s.C > a.C || s.H%a.H != 0 || s.W%a.W != 0 || s.H/a.H != s.W/a.W {
		return 0, 0, false
	}
	return s.H / a.H, (a.C - s.C) / 2, true
}

// PoolShapes reports whether y is x average-pooled by k x k windows.
func PoolShapes(y, x Tensor, k int) bool {
	return k > 0 && x.N == y.N && x.C == y.C && x.H == y.H*k && x.W == y.W*k
}

// Validate checks that the arrays of s have the lengths its sizes imply and
// that every label is a class.
func (s DatasetSpec) Validate() error {
	plane := s.C * s.Size * s.Size
	switch {
	case s.N <= 0 || s.C <= 0 || s.Size <= 0 || s.Classes <= 0:
		return fmt.Errorf("dataset: %d images of %d x %d x %d, %d classes: sizes must be positive", s.N, s.C, s.Size, s.Size, s.Classes)
	case len(s.Pixels) != s.N*plane:
		return fmt.Errorf("dataset: %d pixel values, want %d", len(s.Pixels), s.N*plane)
	case len(s.Labels) != s.N || len(s.ImageScale) != s.N || len(s.ImageShift) != s.N:
		return fmt.Errorf("dataset: %d labels, %d scales, %d shifts for %d images", len(s.Labels), len(s.ImageScale), len(s.ImageShift), s.N)
	case len(s.Mean) != plane || len(s.Scale) != plane:
		return fmt.Errorf("dataset: normalization planes of %d and %d values, want %d", len(s.Mean), len(s.Scale), plane)
	}
	for i, l := range s.Labels {
		if int(l) >= s.Classes {
			return fmt.Errorf("dataset: label %d of image %d outside 0..%d", l, i, s.Classes-1)
		}
	}
	return nil
}

// AllocTensor makes a whole N x C x H x W tensor from alloc, a backend's
// Alloc: the one way both backends build NewTensor.
func AllocTensor(alloc func(n int) (Slice, error), n, c, h, w int) (Tensor, error) {
	if n <= 0 || c <= 0 || h <= 0 || w <= 0 {
		return Tensor{}, fmt.Errorf("new tensor [%d %d %d %d]: sizes must be positive", n, c, h, w)
	}
	s, err := alloc(n * c * h * w)
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{Buf: s.Buf, N: n, C: c, H: h, W: w, ParentC: c}, nil
}

// CheckTensor checks what every backend checks of a tensor before mapping
// it onto its memory: a positive shape, a channel view inside its parent,
// and the parent inside a buffer of bufLen elements.
func CheckTensor(t Tensor, bufLen int) error {
	if t.N <= 0 || t.C <= 0 || t.H <= 0 || t.W <= 0 || t.C0 < 0 || t.C0+t.C > t.ParentC {
		return fmt.Errorf("tensor %v: bad shape or channel view", t)
	}
	if t.Off < 0 || t.Off+t.N*t.ParentC*t.H*t.W > bufLen {
		return fmt.Errorf("tensor %v at %d: outside buffer of %d", t, t.Off, bufLen)
	}
	return nil
}
