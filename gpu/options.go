package gpu

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
	// Log receives one-line notes (library versions, fallbacks); nil drops them.
	Log func(string)
}
