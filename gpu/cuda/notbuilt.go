//go:build !cuda

package cuda

import (
	"errors"

	"repro/gpu"
)

// ErrNotBuilt is New's error in a binary built without the cuda tag.
var ErrNotBuilt = errors.New("the cuda backend is not in this binary: build with -tags cuda")

// New opens GPU opts.Device; in this build it always fails with ErrNotBuilt.
func New(opts gpu.Options) (gpu.Backend, error) { return nil, ErrNotBuilt }
