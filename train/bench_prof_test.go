package train

import (
	"testing"

	"repro/gpu"
	"repro/gpu/cpu/cputest"
)

// BenchmarkTrainStepResNet20 is the CPU training step of ResNet-20 at batch
// 128, for `go test -bench TrainStep -cpuprofile`.
func BenchmarkTrainStepResNet20(bm *testing.B) {
	b := cputest.Open(bm, gpu.Options{})
	t, gflops, err := benchTrainer(b, BenchConfig("resnet20", 128), 128)
	if err != nil {
		bm.Fatal(err)
	}
	step := 0
	if err := t.step(0, 0, t.dev.aug, &step); err != nil {
		bm.Fatal(err)
	}
	bm.ResetTimer()
	for i := 0; i < bm.N; i++ {
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			bm.Fatal(err)
		}
	}
	bm.ReportMetric(float64(128*bm.N)/bm.Elapsed().Seconds(), "img/s")
	bm.ReportMetric(3*gflops*float64(128*bm.N)/bm.Elapsed().Seconds(), "GFLOP/s")
}
