// Command repro trains the CIFAR-10 ResNets and DenseNets of the papers and
// the write-up's ablations from an experiment matrix (experiments.toml).
//
//	repro -list                      the experiments, one line each
//	repro -exp quickstart            run every cell of an experiment
//	repro -exp sgd_vs_adam -cell sgd run one cell
//	repro -exp NAME -set epochs=2    override recipe keys (repeatable)
//	repro -exp NAME -dry-run         print each cell's resolved recipe
//	repro bench [-models resnet20]   training images/s of each model
//
// Exit status: 0 done, 1 a run failed, 2 bad command line or input,
// 130 interrupted (rerun the same command to resume).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"repro/data"
	"repro/gpu"
	"repro/gpu/backends"
	"repro/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit status with its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	exp, cell, config    string
	dataPath, cache, out string
	backend              string
	threads, seeds       int
	shard, devices       string
	list, dryRun, dl     bool
	graphs               bool
	strictFP32, determin bool
	convAlgos            string
	sets                 setFlags
}

func run(args []string, stdout, stderr io.Writer) int {
	err := mainErr(args, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "repro:", err)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, train.ErrInterrupted):
		return 130
	}
	return 1
}

func defaultCache() string {
	if d := os.Getenv("REPRO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "repro")
	}
	return ".repro-cache"
}

func mainErr(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "bench" {
		return benchMain(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "report" {
		return reportMain(args[1:], stdout, stderr)
	}
	var o options
	fs := flag.NewFlagSet("repro", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.exp, "exp", "", "experiment to run (see -list)")
	fs.StringVar(&o.cell, "cell", "", "run only this cell of the experiment")
	fs.StringVar(&o.config, "config", "experiments.toml", "experiment matrix file")
	fs.StringVar(&o.dataPath, "data", os.Getenv("REPRO_DATA"), "CIFAR-10: the binary release (folder or cifar-10-binary.tar.gz) or an image folder train/<class>/*.png (default $REPRO_DATA, else the cached download)")
	fs.StringVar(&o.cache, "cache", defaultCache(), "folder for the downloaded data set")
	fs.BoolVar(&o.dl, "download", os.Getenv("REPRO_DOWNLOAD") == "1", "download the official CIFAR-10 binary release into -cache if it is not there (default true when $REPRO_DOWNLOAD is 1)")
	fs.StringVar(&o.out, "out", "runs", "output folder; each run writes OUT/EXPERIMENT/CELL/")
	fs.StringVar(&o.backend, "backend", "auto", "auto (cuda when available, else cpu), cpu or cuda")
	fs.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.BoolVar(&o.list, "list", false, "list the experiments")
	fs.IntVar(&o.seeds, "seeds", 0, "runs per cell with seeds seed, seed+1, ... (0: as experiments.toml says)")
	fs.StringVar(&o.shard, "shard", "", "I/N: run only runs I, I+N, I+2N, ... (0-based) of the experiment, to split it over array jobs")
	fs.StringVar(&o.devices, "devices", "", "cuda: comma-separated GPU ordinals; runs go in parallel, one per GPU")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print each cell's resolved recipe and stop")
	fs.BoolVar(&o.strictFP32, "strict-fp32", false, "cuda: no TF32 tensor-core math in convolutions")
	fs.BoolVar(&o.determin, "deterministic", false, "cuda: only deterministic algorithms")
	fs.StringVar(&o.convAlgos, "conv-algos", "legacy", "cuda: where convolution algorithms come from: legacy (cudnnFind), graph (cuDNN backend API engines, TF32 tensor cores) or all (both, the fastest wins)")
	fs.BoolVar(&o.graphs, "graphs", true, "cuda: replay each training step and evaluation batch as a CUDA graph (false: issue every op one by one)")
	fs.Var(&o.sets, "set", "override a recipe key for every cell, key=value in TOML syntax (repeatable), e.g. -set epochs=2 -set optimizer.lr=0.05")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: repro -list | repro -exp NAME [-cell CELL] [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (flags go before it? see -h)", fs.Arg(0))
	}
	if o.threads < 0 {
		return usageErr("-threads %d: want 0 (all cores) or more", o.threads)
	}
	if err := gpu.CheckConvAlgos(o.convAlgos); err != nil {
		return usageErr("%v", err)
	}
	if o.seeds < 0 || o.seeds > 100 {
		return usageErr("-seeds %d: want 1..100 (0: as the matrix says)", o.seeds)
	}
	shardI, shardN, err := parseShard(o.shard)
	if err != nil {
		return err
	}
	devices, err := parseDevices(o.devices, o.backend)
	if err != nil {
		return err
	}
	if !slices.Contains(backends.Names(), o.backend) {
		return usageErr("-backend %q: want %s", o.backend, strings.Join(backends.Names(), ", "))
	}
	text, err := os.ReadFile(o.config)
	if err != nil {
		return usageErr("-config %s: %v", o.config, errors.Unwrap(err))
	}
	exps, err := train.ParseExperiments(o.config, text)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if o.list {
		for _, e := range exps {
			fmt.Fprintf(stdout, "%-22s %2d cells  %s\n", e.Name, len(e.Cells), e.Description)
		}
		return nil
	}
	if o.exp == "" {
		return usageErr("no -exp given: pick one of %s (or -list)", names(exps))
	}
	var exp *train.Experiment
	for i := range exps {
		if exps[i].Name == o.exp {
			exp = &exps[i]
		}
	}
	if exp == nil {
		return usageErr("-exp %q: not in %s; have %s", o.exp, o.config, names(exps))
	}
	// -set and -seeds apply to every cell, also those that -cell leaves
	// out, so that the summary describes the runs as they are on disk.
	exp.Cells = slices.Clone(exp.Cells)
	for i := range exp.Cells {
		c := &exp.Cells[i]
		for _, kv := range o.sets {
			if err := c.Config.Set(kv); err != nil {
				return &exitError{code: 2, err: err}
			}
		}
		if err := c.Config.Validate(); err != nil {
			return usageErr("experiment %s, cell %s (after -set): %v", exp.Name, c.Name, err)
		}
		if o.seeds > 0 {
			c.Seeds = o.seeds
		}
	}
	cells := exp.Cells
	if o.cell != "" {
		cells = nil
		var have []string
		for _, c := range exp.Cells {
			have = append(have, c.Name)
			if c.Name == o.cell {
				cells = []train.Cell{c}
			}
		}
		if cells == nil {
			return usageErr("-cell %q: experiment %s has %s", o.cell, exp.Name, strings.Join(have, ", "))
		}
	}
	selected := *exp
	selected.Cells = cells
	var runs []train.RunSpec
	for k, r := range selected.Runs() {
		if k%shardN == shardI {
			runs = append(runs, r)
		}
	}
	expDir := filepath.Join(o.out, exp.Name)
	if o.dryRun {
		for _, r := range runs {
			fmt.Fprintf(stdout, "# %s/%s -> %s\n%s\n", exp.Name, r.Dir, filepath.Join(expDir, r.Dir), r.Config.TOML())
		}
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	disp := newDisplay(stderr)
	if len(devices) > 1 {
		disp.tty = false // several runs at once: one line per epoch each
	}
	src, err := loadData(ctx, o, disp)
	if err != nil {
		return err
	}
	open := func(device int) (gpu.Backend, error) {
		b, note, err := backends.Open(o.backend, gpu.Options{
			Threads: o.threads, Device: device, StrictFP32: o.strictFP32, Deterministic: o.determin, NoGraphs: !o.graphs, ConvAlgos: o.convAlgos,
			Log: disp.log,
		})
		if err != nil {
			return nil, usageErr("%v", err)
		}
		if note != "" {
			disp.log(note)
		}
		disp.log(b.Describe())
		return b, nil
	}
	var reportMu sync.Mutex
	runErr := runAll(ctx, runs, devices, func(device int, r train.RunSpec, open func() (gpu.Backend, error)) error {
		run := &train.Run{
			Name: exp.Name + "/" + r.Dir, Dir: filepath.Join(expDir, r.Dir),
			Config: r.Config, Source: src, Progress: disp, Log: disp.log,
		}
		var res *train.Result
		var err error
		if train.Finished(run.Dir, run.Config) {
			// no backend to open (a GPU context, library handles) for a run
			// that is done: resuming an experiment skips them quickly
			res = &train.Result{AlreadyDone: true}
		} else if run.Backend, err = open(); err == nil {
			res, err = run.Execute(ctx)
			// closing frees everything the run planned (a DenseNet-BC-100
			// holds 3.6 GB of GPU memory) before the next run plans
			err = errors.Join(err, run.Backend.Close())
		}
		switch {
		case errors.Is(err, train.ErrBusy):
			disp.log(fmt.Sprintf("%s: skipped: %v", run.Name, err))
			return nil
		case err != nil:
			return err
		case res.AlreadyDone:
			disp.log(fmt.Sprintf("%s: already finished (%d epochs) in %s", run.Name, run.Config.Epochs, run.Dir))
		}
		// refresh the experiment's summary and plots after every run
		reportMu.Lock()
		defer reportMu.Unlock()
		if err := writeReport(*exp, expDir, nil); err != nil {
			disp.log("report: " + err.Error())
		}
		return nil
	}, open)
	if runErr != nil {
		return runErr
	}
	return writeReport(*exp, expDir, stdout)
}

// parseShard reads -shard I/N.
func parseShard(s string) (i, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || n < 1 || i < 0 || i >= n || fmt.Sprintf("%d/%d", i, n) != s {
		return 0, 0, usageErr("-shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// parseDevices reads -devices; without it every run goes to device 0.
func parseDevices(s, backend string) ([]int, error) {
	if s == "" {
		return []int{0}, nil
	}
	if backend == "cpu" {
		return nil, usageErr("-devices %q: the cpu backend runs one cell at a time (use -threads)", s)
	}
	var ds []int
	for _, f := range strings.Split(s, ",") {
		var d int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &d); err != nil || d < 0 || slices.Contains(ds, d) {
			return nil, usageErr("-devices %q: want distinct GPU ordinals such as 0,1,2,3", s)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// runAll runs the runs in order, in parallel across devices: each device's
// goroutine takes the next run and gives do a function that opens a fresh
// backend on its device (do closes it). The first error stops the others.
func runAll(ctx context.Context, runs []train.RunSpec, devices []int, do func(int, train.RunSpec, func() (gpu.Backend, error)) error, open func(int) (gpu.Backend, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan train.RunSpec, len(runs))
	for _, r := range runs {
		queue <- r
	}
	close(queue)
	errs := make(chan error, len(devices))
	for _, d := range devices {
		go func() {
			openHere := func() (gpu.Backend, error) { return open(d) }
			for r := range queue {
				if ctx.Err() != nil {
					break
				}
				if err := do(d, r, openHere); err != nil {
					cancel()
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range devices {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func names(exps []train.Experiment) string {
	var n []string
	for _, e := range exps {
		n = append(n, e.Name)
	}
	return strings.Join(n, ", ")
}

// loadData finds and reads the data set: -data, else the cached download,
// else a download when -download is given.
func loadData(ctx context.Context, o options, disp *display) (train.Source, error) {
	path := o.dataPath
	if path == "" {
		cached := filepath.Join(o.cache, "cifar-10-binary.tar.gz")
		if _, err := os.Stat(cached); err == nil {
			path = cached
		} else if o.dl {
			p, err := data.Download(ctx, o.cache, disp.w)
			if err != nil {
				return train.Source{}, fmt.Errorf("-download: %w", err)
			}
			path = p
		} else {
			return train.Source{}, usageErr("no data: pass -data PATH (the CIFAR-10 binary release, its folder, or an image folder) or -download to fetch the official release into %s", o.cache)
		}
	}
	start := time.Now()
	tr, te, err := data.Open(path)
	if err != nil {
		return train.Source{}, &exitError{code: 2, err: fmt.Errorf("-data: %w", err)}
	}
	disp.log(fmt.Sprintf("data: %s: %d training and %d test images (%.1f s)", path, tr.N, te.N, time.Since(start).Seconds()))
	return train.Source{Train: tr, Test: te}, nil
}

// display shows progress on a terminal as one line redrawn in place, and as
// one line per epoch elsewhere.
type display struct {
	mu      sync.Mutex // runs on several GPUs report at once
	w       io.Writer
	tty     bool
	drawn   bool
	started time.Time
}

func newDisplay(w io.Writer) *display {
	d := &display{w: w, started: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		d.tty = true
	}
	return d
}

func (d *display) clear() {
	if d.drawn {
		fmt.Fprint(d.w, "\r\x1b[K")
		d.drawn = false
	}
}

func (d *display) log(line string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	fmt.Fprintln(d.w, line)
}

func (d *display) Step(s train.Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.tty {
		return
	}
	const width = 20
	fill := width * s.Step / max(1, s.Steps)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	fmt.Fprintf(d.w, "\r\x1b[K%s epoch %d/%d [%s] %d/%d loss %.4f err %.2f%% %.0f img/s ETA %s",
		s.Run, s.Epoch, s.Epochs, bar, s.Step, s.Steps, s.Loss, s.Error, s.ImagesPerSec, fmtDuration(s.ETA))
	d.drawn = true
}

func (d *display) Epoch(run string, r train.EpochRow, epochs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	val := ""
	if r.ValError > 0 || r.ValLoss > 0 {
		val = fmt.Sprintf(" | val loss %.4f err %.2f%%", r.ValLoss, r.ValError)
	}
	fmt.Fprintf(d.w, "%s epoch %d/%d lr %g | train loss %.4f err %.2f%% | test loss %.4f err %.2f%%%s | %.1f s, %.0f img/s\n",
		run, r.Epoch, epochs, r.LR, r.TrainLoss, r.TrainError, r.TestLoss, r.TestError, val, r.Seconds, r.ImagesPerSec)
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}
