// Package backends opens a gpu.Backend by name: the one place that knows
// every implementation, so that nothing needs a registry of mutable state.
package backends

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/cpu"
	"repro/gpu/cuda"
)

// Names are the accepted backend names.
func Names() []string { return []string{"auto", "cpu", "cuda"} }

// Open opens the backend called name. "auto" tries cuda and falls back to the
// cpu; note then says in one line why the GPU is not used (empty when it is).
func Open(name string, opts gpu.Options) (b gpu.Backend, note string, err error) {
	if err := gpu.CheckConvAlgos(opts.ConvAlgos); err != nil {
		return nil, "", err
	}
	switch name {
	case "cpu":
		b, err = cpu.New(opts)
	case "cuda":
		b, err = cuda.New(opts)
	case "auto":
		if b, err = cuda.New(opts); err == nil {
			return b, "", nil
		}
		note = "using the cpu backend: " + err.Error()
		b, err = cpu.New(opts)
	default:
		return nil, "", fmt.Errorf("-backend %q: want auto, cpu or cuda", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("backend %s: %w", name, err)
	}
	return b, note, nil
}
