// Package cputest opens the CPU backend for tests and benchmarks of other
// packages: the reference the model, trainer and CUDA tests compare against.
package cputest

import (
	"testing"

	"repro/gpu"
	"repro/gpu/cpu"
)

// Open returns the CPU backend with opts, closed when tb ends; an error
// opening it fails tb.
func Open(tb testing.TB, opts gpu.Options) gpu.Backend {
	tb.Helper()
	b, err := cpu.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return b
}
