package train

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"repro/data"
	"repro/gpu"
	"repro/gpu/profile"
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
	// IssueSeconds is the median host time to issue a step, before waiting
	// for it: near MedianSeconds, a device waits on its host (launch-bound).
	IssueSeconds float64
	// PipelinedImagesPerSec is the rate of steps issued back to back with one
	// wait at the end, as the training loop runs them.
	PipelinedImagesPerSec float64
	// EvalImagesPerSec is the rate of evaluation (inference forward and
	// loss) in batches of Batch.
	EvalImagesPerSec float64
	// Notes are the lines the trainer would have logged (a failed CUDA
	// graph capture, say), since no Run is there to print them.
	Notes         []string
	MemoryBytes   int64   // the backend's allocation after the timed steps (it never frees in a step)
	AllocsPerStep float64 // Go heap allocations per timed step
	BytesPerStep  float64 // Go heap bytes allocated per timed step
}

// BenchConfig is the recipe the benches train: the defaults with model and
// batch size set.
func BenchConfig(modelName string, batch int) Config {
	cfg := Defaults()
	cfg.Model = modelName
	cfg.Batch = batch
	return cfg
}

// benchTrainer builds the trainer of cfg on synthetic images, and returns it
// with the model's forward GFLOP per image.
func benchTrainer(b gpu.Backend, cfg Config, testImages int) (*trainer, float64, error) {
	batch := cfg.Batch
	if err := cfg.Validate(); err != nil {
		return nil, 0, err
	}
	mcfg, _ := cfg.ModelConfig()
	flops, err := model.ForwardFLOPs(mcfg)
	if err != nil {
		return nil, 0, err
	}
	n := max(batch, testImages, 10)
	img := &data.Images{N: n, C: 3, Size: 32, Classes: data.CIFAR10Classes(), Pixels: make([]uint8, n*3*32*32), Labels: make([]uint8, n)}
	for i := range img.Pixels {
		img.Pixels[i] = uint8(gpu.Mix(3, uint64(i)))
	}
	for i := range img.Labels {
		img.Labels[i] = uint8(i % 10)
	}
	t, err := newTrainer(b, Source{Train: img, Test: img}, cfg)
	if err != nil {
		return nil, 0, err
	}
	if err := t.net.Init(1); err != nil {
		return nil, 0, err
	}
	t.shuffle(1)
	if err := b.UploadInt(t.order, t.hostOrder); err != nil {
		return nil, 0, err
	}
	return t, flops / 1e9, nil
}

// Bench times the real training step (batch building, forward, loss,
// backward, SGD update) of a model on b with synthetic images: warmup steps,
// then steps timed one by one, each waited for; the median is the figure.
// Then the same number of steps run back to back for the pipelined rate.
func Bench(b gpu.Backend, cfg Config, warmup, steps int) (*BenchResult, error) {
	if steps < 1 || warmup < 0 {
		return nil, fmt.Errorf("bench: steps %d, warmup %d: want steps >= 1, warmup >= 0", steps, warmup)
	}
	batch := cfg.Batch
	t, gflops, err := benchTrainer(b, cfg, max(steps, 2)*batch)
	if err != nil {
		return nil, err
	}
	defer t.close()
	res := &BenchResult{Model: cfg.Model, Batch: batch, Params: t.net.Params.Len}
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
	issue := make([]float64, steps)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range res.StepSeconds {
		start := time.Now()
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			return nil, err
		}
		issue[i] = time.Since(start).Seconds()
		if err := b.Sync(); err != nil {
			return nil, err
		}
		res.StepSeconds[i] = time.Since(start).Seconds()
	}
	runtime.ReadMemStats(&after)
	res.AllocsPerStep = float64(after.Mallocs-before.Mallocs) / float64(steps)
	res.BytesPerStep = float64(after.TotalAlloc-before.TotalAlloc) / float64(steps)
	start := time.Now()
	for i := 0; i < steps; i++ {
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			return nil, err
		}
	}
	if err := b.Sync(); err != nil {
		return nil, err
	}
	res.PipelinedImagesPerSec = float64(steps*batch) / time.Since(start).Seconds()
	// untimed: the first batch plans, the second is recorded where the
	// backend records
	if _, _, err := t.evaluate(t.dev.test, 2*batch); err != nil {
		return nil, err
	}
	// one evaluation pass over steps batches, read once at its end, as a
	// training run evaluates its test set
	start = time.Now()
	if _, _, err := t.evaluate(t.dev.test, steps*batch); err != nil {
		return nil, err
	}
	res.EvalImagesPerSec = float64(steps*batch) / time.Since(start).Seconds()
	res.Notes = t.notes
	res.MemoryBytes = b.MemoryInUse()
	sort.Float64s(res.StepSeconds)
	sort.Float64s(issue)
	res.MedianSeconds = median(res.StepSeconds)
	res.IssueSeconds = median(issue)
	res.ImagesPerSec = float64(batch) / res.MedianSeconds
	res.TrainGFLOPs = 3 * gflops * res.ImagesPerSec
	return res, nil
}

// BenchProfile runs warmup steps of a model, then steps with every op
// waited for and timed (package gpu/profile), and returns the table.
func BenchProfile(b gpu.Backend, cfg Config, warmup, steps int) (*profile.Backend, error) {
	if steps < 1 || warmup < 0 {
		return nil, fmt.Errorf("bench: steps %d, warmup %d: want steps >= 1, warmup >= 0", steps, warmup)
	}
	p := profile.Wrap(b)
	t, _, err := benchTrainer(p, cfg, cfg.Batch)
	if err != nil {
		return nil, err
	}
	defer t.close()
	step := 0
	warmup = max(warmup, 1) // the first step plans (algorithm searches): never profile it
	for i := 0; i < warmup+steps; i++ {
		if i == warmup {
			p.Reset()
		}
		if err := t.step(0, 0, t.dev.aug, &step); err != nil {
			return nil, err
		}
	}
	return p, b.Sync()
}

// ScheduleSeconds projects the time of a run of epochs over trainImages
// training and testImages test images at the measured pipelined and
// evaluation rates (data loading and checkpoints not counted).
func (r *BenchResult) ScheduleSeconds(epochs, trainImages, testImages int) float64 {
	return float64(epochs) * (float64(trainImages)/r.PipelinedImagesPerSec + float64(testImages)/r.EvalImagesPerSec)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
