package cpu_test

import (
	"os"
	"strings"
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
	// The other algorithms of 3x3 stride-1 convolutions (the suite above
	// runs F(4x4, 3x3)): F(2x2, 3x3), and GEMMs of im2col only.
	for _, alg := range []string{"2", "0"} {
		t.Run("REPRO_CPU_WINOGRAD="+alg, func(t *testing.T) {
			t.Setenv("REPRO_CPU_WINOGRAD", alg)
			b, err := cpu.New(gpu.Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			gputest.Run(t, b, 2e-5)
		})
	}
}

func TestBadWinogradSetting(t *testing.T) {
	t.Setenv("REPRO_CPU_WINOGRAD", "3")
	b, err := cpu.New(gpu.Options{})
	if err == nil {
		b.Close()
		t.Fatal("REPRO_CPU_WINOGRAD=3 was accepted")
	}
	if want := `REPRO_CPU_WINOGRAD="3": want 4`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
