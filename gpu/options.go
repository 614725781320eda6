package gpu

import "fmt"

// Options configure a backend when it is opened.
type Options struct {
	// Threads is the number of CPU threads the CPU backend uses; 0 means all
	// cores (runtime.GOMAXPROCS).
	Threads int
	// Device is the GPU ordinal for the CUDA backend.
	Device int
	// StrictFP32 forbids TF32 tensor-core math in convolutions (CUDA).
	StrictFP32 bool
	// Deterministic forbids non-deterministic algorithms (CUDA).
	Deterministic bool
	// NoGraphs makes the CUDA backend refuse to record steps as CUDA
	// graphs, so that every op is issued one by one (to measure what the
	// graphs gain, or to rule them out when chasing a problem).
	NoGraphs bool
	// ConvAlgos says where the CUDA backend looks for each convolution's
	// algorithm: "legacy" (or ""): cuDNN's cudnnFind*AlgorithmEx list;
	// "graph": the engines cuDNN's backend API offers (with TF32 tensor-core
	// kernels unless StrictFP32), legacy where it offers none; "all": both,
	// and the faster on this GPU is kept.
	ConvAlgos string
	// WGradStream makes the CUDA backend run each convolution's weight
	// gradient on a second stream beside its input gradient: the two are
	// independent, and a CIFAR net's small convolutions leave most of a
	// large GPU idle.
	WGradStream bool
	// OurBatchNorm makes the CUDA backend run every batch norm on repro's
	// kernels, including the plain ones on whole tensors that cuDNN's
	// legacy batch norm serves otherwise (to measure which is faster).
	OurBatchNorm bool
	// Log receives one-line notes (a convolution that fell back to another
	// algorithm source, say); nil drops them. Describe is not among them:
	// callers print it.
	Log func(string)
}

// CheckConvAlgos returns a one-line error unless s is a value of
// Options.ConvAlgos: "", "legacy", "graph" or "all".
func CheckConvAlgos(s string) error {
	switch s {
	case "", "legacy", "graph", "all":
		return nil
	}
	return fmt.Errorf("-conv-algos %q: want legacy, graph or all", s)
}
