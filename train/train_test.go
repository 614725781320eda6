package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"repro/data"
	"repro/gpu"
	"repro/gpu/cpu/cputest"
)

// synthetic returns a small learnable data set: each class has its own
// colour, with noise.
func synthetic(n, size int, seed uint64) *data.Images {
	im := &data.Images{N: n, C: 3, Size: size, Classes: data.CIFAR10Classes()}
	im.Pixels = make([]uint8, n*3*size*size)
	im.Labels = make([]uint8, n)
	for i := 0; i < n; i++ {
		l := i % 10
		im.Labels[i] = uint8(l)
		px := im.Image(i)
		for c := 0; c < 3; c++ {
			base := float32((l*37+c*91)%256) * 0.8
			for p := 0; p < size*size; p++ {
				noise := 60 * gpu.Uniform(gpu.Mix(seed, uint64(i*3*size*size+c*size*size+p)))
				px[c*size*size+p] = uint8(base + noise)
			}
		}
	}
	return im
}

func tinyConfig() Config {
	c := Defaults()
	c.Model = "resnet8"
	c.Epochs = 3
	c.Batch = 16
	c.Schedule.Milestones = []int{2}
	return c
}

// tinyConfigWith is tinyConfig with each key=value of kv set.
func tinyConfigWith(t *testing.T, kv ...string) Config {
	t.Helper()
	c := tinyConfig()
	for _, s := range kv {
		if err := c.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// dropoutDenseNet are the keys of the small DenseNet with dropout that the
// seed, resume and recording tests train.
func dropoutDenseNet() []string {
	return []string{"model=densenet-bc10", "arch.growth=4", "arch.dropout=0.2"}
}

// interruptAt cancels the run at its first progress report of an epoch.
type interruptAt struct {
	epoch  int
	cancel context.CancelFunc
}

func (p *interruptAt) Step(s Status) {
	if s.Epoch == p.epoch {
		p.cancel()
	}
}
func (p *interruptAt) Epoch(string, EpochRow, int) {}

func sameRows(t *testing.T, a, b []EpochRow) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d rows vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Seconds, x.ImagesPerSec, y.Seconds, y.ImagesPerSec = 0, 0, 0, 0
		if x != y {
			t.Errorf("epoch %d differs:\n%+v\n%+v", i+1, a[i], b[i])
		}
	}
}

// TestResumeMatchesUninterrupted kills a run inside its second epoch, reruns
// it, and expects the numbers and the weights of a run never interrupted:
// for a ResNet on a static pool, and for a DenseNet with dropout, whose
// resumed steps must draw the masks the uninterrupted run drew.
func TestResumeMatchesUninterrupted(t *testing.T) {
	cfg := tinyConfig()
	cfg.Augment.Copies = 2 // static pool too
	t.Run("resnet8-static-pool", func(t *testing.T) { resumeMatchesUninterrupted(t, cfg, 160) })
	cfg = tinyConfigWith(t, dropoutDenseNet()...)
	t.Run("densenet-bc10-dropout", func(t *testing.T) { resumeMatchesUninterrupted(t, cfg, 64) })
}

func resumeMatchesUninterrupted(t *testing.T, cfg Config, trainImages int) {
	b := cputest.Open(t, gpu.Options{})
	src := Source{Train: synthetic(trainImages, 32, 1), Test: synthetic(40, 32, 2)}
	dirA, dirB := t.TempDir(), t.TempDir()

	a := &Run{Name: "a", Dir: dirA, Config: cfg, Backend: b, Source: src}
	resA, err := a.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(resA.Rows) != 3 {
		t.Fatalf("%d rows, want 3", len(resA.Rows))
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{Name: "b", Dir: dirB, Config: cfg, Backend: b, Source: src, Progress: &interruptAt{epoch: 2, cancel: cancel}}
	_, err = r.Execute(ctx)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: err %v, want ErrInterrupted", err)
	}
	csv, _ := os.ReadFile(filepath.Join(dirB, MetricsFile))
	if got := strings.Count(string(csv), "\n"); got != 2 {
		t.Fatalf("after the interruption metrics.csv has %d lines, want header + 1 epoch:\n%s", got, csv)
	}
	r.Progress = nil
	resB, err := r.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resB.ResumedFrom != 1 {
		t.Errorf("resumed from %d, want 1", resB.ResumedFrom)
	}
	sameRows(t, resA.Rows, resB.Rows)
	ckA, err := readCheckpoint(filepath.Join(dirA, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	ckB, err := readCheckpoint(filepath.Join(dirB, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ckA.Arrays, ckB.Arrays) || ckA.Step != ckB.Step {
		t.Error("resumed run ends with other weights or optimizer state than the uninterrupted one")
	}

	// A finished run is not trained again.
	again, err := (&Run{Name: "a", Dir: dirA, Config: cfg, Backend: b, Source: src}).Execute(context.Background())
	if err != nil || !again.AlreadyDone {
		t.Errorf("rerun of a finished run: done %v, err %v", again != nil && again.AlreadyDone, err)
	}
}

// TestLearnsSynthetic checks that the loop learns an easy problem, for
// every optimizer and the augmentation modes.
func TestLearnsSynthetic(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	src := Source{Train: synthetic(320, 32, 3), Test: synthetic(100, 32, 4)}
	for _, tc := range []struct {
		name string
		set  []string
	}{
		{"sgd-pad", nil},
		{"adam-resize", []string{`optimizer.name="adam"`, "optimizer.lr=0.003", `augment.crop="resize"`, `data.normalization="none"`}},
		{"adamw-none-pixelmean", []string{"optimizer.name=adamw", "optimizer.lr=0.003", "augment.crop=none", "data.normalization=pixel_mean", "data.validation=40"}},
		{"nesterov-densenet", []string{"model=densenet-bc10", "optimizer.nesterov=true", "arch.growth=4", "arch.dropout=0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfigWith(t, tc.set...)
			res, err := (&Run{Name: tc.name, Dir: t.TempDir(), Config: cfg, Backend: b, Source: src}).Execute(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			first, last := res.Rows[0], res.Final()
			if !(last.TrainLoss < first.TrainLoss) || last.TestError > 50 {
				t.Errorf("did not learn: %+v -> %+v", first, last)
			}
			if cfg.Data.Validation > 0 && last.ValLoss == 0 {
				t.Error("validation split set but no validation metrics")
			}
		})
	}
}

func TestRunFolderOfAnotherRecipe(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	src := Source{Train: synthetic(64, 32, 1), Test: synthetic(20, 32, 2)}
	dir := t.TempDir()
	cfg := tinyConfig()
	cfg.Epochs = 1
	if _, err := (&Run{Name: "x", Dir: dir, Config: cfg, Backend: b, Source: src}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, f := range []string{ConfigFile, MetricsFile, CheckpointFile} {
		before[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	cfg.Optimizer.LR = 0.05
	_, err := (&Run{Name: "x", Dir: dir, Config: cfg, Backend: b, Source: src}).Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), "config.toml") || !strings.Contains(err.Error(), "lr") {
		t.Fatalf("err %v, want one naming config.toml and the lr line", err)
	}
	for f, data := range before {
		now, _ := os.ReadFile(filepath.Join(dir, f))
		if string(now) != string(data) {
			t.Errorf("%s changed by the refused run", f)
		}
	}
}

func TestCorruptCheckpoint(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	src := Source{Train: synthetic(64, 32, 1), Test: synthetic(20, 32, 2)}
	dir := t.TempDir()
	cfg := tinyConfig()
	cfg.Epochs = 2
	cfg.Batch = 32
	run := &Run{Name: "x", Dir: dir, Config: cfg, Backend: b, Source: src}
	if _, err := run.Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, CheckpointFile)
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)/2], 0o644)
	_, err := run.Execute(context.Background())
	if err == nil || !strings.Contains(err.Error(), CheckpointFile) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("truncated checkpoint: err %v", err)
	}
}

func TestLockRefusesSecondProcess(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir); err == nil {
		t.Error("second lock of one folder succeeded")
	}
	unlock()
	// a lock left by a dead process is taken over
	os.WriteFile(filepath.Join(dir, lockFile), []byte("999999999\n"), 0o644)
	unlock, err = lockDir(dir)
	if err != nil {
		t.Fatalf("stale lock: %v", err)
	}
	unlock()
}

func TestLearningRate(t *testing.T) {
	c := Defaults()
	c.Epochs = 180
	c.Schedule.Milestones = []int{90, 135}
	for _, tc := range []struct {
		epoch, step int
		want        float64
	}{{0, 0, 0.1}, {89, 1e5, 0.1}, {90, 0, 0.01}, {134, 0, 0.01}, {135, 0, 0.001}} {
		if got := learningRate(c, tc.epoch, tc.step); !close(got, tc.want) {
			t.Errorf("epoch %d: lr %v, want %v", tc.epoch, got, tc.want)
		}
	}
	c.Schedule.WarmupIters, c.Schedule.WarmupLR = 400, 0.01
	if got := learningRate(c, 0, 399); got != 0.01 {
		t.Errorf("warm-up: %v", got)
	}
	if got := learningRate(c, 1, 400); got != 0.1 {
		t.Errorf("after warm-up: %v", got)
	}
	c.Epochs = 300
	c.Schedule.WarmupIters = 0
	c.Schedule.MilestoneFractions = []float64{0.5, 0.75}
	if got := learningRate(c, 149, 0); got != 0.1 {
		t.Errorf("fractions, epoch 149: %v", got)
	}
	if got := learningRate(c, 150, 0); !close(got, 0.01) {
		t.Errorf("fractions, epoch 150: %v", got)
	}
	c.Schedule.Kind = "constant"
	if got := learningRate(c, 299, 1e6); got != 0.1 {
		t.Errorf("constant: %v", got)
	}
}

func close(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

// TestStepAllocatesNothing runs training steps through the trainer's own
// step code and counts heap allocations after the first.
func TestStepAllocatesNothing(t *testing.T) {
	b := cputest.Open(t, gpu.Options{})
	src := Source{Train: synthetic(64, 32, 1), Test: synthetic(20, 32, 2)}
	for _, model := range []string{"resnet8", "densenet-bc10"} {
		cfg := tinyConfig()
		cfg.Model = model
		cfg.Batch = 8
		if model != "resnet8" {
			cfg.Arch.Dropout = new(float64)
			*cfg.Arch.Dropout = 0.2
		}
		tr, err := newTrainer(b, src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		step := 0
		one := func() {
			if err := tr.step(0, 0, tr.dev.aug, &step); err != nil {
				t.Fatal(err)
			}
		}
		one()
		if n := testing.AllocsPerRun(5, one); n != 0 {
			t.Errorf("%s: a training step allocates %v times", model, n)
		}
	}
}

func TestReadMetricsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := []EpochRow{{Epoch: 1, LR: 0.1, TrainLoss: 2.1, TrainError: 80, TestLoss: 1.9, TestError: 70, ValLoss: 2, ValError: 71, Seconds: 12.5, ImagesPerSec: 300}}
	for _, withVal := range []bool{false, true} {
		p := filepath.Join(dir, "m.csv")
		if err := WriteMetrics(p, rows, withVal); err != nil {
			t.Fatal(err)
		}
		got, err := ReadMetrics(p)
		if err != nil {
			t.Fatal(err)
		}
		want := rows[0]
		if !withVal {
			want.ValLoss, want.ValError = 0, 0
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("withVal %v: %+v, want %+v", withVal, got, want)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("epoch,lr,train_loss,train_error,test_loss,test_error,seconds,images_per_s\n1,0.1,x,1,1,1,1,1\n"), 0o644)
	if _, err := ReadMetrics(filepath.Join(dir, "bad.csv")); err == nil || !strings.Contains(err.Error(), "bad.csv:2") {
		t.Errorf("bad number: %v", err)
	}
}

// fakeRecorder gives the CPU backend gpu.Recorder's shape: a recording keeps
// the closure and a replay calls it again. That is the same arithmetic, so a
// run through it must equal a run without it, and the counts show that the
// trainer runs ops directly once, records once, and replays from then on.
type fakeRecorder struct {
	gpu.Backend
	records, replays, closes int
	fail                     error
	replaying                bool
}

// SetSeed fails inside a replay: a CUDA graph would hold the value it was
// recorded with, and every replay would draw the recorded step's masks.
func (f *fakeRecorder) SetSeed(dst gpu.IntSlice, seed uint64) error {
	if f.replaying {
		return errors.New("SetSeed inside a recording: a replay would store the recorded value")
	}
	return f.Backend.SetSeed(dst, seed)
}

type fakeRecording struct {
	f   *fakeRecorder
	ops func() error
}

func (f *fakeRecorder) Record(ops func() error) (gpu.Recording, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.records++
	return &fakeRecording{f: f, ops: ops}, nil
}

func (r *fakeRecording) Replay() error {
	r.f.replays++
	r.f.replaying = true
	defer func() { r.f.replaying = false }()
	return r.ops()
}
func (r *fakeRecording) Close() error { r.f.closes++; return nil }

// TestRecordedStepsMatchDirect trains with and without a recorder, and with
// one whose recording fails, and wants the same rows and weights from all:
// for a ResNet, and for a DenseNet with dropout, whose steps are recorded
// too (each replay's masks come from the seed stored before it).
func TestRecordedStepsMatchDirect(t *testing.T) {
	for _, set := range [][]string{nil, dropoutDenseNet()} {
		cfg := tinyConfigWith(t, set...)
		cfg.Epochs = 2
		t.Run(cfg.Model, func(t *testing.T) { recordedStepsMatchDirect(t, cfg) })
	}
}

func recordedStepsMatchDirect(t *testing.T, cfg Config) {
	src := Source{Train: synthetic(64, 32, 1), Test: synthetic(40, 32, 2)}
	run := func(b gpu.Backend) ([]EpochRow, []float32, []string) {
		var logs []string
		dir := t.TempDir()
		res, err := (&Run{Name: "r", Dir: dir, Config: cfg, Backend: b, Source: src, Log: func(s string) { logs = append(logs, s) }}).Execute(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ck, err := readCheckpoint(filepath.Join(dir, CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows, ck.Arrays[0], logs
	}
	rows, w, _ := run(cputest.Open(t, gpu.Options{}))

	rec := &fakeRecorder{Backend: cputest.Open(t, gpu.Options{})}
	rowsR, wR, _ := run(rec)
	sameRows(t, rows, rowsR)
	if !reflect.DeepEqual(w, wR) {
		t.Error("weights after recorded steps differ from direct ones")
	}
	// 2 epochs of 4 steps: step 1 direct, step 2 recorded, all but step 1
	// replayed; evaluation: 3 batches an epoch, batch 1 direct
	if rec.records != 2 || rec.replays != 7+5 || rec.closes != 2 {
		t.Errorf("recorded %d times, replayed %d, closed %d, want 2 (step, evaluation), 12 and 2 (at the run's end)", rec.records, rec.replays, rec.closes)
	}

	broken := &fakeRecorder{Backend: cputest.Open(t, gpu.Options{}), fail: errors.New("capture not supported")}
	rowsB, wB, logs := run(broken)
	sameRows(t, rows, rowsB)
	if !reflect.DeepEqual(w, wB) {
		t.Error("weights after a failed recording differ from direct ones")
	}
	if n := strings.Count(strings.Join(logs, "\n"), "capture not supported"); n != 2 {
		t.Errorf("the failed recording was reported %d times, want once for the step and once for evaluation:\n%s", n, strings.Join(logs, "\n"))
	}
}

// seedSpy records the seeds stored for dropout.
type seedSpy struct {
	gpu.Backend
	seeds []uint64
}

func (s *seedSpy) SetSeed(dst gpu.IntSlice, seed uint64) error {
	s.seeds = append(s.seeds, seed)
	return s.Backend.SetSeed(dst, seed)
}

// TestDropoutSeedPerStep: each training step of a net with dropout stores a
// seed of its own, Mix(recipe seed, step number), so that masks differ from
// step to step and a resumed run draws the ones it would have drawn.
func TestDropoutSeedPerStep(t *testing.T) {
	cfg := tinyConfigWith(t, append(dropoutDenseNet(), "seed=11")...)
	spy := &seedSpy{Backend: cputest.Open(t, gpu.Options{})}
	res, err := (&Run{Name: "d", Dir: t.TempDir(), Config: cfg, Backend: spy, Source: Source{Train: synthetic(64, 32, 1), Test: synthetic(40, 32, 2)}}).Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	steps := cfg.Epochs * 64 / cfg.Batch
	if len(res.Rows) != cfg.Epochs || len(spy.seeds) != steps {
		t.Fatalf("%d epochs stored %d seeds, want %d (one a step)", len(res.Rows), len(spy.seeds), steps)
	}
	for i, s := range spy.seeds {
		if want := gpu.Mix(11, uint64(i)); s != want {
			t.Errorf("step %d stored seed %#x, want Mix(11, %d) = %#x", i, s, i, want)
		}
	}
}

// reporting gives the CPU backend gpu.Reporter's method.
type reporting struct{ gpu.Backend }

func (reporting) Report() string { return "convolution algorithms: all of them" }

// TestRunLogsReport: a backend's report is logged once, after the first
// epoch, when everything has been planned.
func TestRunLogsReport(t *testing.T) {
	cfg := tinyConfig()
	cfg.Epochs = 2
	var logs []string
	_, err := (&Run{Name: "r", Dir: t.TempDir(), Config: cfg, Backend: reporting{cputest.Open(t, gpu.Options{})}, Source: Source{Train: synthetic(32, 32, 1), Test: synthetic(20, 32, 2)},
		Log: func(s string) { logs = append(logs, s) }}).Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(logs, "\n"), "r: cpu convolution algorithms: all of them"); n != 1 {
		t.Errorf("the report was logged %d times, want once:\n%s", n, strings.Join(logs, "\n"))
	}
}

// TestFinished: only a checkpoint of the same recipe at its last epoch
// counts as finished.
func TestFinished(t *testing.T) {
	src := Source{Train: synthetic(32, 32, 1), Test: synthetic(20, 32, 2)}
	cfg := tinyConfig()
	cfg.Epochs = 1
	dir := t.TempDir()
	if Finished(dir, cfg) {
		t.Error("an empty folder counts as finished")
	}
	if _, err := (&Run{Name: "f", Dir: dir, Config: cfg, Backend: cputest.Open(t, gpu.Options{}), Source: src}).Execute(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !Finished(dir, cfg) {
		t.Error("a finished run does not count as finished")
	}
	longer := cfg
	longer.Epochs = 2
	if Finished(dir, longer) {
		t.Error("a run of another recipe (more epochs) counts as finished")
	}
}
