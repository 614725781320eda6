package cpu_test

import (
	"os"
	"testing"

	"repro/gpu"
	"repro/gpu/cpu"
	"repro/gpu/cpu/gemm"
	"repro/gpu/gputest"
)

// The CPU backend is the reference implementation of gpu.Backend: it must
// match gpu/ref's float64 math to float32 accuracy, with OpenBLAS and with
// the pure-Go GEMM, on one thread and on several.
func TestConformance(t *testing.T) {
	ob, err := gemm.OpenBLAS()
	if err != nil && os.Getenv("REPRO_NO_OPENBLAS") != "1" {
		t.Fatalf("%v (CI installs libopenblas0; REPRO_NO_OPENBLAS=1 runs the pure-Go GEMM only)", err)
	}
	impls := map[string]func() gemm.Impl{"pure-go": gemm.PureGo}
	if ob != nil {
		impls["openblas"] = func() gemm.Impl { return ob }
	}
	for name, newGEMM := range impls {
		for _, threads := range []int{1, 3} {
			t.Run(name+"/threads="+string(rune('0'+threads)), func(t *testing.T) {
				b, err := cpu.NewWithGEMM(gpu.Options{Threads: threads}, newGEMM, name)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				gputest.Run(t, b, 2e-5)
			})
		}
	}
	// Convolutions as GEMMs of im2col only, as REPRO_CPU_WINOGRAD=0 runs
	// them (the suite above runs 3x3 forwards by Winograd).
	t.Run("no-winograd", func(t *testing.T) {
		t.Setenv("REPRO_CPU_WINOGRAD", "0")
		b, err := cpu.New(gpu.Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		gputest.Run(t, b, 2e-5)
	})
}
