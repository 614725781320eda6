package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"repro/gpu"
	"repro/gpu/backends"
	"repro/train"
)

// benchMain is `repro bench`: training images/s of each model's real step,
// the median of timed steps after a warm-up.
func benchMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("repro bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	models := fs.String("models", "resnet20,resnet56,densenet-bc100,densenet40", "comma-separated models")
	batch := fs.Int("batch", 128, "batch size")
	steps := fs.Int("steps", 10, "timed steps per model")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	backend := fs.String("backend", "auto", "auto, cpu or cuda")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	strict := fs.Bool("strict-fp32", false, "cuda: no TF32 in convolutions")
	graphs := fs.Bool("graphs", true, "cuda: replay each step as a CUDA graph (false: issue every op one by one)")
	convAlgos := fs.String("conv-algos", "legacy", "cuda: where convolution algorithms come from: legacy (cudnnFind), graph (cuDNN backend API engines, TF32 tensor cores) or all (both, the fastest wins)")
	fused := fs.Bool("fused-relu", true, "fuse each batch norm's ReLU, and a ResNet block's shortcut add before it, into the batch norm (false: they run as ops of their own, to measure the fusion)")
	shared := fs.Bool("shared-bn-stats", true, "DenseNet: each channel's batch statistics computed once per step and shared by the batch norms that read it (false: every batch norm computes its own, to measure the sharing)")
	packed := fs.Bool("packed-growth", false, "DenseNet: each layer's 3x3 convolution writes its new channels, and reads their gradient, packed, copied to and from the block (false: in place, as channel views of the block)")
	wgradStream := fs.Bool("wgrad-stream", false, "cuda: run each convolution's weight gradient on a second stream beside its input gradient")
	ourBN := fs.Bool("our-bn", false, "cuda: run every batch norm on repro's kernels, also the plain ones cuDNN's batch norm serves by default")
	prof := fs.Bool("profile", false, "after each model, time every op of -steps more steps (each op waited for) and print where the time goes")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if *batch < 2 || *steps < 1 || *warmup < 0 || *threads < 0 {
		return usageErr("bench: -batch %d -steps %d -warmup %d -threads %d: want batch >= 2, steps >= 1, warmup and threads >= 0", *batch, *steps, *warmup, *threads)
	}
	// the backend's notes (a convolution's fallback, say), printed after
	// the model's row, each as a comment line
	var notes []string
	flush := func(prefix string) {
		for _, n := range notes {
			fmt.Fprintf(stdout, "# %s%s\n", prefix, n)
		}
		notes = notes[:0]
	}
	open := func() (gpu.Backend, error) {
		b, note, err := backends.Open(*backend, gpu.Options{Threads: *threads, StrictFP32: *strict, NoGraphs: !*graphs, ConvAlgos: *convAlgos,
			WGradStream: *wgradStream, OurBatchNorm: *ourBN, Log: func(s string) { notes = append(notes, s) }})
		if err != nil {
			return nil, usageErr("%v", err)
		}
		if note != "" {
			fmt.Fprintln(stderr, note)
		}
		return b, nil
	}
	// each model gets a fresh backend, so that its memory figure is its own
	b, err := open()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "#", b.Describe())
	flush("")
	if *fused {
		fmt.Fprintln(stdout, "# each batch norm's ReLU (and a ResNet block's shortcut add) fused into it")
	} else {
		fmt.Fprintln(stdout, "# each batch norm's ReLU and shortcut add as ops of their own (-fused-relu=false)")
	}
	if !*shared {
		fmt.Fprintln(stdout, "# DenseNet: every batch norm computes its own statistics (-shared-bn-stats=false)")
	}
	if *packed {
		fmt.Fprintln(stdout, "# DenseNet: each layer's new channels written and their gradient read packed, then copied (-packed-growth)")
	}
	b.Close()
	fmt.Fprintf(stdout, "%-8s %-16s %6s %10s %12s %10s %10s %10s %10s %10s %10s %8s %12s\n", "backend", "model", "batch", "params", "median img/s", "step ms", "issue ms", "piped/s", "eval/s", "164ep min", "GFLOP/s", "MiB", "allocs/step")
	for _, m := range strings.Split(*models, ",") {
		m = strings.TrimSpace(m)
		b, err := open()
		if err != nil {
			return err
		}
		cfg := train.BenchConfig(m, *batch)
		cfg.UnfusedReLU = !*fused
		cfg.PerLayerBNStats = !*shared
		cfg.PackedGrowth = *packed
		r, err := train.Bench(b, cfg, *warmup, *steps)
		if rep, ok := b.(gpu.Reporter); ok && err == nil {
			notes = append(notes, rep.Report())
		}
		b.Close()
		if err != nil {
			flush(b.Name() + " " + m + ": ") // a fallback's reason may explain it
			return fmt.Errorf("bench %s: %w", m, err)
		}
		fmt.Fprintf(stdout, "%-8s %-16s %6d %10d %12.1f %10.2f %10.2f %10.1f %10.1f %10.1f %10.1f %8.0f %12.1f\n", b.Name(), m, r.Batch, r.Params,
			r.ImagesPerSec, 1000*r.MedianSeconds, 1000*r.IssueSeconds, r.PipelinedImagesPerSec, r.EvalImagesPerSec, r.ScheduleSeconds(164, 50000, 10000)/60, r.TrainGFLOPs, float64(r.MemoryBytes)/(1<<20), r.AllocsPerStep)
		notes = append(notes, r.Notes...)
		flush(b.Name() + " " + m + ": ")
		if *prof {
			if b, err = open(); err != nil {
				return err
			}
			p, err := train.BenchProfile(b, cfg, *warmup, *steps)
			b.Close()
			if err != nil {
				return fmt.Errorf("bench -profile %s: %w", m, err)
			}
			fmt.Fprintf(stdout, "# %s, %s: where a step's time goes (%d steps, every op waited for)\n", b.Name(), m, *steps)
			p.Write(stdout, *steps)
			flush(b.Name() + " " + m + " (profile): ")
		}
	}
	return nil
}
