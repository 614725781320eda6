// Package kernels holds the CUDA kernels of the GPU backend (package
// gpu/cuda): their source, ops.cu, and the PTX that `make kernels` makes of
// it with nvcc (-arch=compute_70), committed and embedded here so that
// building repro needs no CUDA toolkit (DESIGN.md decision 7). The CUDA
// driver JIT-compiles the PTX for the GPU at hand when gpu/cuda loads it.
//
// The contract with gpu/cuda:
//
//   - Names lists every kernel, each an extern "C" __global__ function of
//     ops.cu whose parameter list (documented there) gpu/cuda packs for
//     cuLaunchKernel: device pointers as 8 bytes, int and float as 4 bytes,
//     unsigned long long as 8 bytes. A tensor argument is a pair (pointer,
//     batch stride in floats) of an NCHW view; a kernel touches only the
//     channels of its views.
//   - Elementwise kernels use grid-stride loops (any grid is correct);
//     softmax_xent runs as one block, bn_stats and bn_grad_stats as blocks
//     striding over the segments of the channels (any grid is correct), all
//     three with at most 256 threads; the segment counters those two take
//     must be 0 before a launch, and are again after it.
//   - Every kernel computes what the CPU backend (gpu/cpu) computes for the
//     same op, bit for bit where the CPU's float32 arithmetic allows it.
//
// The first line of ops.ptx records the sha256 of the ops.cu it was made
// from; this package's tests fail when the two disagree ("run make
// kernels"), check each kernel's parameter count in the PTX, and run the
// kernels of ops.cu on the host (compiled by g++ with a shim of the CUDA
// built-ins, kernels/hosttest) against the CPU backend.
package kernels

import (
	_ "embed"
	"strings"
)

//go:embed ops.ptx
var ptx string

// hashPrefix starts the first line of ops.ptx, followed by the sha256 (hex)
// of ops.cu.
const hashPrefix = "// repro-source-sha256: "

// names are the kernels of ops.cu, in the order ops.cu defines them.
var names = []string{
	"fill_view",
	"copy_view",
	"relu_forward",
	"relu_backward",
	"add_forward",
	"residual_forward",
	"shortcut_backward",
	"avgpool_forward",
	"avgpool_backward",
	"gap_forward",
	"gap_backward",
	"dropout",
	"softmax_xent",
	"bias_rows",
	"bias_grad",
	"sgd_step",
	"adam_step",
	"build_batch",
	"bn_stats",
	"bn_coeffs_train",
	"bn_coeffs_infer",
	"bn_apply",
	"bn_grad_stats",
	"bn_grad_apply",
}

// PTX returns a copy of the PTX text of the kernels (the module image for
// cuModuleLoadData, which wants it NUL-terminated: append a 0 byte).
func PTX() []byte { return []byte(ptx) }

// SourceHash is the sha256 (hex) of the ops.cu that the embedded PTX was
// made from, as its first line records it; "" when the line is missing.
func SourceHash() string {
	line, _, _ := strings.Cut(ptx, "\n")
	h, ok := strings.CutPrefix(strings.TrimSpace(line), hashPrefix)
	if !ok {
		return ""
	}
	return h
}

// Names returns the names of the kernels in the PTX.
func Names() []string { return append([]string(nil), names...) }

// Params returns how many parameters kernel name takes in the PTX, or -1
// when the PTX does not define it.
func Params(name string) int {
	t, ok := ParamTypes(name)
	if !ok {
		return -1
	}
	return len(t)
}

// ParamTypes returns the types of kernel name's parameters in the PTX (the
// ".param" lines between ".visible .entry name(" and ")"), one letter each:
// 'u' for .u64 (pointers, unsigned long long), 'i' for .u32 and .s32 (int),
// 'f' for .f32; ok is false when the PTX does not define the kernel or a
// parameter has another type. gpu/cuda checks each launch against it, so a
// kernel whose parameters changed without its caller fails with an error
// instead of reading garbage.
func ParamTypes(name string) (types string, ok bool) {
	head := ".visible .entry " + name + "("
	lines := strings.Split(ptx, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != head {
			continue
		}
		var t []byte
		for _, p := range lines[i+1:] {
			f := strings.Fields(p)
			switch {
			case len(f) == 1 && f[0] == ")":
				return string(t), true
			case len(f) >= 2 && f[0] == ".param":
				switch f[1] {
				case ".u64":
					t = append(t, 'u')
				case ".u32", ".s32":
					t = append(t, 'i')
				case ".f32":
					t = append(t, 'f')
				default:
					return "", false
				}
			}
		}
		return "", false
	}
	return "", false
}
