package train

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"repro/data"
	"repro/gpu"
	"repro/model"
)

// BenchResult is the speed of the training step of one model.
type BenchResult struct {
	Model         string
	Batch         int
	Params        int
	StepSeconds   []float64 // each timed step, sorted
	MedianSeconds float64
	ImagesPerSec  float64 // Batch / MedianSeconds
	TrainGFLOPs   float64 // 3 x forward GFLOP per image x images/s
	MemoryBytes   int64   // the backend's allocation after planning
	AllocsPerStep float64 // Go heap allocations per timed step
	BytesPerStep  float64 // Go heap bytes allocated per timed step
}

// Bench times the real training step (batch building, forward, loss,
// backward, SGD update) of a model on b with synthetic images: warmup steps,
// then steps timed one by one; the median is the figure.
func Bench(b gpu.Backend, modelName string, batch, warmup, steps int) (*BenchResult, error) {
	if steps < 1 || warmup < 0 {
		return nil, fmt.Errorf("bench: steps %d, warmup %d: want steps >= 1, warmup >= 0", steps, warmup)
	}
	cfg := Defaults()
	cfg.Model = modelName
	cfg.Batch = batch
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mcfg, _ := cfg.ModelConfig()
	flops, err := model.ForwardFLOPs(mcfg)
	if err != nil {
		return nil, err
	}
	n := max(batch, 10)
	img := &data.Images{N: n, C: 3, Size: 32, Classes: data.CIFAR10Classes(), Pixels: make([]uint8, n*3*32*32), Labels: make([]uint8, n)}
	for i := range img.Pixels {
		img.Pixels[i] = uint8(gpu.Mix(3, uint64(i)))
	}
	for i := range img.Labels {
		img.Labels[i] = uint8(i % 10)
	}
	t, err := newTrainer(b, Source{Train: img, Test: img}, cfg)
	if err != nil {
		return nil, err
	}
	if err := t.net.Init(1); err != nil {
		return nil, err
	}
	t.shuffle(1)
	if err := b.UploadInt(t.order, t.hostOrder); err != nil {
		return nil, err
	}
	res := &BenchResult{Model: modelName, Batch: batch, Params: t.net.Params.Len, MemoryBytes: b.MemoryInUse()}
	step := 0
	for i := 0; i < warmup; i++ {
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			return nil, err
		}
	}
	if err := b.Sync(); err != nil {
		return nil, err
	}
	res.StepSeconds = make([]float64, steps)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range res.StepSeconds {
		start := time.Now()
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			return nil, err
		}
		if err := b.Sync(); err != nil {
			return nil, err
		}
		res.StepSeconds[i] = time.Since(start).Seconds()
	}
	runtime.ReadMemStats(&after)
	res.AllocsPerStep = float64(after.Mallocs-before.Mallocs) / float64(steps)
	res.BytesPerStep = float64(after.TotalAlloc-before.TotalAlloc) / float64(steps)
	sort.Float64s(res.StepSeconds)
	res.MedianSeconds = median(res.StepSeconds)
	res.ImagesPerSec = float64(batch) / res.MedianSeconds
	res.TrainGFLOPs = 3 * flops / 1e9 * res.ImagesPerSec
	return res, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
