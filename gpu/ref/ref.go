// Package ref holds plain float64 reference implementations of every op of
// gpu.Backend, written as obviously-correct loops over canonical NCHW slices:
// activations are [N][C][H][W] contiguous, conv weights [Out][In][K][K],
// linear weights [Out][In]. Each function is named after the interface op it
// stands for and takes its arguments in the same order (outputs first, then
// inputs, then parameters), in the manner of llm.c. The math is the one
// stated in the doc comments of package gpu; each function's comment repeats
// it.
//
// Package gpu/gputest checks every backend against these functions, and this
// package's own tests check each backward op against a numerical gradient.
// Speed is not a goal here. A length that does not match the shape is a
// programmer error and panics.
package ref

import (
	"fmt"
	"strings"

	"repro/gpu"
)

// Shape is a logical NCHW shape.
type Shape struct{ N, C, H, W int }

// ShapeOf returns the logical shape of a tensor (of a view: its own C).
func ShapeOf(t gpu.Tensor) Shape { return Shape{t.N, t.C, t.H, t.W} }

// Elems is N*C*H*W.
func (s Shape) Elems() int { return s.N * s.C * s.H * s.W }

// Index is the position of element (n, c, h, w) in an NCHW slice of shape s.
func (s Shape) Index(n, c, h, w int) int { return ((n*s.C+c)*s.H+h)*s.W + w }

func (s Shape) String() string { return fmt.Sprintf("[%d %d %d %d]", s.N, s.C, s.H, s.W) }

// ConvInput is the shape of a convolution's input x.
func ConvInput(s gpu.ConvSpec) Shape { return Shape{s.N, s.InC, s.InH, s.InW} }

// ConvOutput is the shape of a convolution's output y.
func ConvOutput(s gpu.ConvSpec) Shape { return Shape{s.N, s.OutC, s.OutH(), s.OutW()} }

// need panics unless the slice called name has length want.
func need(op, name string, got []float64, want int) {
	if len(got) != want {
		panic(fmt.Sprintf("ref.%s: %s has %d elements, want %d", op, name, len(got), want))
	}
}

// needAll is need for each of vs, named in order by the words of names.
func needAll(op string, want int, names string, vs ...[]float64) {
	ns := strings.Fields(names)
	if len(ns) != len(vs) {
		panic(fmt.Sprintf("ref.%s: %d names (%q) for %d slices", op, len(ns), names, len(vs)))
	}
	for i, v := range vs {
		need(op, ns[i], v, want)
	}
}

// store writes src into dst: dst = src, or dst += src when accumulate.
// Computing a gradient into a fresh slice and storing it last keeps every op
// correct when an output aliases an input.
func store(dst, src []float64, accumulate bool) {
	if accumulate {
		for i, v := range src {
			dst[i] += v
		}
		return
	}
	copy(dst, src)
}
