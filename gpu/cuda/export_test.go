//go:build cuda

package cuda

import "repro/gpu"

// ForceOverwrite makes b, a CUDA backend, plan every backend-API weight
// gradient with beta 0 (written to scratch, then added to dw), the path
// taken where no engine adds, so that tests cover it where engines do add.
func ForceOverwrite(b gpu.Backend) { b.(*Backend).forceOverwrite = true }
