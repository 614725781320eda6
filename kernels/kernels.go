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
	"fmt"
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

// ParamTypes reads every kernel entry of the PTX (".visible .entry name("
// then its ".param" lines up to ")") and returns the types of each one's
// parameters, one letter each: 'u' for .u64 (pointers, unsigned long long),
// 'i' for .u32 and .s32 (int), 'f' for .f32. Any other line among the
// parameters, another type, or a kernel defined twice is an error. gpu/cuda
// reads it once when it opens and checks each launch against it, so a kernel
// whose parameters changed without its caller fails with an error instead
// of reading garbage.
func ParamTypes() (map[string]string, error) {
	types := map[string]string{}
	lines := strings.Split(ptx, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		name, ok := strings.CutPrefix(l, ".visible .entry ")
		if !ok || !strings.HasSuffix(name, "(") {
			continue
		}
		name = strings.TrimSuffix(name, "(")
		var t []byte
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ")"; i++ {
			f := strings.Fields(lines[i])
			if len(f) < 2 || f[0] != ".param" {
				return nil, fmt.Errorf("ops.ptx line %d, in the parameters of %s: %q", i+1, name, lines[i])
			}
			switch f[1] {
			case ".u64":
				t = append(t, 'u')
			case ".u32", ".s32":
				t = append(t, 'i')
			case ".f32":
				t = append(t, 'f')
			default:
				return nil, fmt.Errorf("ops.ptx line %d: parameter of %s of type %s", i+1, name, f[1])
			}
		}
		if _, dup := types[name]; dup {
			return nil, fmt.Errorf("ops.ptx: kernel %s defined twice", name)
		}
		types[name] = string(t)
	}
	return types, nil
}
