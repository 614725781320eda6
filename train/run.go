// Package train runs training: the epoch loop with evaluation, optimizers
// (SGD with momentum, Nesterov and dampening; Adam; AdamW) with a weight-decay
// mask, learning-rate schedules, per-epoch metrics, atomic checkpoints and
// resume, and the experiment matrix read from experiments.toml.
//
// Contract: a run lives in one folder holding config.toml (the resolved
// recipe), metrics.csv (one row per finished epoch) and checkpoint.bin.
// Running the same recipe into the same folder again continues after the last
// finished epoch and ends with the same numbers as an uninterrupted run; a
// different recipe there is an error, never an overwrite. The final-epoch test
// error is the headline number.
package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"repro/gpu"
	"repro/model"
)

// EpochRow is one line of metrics.csv. Errors are in percent.
type EpochRow struct {
	Epoch               int // 1-based
	LR                  float64
	TrainLoss           float64
	TrainError          float64
	TestLoss, TestError float64
	ValLoss, ValError   float64 // 0 without a validation split
	Seconds             float64 // wall time of the epoch, evaluation included
	ImagesPerSec        float64 // training throughput
}

// Status is what a progress display shows during an epoch.
type Status struct {
	Run          string
	Epoch        int // 1-based
	Epochs       int
	Step, Steps  int // within the epoch
	Loss         float64
	Error        float64 // percent
	ImagesPerSec float64
	ETA          time.Duration // for the rest of the run
}

// Progress receives a run's progress; Step is called at most a few times a
// second.
type Progress interface {
	Step(Status)
	Epoch(run string, row EpochRow, epochs int)
}

// Run is one training run.
type Run struct {
	Name     string // for display, e.g. "sgd_vs_adam/sgd"
	Dir      string
	Config   Config
	Backend  gpu.Backend
	Source   Source
	Progress Progress     // nil: quiet
	Log      func(string) // nil: quiet
}

// Result is a run's outcome.
type Result struct {
	Rows        []EpochRow
	ResumedFrom int  // finished epochs found in the folder
	AlreadyDone bool // the folder held a finished run
}

// Final is the last row.
func (r *Result) Final() EpochRow {
	if len(r.Rows) == 0 {
		return EpochRow{}
	}
	return r.Rows[len(r.Rows)-1]
}

// ErrInterrupted is returned (wrapped) when ctx ends a run early.
var ErrInterrupted = errors.New("interrupted")

// ErrBusy is returned (wrapped) when another live process is training in the
// run's folder.
var ErrBusy = errors.New("in use by another process")

func (r *Run) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, args...))
	}
}

// Finished reports whether dir holds a finished run of cfg (a valid
// checkpoint of this recipe at its last epoch), so that a caller can skip it
// without opening a backend; Execute makes the same check under the lock.
func Finished(dir string, cfg Config) bool {
	ck, err := readCheckpoint(filepath.Join(dir, CheckpointFile))
	return err == nil && ck != nil && ck.ConfigHash == cfg.Hash() && ck.Epoch >= cfg.Epochs
}

// Execute trains, resuming from the folder's checkpoint when there is one.
func (r *Run) Execute(ctx context.Context) (*Result, error) {
	cfg := r.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(r.Dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := claimConfig(r.Dir, cfg); err != nil {
		return nil, err
	}
	ckPath := filepath.Join(r.Dir, CheckpointFile)
	ck, err := readCheckpoint(ckPath)
	if err != nil {
		return nil, fmt.Errorf("%w (remove it to start this run afresh)", err)
	}
	res := &Result{}
	if ck != nil {
		if ck.ConfigHash != cfg.Hash() {
			return nil, fmt.Errorf("%s: belongs to another recipe than %s/config.toml", ckPath, r.Dir)
		}
		res.ResumedFrom, res.Rows = ck.Epoch, ck.Rows
		if ck.Epoch >= cfg.Epochs {
			res.AlreadyDone = true
			return res, nil
		}
	}

	t, err := newTrainer(r.Backend, r.Source, cfg)
	if err != nil {
		return nil, err
	}
	defer t.close()
	t.run = r
	net, dev := t.net, t.dev
	planned := r.Backend.MemoryInUse()
	r.logf("%s: %s memory in use after planning (weights, data set, activations): %.0f MiB", r.Name, r.Backend.Name(), float64(planned)/(1<<20))
	step := 0
	if ck != nil {
		if err := t.restore(ck); err != nil {
			return nil, fmt.Errorf("%s: %w", ckPath, err)
		}
		step = ck.Step
		r.logf("%s: resuming after epoch %d of %d", r.Name, ck.Epoch, cfg.Epochs)
	} else if err := net.Init(gpu.Mix(cfg.Seed, 0x1417)); err != nil {
		return nil, err
	}
	if err := WriteMetrics(filepath.Join(r.Dir, MetricsFile), res.Rows, dev.nVal > 0); err != nil {
		return nil, err
	}
	for epoch := res.ResumedFrom; epoch < cfg.Epochs; epoch++ {
		row, err := t.epoch(ctx, epoch, &step)
		if err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, row)
		if rep, ok := r.Backend.(gpu.Reporter); ok && epoch == res.ResumedFrom {
			// after a first epoch every op has been planned
			r.logf("%s: %s %s", r.Name, r.Backend.Name(), rep.Report())
		}
		if used := r.Backend.MemoryInUse(); used > planned {
			// convolution workspaces are sized by the algorithm searches of the first step
			r.logf("%s: %s memory in use after the first steps: %.0f MiB", r.Name, r.Backend.Name(), float64(used)/(1<<20))
			planned = used
		}
		ck := &checkpoint{ConfigHash: cfg.Hash(), Epoch: epoch + 1, Step: step, Rows: res.Rows}
		if ck.Arrays, err = t.snapshot(); err != nil {
			return res, err
		}
		if err := WriteAtomic(ckPath, ck.encode()); err != nil {
			return res, err
		}
		if err := WriteMetrics(filepath.Join(r.Dir, MetricsFile), res.Rows, dev.nVal > 0); err != nil {
			return res, err
		}
		if r.Progress != nil {
			r.Progress.Epoch(r.Name, row, cfg.Epochs)
		}
	}
	return res, nil
}

// trainer holds a run's planned state; a step allocates nothing.
type trainer struct {
	run   *Run
	cfg   Config
	b     gpu.Backend
	net   *model.Net
	dev   *device
	opt   *optimizer
	order gpu.IntSlice // training pool order of the current pass
	ident gpu.IntSlice // 0, 1, 2, ... for evaluation
	label gpu.IntSlice
	// trainMet and evalMet accumulate loss sum, errors and count on the device
	trainMet, evalMet gpu.Slice
	hostOrder         []int32
	hostMet           []float32
	gradScale         float32
	// the training step's forward and backward, and an evaluation batch's
	// forward, recorded once (CUDA graphs) and replayed; see replayable
	trainOps, evalOps replayable
	// the method values are made once, as making them per step would
	// allocate
	forwardBackwardFn, evalForwardFn func() error
	// notes keep logf's lines when no Run prints them (Bench)
	notes []string
}

// forwardBackward is the part of a training step that a recording can
// replay: zero the gradients, forward, loss, backward.
func (t *trainer) forwardBackward() error {
	b, net := t.b, t.net
	if err := b.Zero(net.Grads); err != nil {
		return err
	}
	if err := net.Forward(true); err != nil {
		return err
	}
	if err := b.SoftmaxCrossEntropy(net.DLogits, t.trainMet, net.Logits, t.label, t.gradScale); err != nil {
		return err
	}
	return net.Backward()
}

// evalForward is an evaluation batch's forward and loss.
func (t *trainer) evalForward() error {
	if err := t.net.Forward(false); err != nil {
		return err
	}
	return t.b.SoftmaxCrossEntropy(gpu.Tensor{}, t.evalMet, t.net.Logits, t.label, 0)
}

func (t *trainer) logf(format string, args ...any) {
	if t.run != nil {
		t.run.logf(format, args...)
		return
	}
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// replayable runs a fixed sequence of ops directly the first time (ops
// plan on first use: convolutions search their algorithms), records it on
// the second if the backend is a gpu.Recorder, and replays the recording
// from then on. If recording fails, it runs the ops directly for good and
// says why once.
type replayable struct {
	direct int // runs so far without a recording
	off    bool
	rec    gpu.Recording
}

// close destroys the recording, if any (a backend whose recordings are all
// closed may plan other ops again, for another run).
func (p *replayable) close() error {
	if p.rec == nil {
		return nil
	}
	err := p.rec.Close()
	p.rec = nil
	return err
}

// close destroys the trainer's recordings.
func (t *trainer) close() error { return errors.Join(t.trainOps.close(), t.evalOps.close()) }

func (p *replayable) run(b gpu.Backend, logf func(string, ...any), what string, ops func() error) error {
	if p.rec != nil {
		return p.rec.Replay()
	}
	r, ok := b.(gpu.Recorder)
	if !ok || p.off || p.direct == 0 {
		p.direct++
		return ops()
	}
	rec, err := r.Record(ops)
	if err != nil {
		p.off = true
		if !errors.Is(err, gpu.ErrRecordingOff) {
			logf("%s: running ops one by one: %v", what, err)
		}
		return ops()
	}
	p.rec = rec
	return rec.Replay()
}

// newTrainer plans cfg's model, data and optimizer on b.
func newTrainer(b gpu.Backend, src Source, cfg Config) (*trainer, error) {
	mcfg, err := cfg.ModelConfig()
	if err != nil {
		return nil, err
	}
	net, err := model.New(b, mcfg, cfg.Batch)
	if err != nil {
		return nil, err
	}
	dev, err := upload(b, src, cfg)
	if err != nil {
		return nil, err
	}
	opt, err := newOptimizer(b, net, cfg.Optimizer)
	if err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, b: b, net: net, dev: dev, opt: opt, gradScale: 1 / float32(cfg.Batch)}
	t.forwardBackwardFn, t.evalForwardFn = t.forwardBackward, t.evalForward
	if err := t.alloc(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *trainer) alloc() error {
	var err error
	b := t.b
	if t.order, err = b.AllocInt(t.dev.pool); err != nil {
		return err
	}
	nEval := max(t.dev.nTest, t.dev.nVal)
	if t.ident, err = b.AllocInt(nEval); err != nil {
		return err
	}
	ident := make([]int32, nEval)
	for i := range ident {
		ident[i] = int32(i)
	}
	if err := b.UploadInt(t.ident, ident); err != nil {
		return err
	}
	if t.label, err = b.AllocInt(t.cfg.Batch); err != nil {
		return err
	}
	if t.trainMet, err = b.Alloc(3); err != nil {
		return err
	}
	if t.evalMet, err = b.Alloc(3); err != nil {
		return err
	}
	t.hostOrder = make([]int32, t.dev.pool)
	t.hostMet = make([]float32, 3)
	return nil
}

// arrays lists the device buffers a checkpoint holds, in file order.
func (t *trainer) arrays() []gpu.Slice {
	return append([]gpu.Slice{t.net.Params, t.net.State}, t.opt.state()...)
}

func (t *trainer) snapshot() ([][]float32, error) {
	var out [][]float32
	for _, s := range t.arrays() {
		h := make([]float32, s.Len)
		if err := t.b.Download(h, s); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		out = append(out, h)
	}
	return out, nil
}

func (t *trainer) restore(ck *checkpoint) error {
	dst := t.arrays()
	if len(ck.Arrays) != len(dst) {
		return fmt.Errorf("holds %d arrays, this run has %d", len(ck.Arrays), len(dst))
	}
	for i, s := range dst {
		if len(ck.Arrays[i]) != s.Len {
			return fmt.Errorf("array %d holds %d values, this run has %d", i, len(ck.Arrays[i]), s.Len)
		}
		if err := t.b.Upload(s, ck.Arrays[i]); err != nil {
			return err
		}
	}
	return nil
}

// shuffle fills hostOrder with a permutation of the pool drawn from key.
func (t *trainer) shuffle(key uint64) {
	o := t.hostOrder
	for i := range o {
		o[i] = int32(i)
	}
	for i := len(o) - 1; i > 0; i-- {
		j := int(gpu.Mix(key, uint64(i)) % uint64(i+1))
		o[i], o[j] = o[j], o[i]
	}
}

func (t *trainer) readMetrics(s gpu.Slice) (loss, errPct float64, err error) {
	if err := t.b.Download(t.hostMet, s); err != nil {
		return 0, 0, err
	}
	n := float64(t.hostMet[2])
	if n == 0 {
		return 0, 0, nil
	}
	return float64(t.hostMet[0]) / n, 100 * float64(t.hostMet[1]) / n, nil
}

// epoch runs training epoch e (0-based) and its evaluation.
func (t *trainer) epoch(ctx context.Context, e int, step *int) (EpochRow, error) {
	cfg, b := t.cfg, t.b
	start := time.Now()
	row := EpochRow{Epoch: e + 1, LR: learningRate(cfg, e, *step)}
	if err := b.Zero(t.trainMet); err != nil {
		return row, err
	}
	passes := cfg.Augment.Passes
	stepsPerPass := t.dev.pool / cfg.Batch
	steps := passes * stepsPerPass
	lastShown := time.Time{}
	for pass := 0; pass < passes; pass++ {
		passIndex := uint64(e*passes + pass)
		t.shuffle(gpu.Mix(gpu.Mix(cfg.Seed, 0x0bde), passIndex))
		if err := b.UploadInt(t.order, t.hostOrder); err != nil {
			return row, err
		}
		aug := t.dev.aug
		aug.Epoch = int(passIndex)
		for s := 0; s < stepsPerPass; s++ {
			if err := ctx.Err(); err != nil {
				return row, fmt.Errorf("%s: %w in epoch %d; %d finished epochs are saved, run the same command again to resume", t.run.Name, ErrInterrupted, e+1, e)
			}
			if err := t.step(e, s, aug, step); err != nil {
				return row, err
			}
			done := pass*stepsPerPass + s + 1
			if t.run.Progress != nil && (time.Since(lastShown) > 250*time.Millisecond || done == steps) {
				lastShown = time.Now()
				loss, errPct, err := t.readMetrics(t.trainMet)
				if err != nil {
					return row, err
				}
				elapsed := time.Since(start).Seconds()
				rate := float64(done*cfg.Batch) / elapsed
				left := float64((cfg.Epochs-e)*steps-done) * elapsed / float64(done)
				t.run.Progress.Step(Status{
					Run: t.run.Name, Epoch: e + 1, Epochs: cfg.Epochs, Step: done, Steps: steps,
					Loss: loss, Error: errPct, ImagesPerSec: rate, ETA: time.Duration(left * float64(time.Second)),
				})
			}
		}
	}
	var err error
	if row.TrainLoss, row.TrainError, err = t.readMetrics(t.trainMet); err != nil {
		return row, err
	}
	trainSecs := time.Since(start).Seconds()
	row.ImagesPerSec = float64(steps*cfg.Batch) / trainSecs
	if row.TestLoss, row.TestError, err = t.evaluate(t.dev.test, t.dev.nTest); err != nil {
		return row, err
	}
	if t.dev.val != nil {
		if row.ValLoss, row.ValError, err = t.evaluate(t.dev.val, t.dev.nVal); err != nil {
			return row, err
		}
	}
	row.Seconds = time.Since(start).Seconds()
	return row, nil
}

// step trains on batch s of the current pass order in epoch e (0-based) and
// counts it in *step; it allocates nothing.
func (t *trainer) step(e, s int, aug gpu.Augment, step *int) error {
	b, net := t.b, t.net
	lr := learningRate(t.cfg, e, *step)
	if err := b.BuildBatch(net.Input, t.label, t.dev.train, t.order, s*t.cfg.Batch, aug); err != nil {
		return err
	}
	// the dropout masks' seed, stored before the recorded step that reads it
	if err := net.SetSeed(gpu.Mix(t.cfg.Seed, uint64(*step))); err != nil {
		return err
	}
	if err := t.trainOps.run(b, t.logf, "training step", t.forwardBackwardFn); err != nil {
		return err
	}
	*step++
	return t.opt.step(lr, *step)
}

// evaluate returns the mean loss and the error (percent) on n images of ds,
// with running batch-norm statistics and no augmentation; the last batch is
// padded and the padding ignored.
func (t *trainer) evaluate(ds gpu.Dataset, n int) (float64, float64, error) {
	b, net := t.b, t.net
	if err := b.Zero(t.evalMet); err != nil {
		return 0, 0, err
	}
	order := t.ident.Sub(0, n)
	for start := 0; start < n; start += t.cfg.Batch {
		if err := b.BuildBatch(net.Input, t.label, ds, order, start, t.dev.plain); err != nil {
			return 0, 0, err
		}
		if err := t.evalOps.run(b, t.logf, "evaluation", t.evalForwardFn); err != nil {
			return 0, 0, err
		}
	}
	return t.readMetrics(t.evalMet)
}

// ConfigFile and MetricsFile are the names of a run folder's other files.
const (
	ConfigFile  = "config.toml"
	MetricsFile = "metrics.csv"
	lockFile    = ".lock"
)

// claimConfig writes config.toml, or checks that the one there is cfg's.
func claimConfig(dir string, cfg Config) error {
	path := filepath.Join(dir, ConfigFile)
	want := cfg.TOML()
	have, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return WriteAtomic(path, []byte(want))
	}
	if err != nil {
		return err
	}
	if string(have) == want {
		return nil
	}
	hl, wl := strings.Split(string(have), "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(hl), len(wl)); i++ {
		var h, w string
		if i < len(hl) {
			h = hl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if h != w {
			return fmt.Errorf("%s:%d: holds a run of another recipe (%q there, %q now); choose another output folder or remove this one", path, i+1, strings.TrimSpace(h), strings.TrimSpace(w))
		}
	}
	return nil
}

// lockDir makes sure one process at a time trains in dir. A lock left by a
// process that no longer runs is taken over.
func lockDir(dir string) (func(), error) {
	path := filepath.Join(dir, lockFile)
	for try := 0; try < 2; try++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		data, _ := os.ReadFile(path)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(data)))
		if perr == nil && pid > 0 && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			return nil, fmt.Errorf("%s: %w (pid %d)", dir, ErrBusy, pid)
		}
		if perr == nil && pid == os.Getpid() {
			return nil, fmt.Errorf("%s: the run is already open in this process", dir)
		}
		os.Remove(path) // stale
	}
	return nil, fmt.Errorf("%s: could not take the lock %s", dir, path)
}

// WriteMetrics writes rows as a run's metrics.csv at path, atomically, with
// the validation columns when withVal; ReadMetrics reads it back.
func WriteMetrics(path string, rows []EpochRow, withVal bool) error {
	var sb strings.Builder
	sb.WriteString("epoch,lr,train_loss,train_error,test_loss,test_error")
	if withVal {
		sb.WriteString(",val_loss,val_error")
	}
	sb.WriteString(",seconds,images_per_s\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%d,%g,%.5f,%.3f,%.5f,%.3f", r.Epoch, r.LR, r.TrainLoss, r.TrainError, r.TestLoss, r.TestError)
		if withVal {
			fmt.Fprintf(&sb, ",%.5f,%.3f", r.ValLoss, r.ValError)
		}
		fmt.Fprintf(&sb, ",%.1f,%.1f\n", r.Seconds, r.ImagesPerSec)
	}
	return WriteAtomic(path, []byte(sb.String()))
}

// ReadMetrics parses a metrics.csv written by a run (with or without the
// validation columns).
func ReadMetrics(path string) ([]EpochRow, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "epoch,lr,") {
		return nil, fmt.Errorf("%s: not a metrics.csv (no header)", path)
	}
	head := strings.Split(lines[0], ",")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, h := range []string{"epoch", "lr", "train_loss", "train_error", "test_loss", "test_error", "seconds", "images_per_s"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: header lacks %s", path, h)
		}
	}
	var rows []EpochRow
	for i, line := range lines[1:] {
		f := strings.Split(line, ",")
		if len(f) != len(head) {
			return nil, fmt.Errorf("%s:%d: %d fields, header has %d", path, i+2, len(f), len(head))
		}
		num := func(name string) float64 {
			j, ok := col[name]
			if !ok {
				return 0
			}
			v, perr := strconv.ParseFloat(f[j], 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("%s:%d: %s %q is not a number", path, i+2, name, f[j])
			}
			return v
		}
		r := EpochRow{Epoch: int(num("epoch")), LR: num("lr"), TrainLoss: num("train_loss"), TrainError: num("train_error"),
			TestLoss: num("test_loss"), TestError: num("test_error"), ValLoss: num("val_loss"), ValError: num("val_error"),
			Seconds: num("seconds"), ImagesPerSec: num("images_per_s")}
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}
