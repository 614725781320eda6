//go:build cuda

package cuda

import (
	"errors"

	"repro/gpu"
)

// ErrNotBuilt is kept for API parity with builds without the cuda tag.
var ErrNotBuilt = errors.New("the cuda backend is not in this binary: build with -tags cuda")

// New opens GPU opts.Device. The CUDA implementation of the ops is not
// written yet (issue 3), so it reports that instead of pretending.
func New(opts gpu.Options) (gpu.Backend, error) {
	return nil, errors.New("the cuda backend's ops are not implemented yet in this version")
}
