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
	threads              int
	list, dryRun, dl     bool
	strictFP32, determin bool
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
	var o options
	fs := flag.NewFlagSet("repro", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.exp, "exp", "", "experiment to run (see -list)")
	fs.StringVar(&o.cell, "cell", "", "run only this cell of the experiment")
	fs.StringVar(&o.config, "config", "experiments.toml", "experiment matrix file")
	fs.StringVar(&o.dataPath, "data", os.Getenv("REPRO_DATA"), "CIFAR-10: the binary release (folder or cifar-10-binary.tar.gz) or an image folder train/<class>/*.png (default $REPRO_DATA, else the cached download)")
	fs.StringVar(&o.cache, "cache", defaultCache(), "folder for the downloaded data set")
	fs.BoolVar(&o.dl, "download", false, "download the official CIFAR-10 binary release into -cache if it is not there")
	fs.StringVar(&o.out, "out", "runs", "output folder; each run writes OUT/EXPERIMENT/CELL/")
	fs.StringVar(&o.backend, "backend", "auto", "auto (cuda when available, else cpu), cpu or cuda")
	fs.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.BoolVar(&o.list, "list", false, "list the experiments")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print each cell's resolved recipe and stop")
	fs.BoolVar(&o.strictFP32, "strict-fp32", false, "cuda: no TF32 tensor-core math in convolutions")
	fs.BoolVar(&o.determin, "deterministic", false, "cuda: only deterministic algorithms")
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
	for i := range cells {
		for _, kv := range o.sets {
			if err := cells[i].Config.Set(kv); err != nil {
				return &exitError{code: 2, err: err}
			}
		}
		if err := cells[i].Config.Validate(); err != nil {
			return usageErr("experiment %s, cell %s (after -set): %v", exp.Name, cells[i].Name, err)
		}
	}
	if o.dryRun {
		for _, c := range cells {
			fmt.Fprintf(stdout, "# %s/%s -> %s\n%s\n", exp.Name, c.Name, filepath.Join(o.out, exp.Name, c.Name), c.Config.TOML())
		}
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	disp := newDisplay(stderr)
	src, err := loadData(ctx, o, disp)
	if err != nil {
		return err
	}
	b, note, err := backends.Open(o.backend, gpu.Options{
		Threads: o.threads, StrictFP32: o.strictFP32, Deterministic: o.determin, Log: disp.log,
	})
	if err != nil {
		return usageErr("%v", err)
	}
	defer b.Close()
	if note != "" {
		disp.log(note)
	}
	disp.log(b.Describe())

	type outcome struct {
		name string
		res  *train.Result
	}
	var done []outcome
	for _, c := range cells {
		r := &train.Run{
			Name: exp.Name + "/" + c.Name, Dir: filepath.Join(o.out, exp.Name, c.Name),
			Config: c.Config, Backend: b, Source: src, Progress: disp, Log: disp.log,
		}
		res, err := r.Execute(ctx)
		if err != nil {
			return err
		}
		if res.AlreadyDone {
			disp.log(fmt.Sprintf("%s: already finished (%d epochs) in %s", r.Name, res.ResumedFrom, r.Dir))
		}
		done = append(done, outcome{r.Name, res})
	}
	fmt.Fprintf(stdout, "%-28s %8s %16s %11s\n", "run", "test err", "best (epoch)", "train loss")
	for _, d := range done {
		best, at := 101.0, 0
		for _, row := range d.res.Rows {
			if row.TestError < best {
				best, at = row.TestError, row.Epoch
			}
		}
		f := d.res.Final()
		fmt.Fprintf(stdout, "%-28s %7.2f%% %9.2f%% (%3d) %11.4f\n", d.name, f.TestError, best, at, f.TrainLoss)
	}
	return nil
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
	d.clear()
	fmt.Fprintln(d.w, line)
}

func (d *display) Step(s train.Status) {
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
