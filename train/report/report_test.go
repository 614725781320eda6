package report

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"repro/train"
)

const testTOML = `
[experiment.demo]
description = "A small experiment for the report's tests."
epochs = 4

[[experiment.demo.cell]]
name = "two-seeds"
seeds = 2

[[experiment.demo.cell]]
name = "paper"
model = "resnet56"
paper_error = 6.97
writeup_error = 7.42

[[experiment.demo.cell]]
name = "running"
description = "Still training."

[[experiment.demo.cell]]
name = "idle"
`

func parse(t *testing.T, text string) train.Experiment {
	t.Helper()
	exps, err := train.ParseExperiments("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 1 {
		t.Fatalf("%d experiments, want 1", len(exps))
	}
	return exps[0]
}

// writeRows writes a metrics.csv with train's own writer, with the
// validation columns when withVal.
func writeRows(t *testing.T, dir string, rows []train.EpochRow, withVal bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := train.WriteMetrics(filepath.Join(dir, train.MetricsFile), rows, withVal); err != nil {
		t.Fatal(err)
	}
}

// rows makes epochs 1.. with the given test errors; the other columns are
// derived so that each is distinguishable.
func rows(test []float64, trainErr []float64, loss []float64, secs, speed []float64) []train.EpochRow {
	out := make([]train.EpochRow, len(test))
	for i := range test {
		out[i] = train.EpochRow{Epoch: i + 1, LR: 0.1, TrainLoss: loss[i], TrainError: trainErr[i],
			TestLoss: 1, TestError: test[i], ValLoss: 0.5, ValError: 9, Seconds: secs[i], ImagesPerSec: speed[i]}
	}
	return out
}

// fixture writes the runs of testTOML's experiment: two-seeds done (both
// seeds), paper done (with validation columns), running at 2 of 4 epochs,
// idle not started.
func fixture(t *testing.T) (train.Experiment, string) {
	e := parse(t, testTOML)
	dir := t.TempDir()
	writeRows(t, filepath.Join(dir, "two-seeds", "seed-1"), rows(
		[]float64{50, 30, 20, 25}, []float64{60, 40, 30, 10}, []float64{2, 1, 0.5, 0.25},
		[]float64{10, 10, 10, 10}, []float64{100, 200, 300, 400}), false)
	writeRows(t, filepath.Join(dir, "two-seeds", "seed-2"), rows(
		[]float64{48, 28, 22, 21}, []float64{58, 38, 28, 12}, []float64{1.8, 0.9, 0.4, 0.15},
		[]float64{20, 20, 20, 20}, []float64{150, 250, 350, 1000}), false)
	writeRows(t, filepath.Join(dir, "paper"), rows(
		[]float64{40, 9, 7, 7.5}, []float64{50, 5, 1, 0.5}, []float64{1.5, 0.2, 0.03, 0.02},
		[]float64{3, 3, 3, 3}, []float64{500, 500, 600, 600}), true)
	writeRows(t, filepath.Join(dir, "running"), rows(
		[]float64{45, 33}, []float64{55, 44}, []float64{1.7, 1.1},
		[]float64{5, 6}, []float64{700, 800}), false)
	return e, dir
}

func TestCollectStatuses(t *testing.T) {
	e, dir := fixture(t)
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"two-seeds": {StatusDone, StatusDone},
		"paper":     {StatusDone},
		"running":   {StatusRunning},
		"idle":      {StatusNotStarted},
	}
	if len(r.Cells) != len(want) {
		t.Fatalf("%d cells, want %d", len(r.Cells), len(want))
	}
	for _, c := range r.Cells {
		var got []string
		for _, run := range c.Runs {
			got = append(got, run.Status)
			if run.Planned != 4 {
				t.Errorf("%s: planned %d, want 4", run.Spec.Dir, run.Planned)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[c.Cell.Name]) {
			t.Errorf("cell %s: statuses %q, want %q", c.Cell.Name, got, want[c.Cell.Name])
		}
	}
	if n := len(r.Cells[2].Runs[0].Rows); n != 2 {
		t.Errorf("running: %d rows, want 2", n)
	}
	if r.Cells[1].Runs[0].Rows[3].ValError != 9 {
		t.Errorf("paper: validation columns not read: %+v", r.Cells[1].Runs[0].Rows[3])
	}

	// a header-only metrics.csv (a run that has finished no epoch) is not started
	writeRows(t, filepath.Join(dir, "idle"), nil, false)
	r, err = Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Cells[3].Runs[0].Status; s != StatusNotStarted {
		t.Errorf("header-only metrics.csv: status %q, want %q", s, StatusNotStarted)
	}
}

func TestCollectPlannedFromRunConfig(t *testing.T) {
	e, dir := fixture(t)
	// the running cell was started with another recipe (-set epochs=2)
	cfg := e.Cells[2].Config
	cfg.Epochs = 2
	if err := os.WriteFile(filepath.Join(dir, "running", train.ConfigFile), []byte(cfg.TOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	// the paper cell's config.toml is the experiment's own
	if err := os.WriteFile(filepath.Join(dir, "paper", train.ConfigFile), []byte(e.Cells[1].Config.TOML()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	run := r.Cells[2].Runs[0]
	if run.Status != StatusDone || run.Planned != 2 {
		t.Errorf("run with config.toml epochs = 2: status %q, planned %d; want done, 2", run.Status, run.Planned)
	}
	if !strings.Contains(run.Note, "epochs") {
		t.Errorf("note %q does not say where the recipes differ", run.Note)
	}
	if n := r.Cells[1].Runs[0].Note; n != "" {
		t.Errorf("same recipe: note %q", n)
	}
}

func TestCollectMalformed(t *testing.T) {
	for name, text := range map[string]string{
		"not a number":  "epoch,lr,train_loss,train_error,test_loss,test_error,seconds,images_per_s\n1,0.1,abc,1,1,1,1,1\n",
		"no header":     "1,0.1,1,1,1,1,1,1\n",
		"short row":     "epoch,lr,train_loss,train_error,test_loss,test_error,seconds,images_per_s\n1,0.1,1\n",
		"epoch skipped": "epoch,lr,train_loss,train_error,test_loss,test_error,seconds,images_per_s\n1,0.1,1,1,1,1,1,1\n3,0.1,1,1,1,1,1,1\n",
	} {
		t.Run(name, func(t *testing.T) {
			e, dir := fixture(t)
			path := filepath.Join(dir, "running", train.MetricsFile)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Collect(e, dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummarize(t *testing.T) {
	e, dir := fixture(t)
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	two := r.Cells[0].Summarize()
	// final test errors 25 and 21: mean 23, sample std sqrt((4+4)/1)
	if !near(two.FinalTestError, 23) || !near(two.FinalTestErrorStd, math.Sqrt(8)) {
		t.Errorf("two-seeds final %v ± %v, want 23 ± %v", two.FinalTestError, two.FinalTestErrorStd, math.Sqrt(8))
	}
	// the mean curve 49, 29, 21, 23 is lowest at epoch 3 (not the mean of
	// the seeds' own bests, 20.5)
	if !near(two.BestTestError, 21) || two.BestEpoch != 3 {
		t.Errorf("two-seeds best %v at %d, want 21 at 3", two.BestTestError, two.BestEpoch)
	}
	if !near(two.FinalTrainError, 11) || !near(two.FinalTrainLoss, 0.2) {
		t.Errorf("two-seeds train error %v loss %v, want 11, 0.2", two.FinalTrainError, two.FinalTrainLoss)
	}
	if !near(two.WallSeconds, 60) { // (40 + 80) / 2
		t.Errorf("two-seeds wall %v, want 60", two.WallSeconds)
	}
	if !near(two.ImagesPerSec, 275) { // median of 100..400, 150..1000
		t.Errorf("two-seeds images/s %v, want 275", two.ImagesPerSec)
	}
	if two.RunsFinished != 2 || two.RunsTotal != 2 || two.EpochsDone != 8 || two.EpochsPlanned != 8 || two.N != 2 || two.Partial || two.Status != StatusDone {
		t.Errorf("two-seeds counts %+v", two)
	}
	if !math.IsNaN(two.PaperError) || !math.IsNaN(two.FinalMinusPaper) {
		t.Errorf("two-seeds has no paper error: %v, %v", two.PaperError, two.FinalMinusPaper)
	}

	paper := r.Cells[1].Summarize()
	if !near(paper.FinalTestError, 7.5) || !math.IsNaN(paper.FinalTestErrorStd) || !near(paper.BestTestError, 7) || paper.BestEpoch != 3 {
		t.Errorf("paper: final %v ± %v best %v at %d; want 7.5, NaN, 7 at 3", paper.FinalTestError, paper.FinalTestErrorStd, paper.BestTestError, paper.BestEpoch)
	}
	if !near(paper.FinalMinusPaper, 7.5-6.97) || !near(paper.PaperError, 6.97) || !near(paper.WriteupError, 7.42) || paper.Model != "resnet56" {
		t.Errorf("paper: %+v", paper)
	}

	run := r.Cells[2].Summarize()
	if run.Status != StatusRunning || !run.Partial || run.N != 1 || run.RunsFinished != 0 || run.EpochsDone != 2 || !near(run.FinalTestError, 33) {
		t.Errorf("running: %+v", run)
	}
	idle := r.Cells[3].Summarize()
	if idle.Status != StatusNotStarted || idle.N != 0 || !math.IsNaN(idle.FinalTestError) || idle.BestEpoch != 0 {
		t.Errorf("idle: %+v", idle)
	}
}

func TestWriteSummary(t *testing.T) {
	e, dir := fixture(t)
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSummary(r, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{
		"# demo\n", "A small experiment for the report's tests.", "final-epoch test error",
		"| two-seeds | resnet20 | 2/2 | 8/8 | 23.00 ± 2.83 | 11.00 | 0.2 | 21.00 (3) | 1m00s | 275 | — | — | — |",
		"| paper | resnet56 | 1/1 | 4/4 | 7.50 | 0.50 | 0.02 | 7.00 (3) | 12s | 550 | 6.97 | 7.42 | +0.53 |",
		"| running | resnet20 | 0/1 | 2/4 | 33.00 * |",
		"| idle | resnet20 | 0/1 | 0/4 | — |",
		"not final", "**running**: Still training.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, text)
		}
	}

	f, err := os.Open(filepath.Join(dir, SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("summary.csv: %d records, want header + 4", len(recs))
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	get := func(row int, name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("summary.csv has no column %s: %q", name, recs[0])
		}
		return recs[row][i]
	}
	num := func(row int, name string) float64 {
		v, err := strconv.ParseFloat(get(row, name), 64)
		if err != nil {
			t.Fatalf("summary.csv row %d %s: %v", row, name, err)
		}
		return v
	}
	if get(1, "cell") != "two-seeds" || num(1, "final_test_error_mean") != 23 || math.Abs(num(1, "final_test_error_std")-math.Sqrt(8)) > 1e-3 ||
		num(1, "best_test_error") != 21 || num(1, "best_epoch") != 3 || num(1, "runs_finished") != 2 || num(1, "wall_seconds") != 60 {
		t.Errorf("summary.csv two-seeds row %q", recs[1])
	}
	if num(2, "paper_error") != 6.97 || num(2, "writeup_error") != 7.42 || math.Abs(num(2, "final_minus_paper")-0.53) > 1e-3 || get(2, "final_test_error_std") != "" {
		t.Errorf("summary.csv paper row %q", recs[2])
	}
	if get(3, "status") != StatusRunning || get(3, "partial") != "true" || get(4, "status") != StatusNotStarted || get(4, "final_test_error_mean") != "" {
		t.Errorf("summary.csv running/idle rows %q, %q", recs[3], recs[4])
	}
	for _, rec := range recs[1:] {
		for _, f := range rec {
			if strings.ContainsAny(f, "±—") {
				t.Errorf("summary.csv field %q is not a plain number", f)
			}
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %q", leftovers)
	}
}

// colourPixels counts the pixels within tol of c in every channel.
func colourPixels(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if abs(int(r>>8)-int(c.R)) <= tol && abs(int(g>>8)-int(c.G)) <= tol && abs(int(bl>>8)-int(c.B)) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int { return max(x, -x) }

func checkPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != 2100 || b.Dy() != 825 {
		t.Errorf("%s: %dx%d, want 2100x825", path, b.Dx(), b.Dy())
	}
	colours := map[color.Color]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			colours[img.At(x, y)] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("%s: %d distinct colours: blank?", path, len(colours))
	}
	return img
}

func checkSVG(t *testing.T, path string, names []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", path, root)
	}
	for _, n := range names {
		if !bytes.Contains(data, []byte(">"+n+"<")) {
			t.Errorf("%s: no text %q", path, n)
		}
	}
}

func TestWritePlots(t *testing.T) {
	e, dir := fixture(t)
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePlots(r, dir); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, filepath.Join(dir, CurvesPNG))
	// every cell with epochs has lines in its colour; the idle cell (red,
	// the fourth colour) has none, not even in the legend
	for i, c := range r.Cells {
		n := colourPixels(img, palette[i], 8)
		if c.Cell.Name == "idle" {
			if n > 0 {
				t.Errorf("not-started cell %s: %d pixels in its colour", c.Cell.Name, n)
			}
		} else if n < 200 {
			t.Errorf("cell %s: %d pixels in its colour, want its lines", c.Cell.Name, n)
		}
	}
	checkSVG(t, filepath.Join(dir, CurvesSVG), []string{"two-seeds", "paper", "running", "idle", "demo: training curves", "Test error", "Train error", "Train loss"})
}

func TestWritePlotsNothingYet(t *testing.T) {
	e := parse(t, testTOML)
	dir := filepath.Join(t.TempDir(), "demo")
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePlots(r, dir); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummary(r, dir); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, CurvesPNG))
	checkSVG(t, filepath.Join(dir, CurvesSVG), []string{"idle"})
}

// TestDemo renders a realistic experiment: 180 epochs, lr /10 at 90 and
// 135, one cell with two seeds and one still running. REPORT_DEMO=DIR keeps
// the files in DIR for a person to look at.
func TestDemo(t *testing.T) {
	cells := []struct {
		name          string
		seeds         int
		plateau, tail float64 // test error before the first drop and at the end
		lossEnd       float64
		drops         bool
		epochs        int
	}{
		{"sgd-paper-recipe", 2, 15, 7.0, 0.008, true, 180},
		{"adam", 1, 18, 10.3, 0.04, true, 180},
		{"sgd-no-weight-decay", 1, 17, 8.6, 0.002, true, 180},
		{"sgd-constant-lr", 1, 15, 14, 0.3, false, 120},
	}
	var toml strings.Builder
	toml.WriteString("[experiment.resnet56-demo]\ndescription = \"ResNet-56 on CIFAR-10: the paper's SGD recipe against Adam, no weight decay and a constant learning rate (synthetic curves).\"\nmodel = \"resnet56\"\nepochs = 180\nschedule.milestones = [90, 135]\n")
	for _, c := range cells {
		fmt.Fprintf(&toml, "[[experiment.resnet56-demo.cell]]\nname = %q\nseeds = %d\n", c.name, c.seeds)
	}
	e := parse(t, toml.String())
	dir := os.Getenv("REPORT_DEMO")
	if dir == "" {
		dir = t.TempDir()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cells {
		for k := 1; k <= c.seeds; k++ {
			var rs []train.EpochRow
			for ep := 1; ep <= c.epochs; ep++ {
				x := float64(ep)
				// before the first drop: fast fall to a noisy plateau
				test := c.plateau + 25*math.Exp(-x/8) + rng.NormFloat64()*1.5
				trainErr := (c.plateau - 5) + 35*math.Exp(-x/10) + rng.NormFloat64()*0.3
				loss := 0.35 + 1.6*math.Exp(-x/10)
				lr := 0.1
				if c.drops && ep > 90 {
					f := 1 - math.Exp(-(x-90)/3)
					test = c.plateau + (c.tail+0.6-c.plateau)*f + rng.NormFloat64()*0.25
					trainErr = trainErr*(1-f) + 1.0*f
					loss = loss*(1-f) + (c.lossEnd*3)*f
					lr = 0.01
				}
				if c.drops && ep > 135 {
					f := 1 - math.Exp(-(x-135)/4)
					test = c.tail + 0.6*(1-f) + rng.NormFloat64()*0.1
					trainErr = 1.0*(1-f) + 0.1*f
					loss = c.lossEnd*3*(1-f) + c.lossEnd*f
					lr = 0.001
				}
				rs = append(rs, train.EpochRow{Epoch: ep, LR: lr, TrainLoss: loss * (1 + 0.03*rng.NormFloat64()),
					TrainError: math.Max(0.01, trainErr), TestLoss: test / 20, TestError: test, Seconds: 41 + rng.Float64(), ImagesPerSec: 1250 + 20*rng.NormFloat64()})
			}
			sub := c.name
			if c.seeds > 1 {
				sub = filepath.Join(c.name, fmt.Sprintf("seed-%d", k))
			}
			writeRows(t, filepath.Join(dir, e.Name, sub), rs, false)
		}
	}
	expDir := filepath.Join(dir, e.Name)
	r, err := Collect(e, expDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePlots(r, expDir); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummary(r, expDir); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, filepath.Join(expDir, CurvesPNG))
	for i := range cells {
		if n := colourPixels(img, palette[i], 8); n < 500 {
			t.Errorf("cell %s: %d pixels in its colour", cells[i].name, n)
		}
	}
	var names []string
	for _, c := range cells {
		names = append(names, c.name)
	}
	checkSVG(t, filepath.Join(expDir, CurvesSVG), names)
}

// TestDemoManyCells renders twelve cells with long names, some still
// running, to check that colours and dashes keep them apart and that the
// legend fits beside the panels.
func TestDemoManyCells(t *testing.T) {
	var toml strings.Builder
	toml.WriteString("[experiment.ladder]\ndescription = \"Twelve cells (synthetic curves).\"\nepochs = 164\n")
	names := []string{"original-data-constant-lr", "augmented", "augmented-l2", "augmented-l2-lr-drop",
		"normalization-none", "normalization-pixel-mean", "normalization-gcn", "adam", "adamw",
		"three-x-data", "same-data-three-x-steps", "densenet-bc100"}
	for _, n := range names {
		fmt.Fprintf(&toml, "[[experiment.ladder.cell]]\nname = %q\n", n)
	}
	e := parse(t, toml.String())
	dir := os.Getenv("REPORT_DEMO")
	if dir == "" {
		dir = t.TempDir()
	}
	expDir := filepath.Join(dir, e.Name)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, n := range names {
		epochs := 164 - 11*i
		var rs []train.EpochRow
		for ep := 1; ep <= epochs; ep++ {
			x := float64(ep)
			end := 6 + float64(i)
			rs = append(rs, train.EpochRow{Epoch: ep, LR: 0.1, TrainLoss: 0.005*float64(i+1) + 2*math.Exp(-x/15),
				TrainError: float64(i)/2 + 50*math.Exp(-x/12), TestError: end + 35*math.Exp(-x/15) + 0.3*rng.NormFloat64(),
				Seconds: 30, ImagesPerSec: 2000})
		}
		writeRows(t, filepath.Join(expDir, n), rs, false)
	}
	r, err := Collect(e, expDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePlots(r, expDir); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, filepath.Join(expDir, CurvesPNG))
	for i := range palette {
		if n := colourPixels(img, palette[i], 8); n < 300 {
			t.Errorf("colour %d: %d pixels", i, n)
		}
	}
	checkSVG(t, filepath.Join(expDir, CurvesSVG), names)
}

func TestSummarizeSomeSeedsDone(t *testing.T) {
	e, dir := fixture(t)
	// seed 2 of two-seeds is still at epoch 2: the final numbers are seed 1's
	writeRows(t, filepath.Join(dir, "two-seeds", "seed-2"), rows(
		[]float64{48, 28}, []float64{58, 38}, []float64{1.8, 0.9}, []float64{20, 20}, []float64{150, 250}), false)
	r, err := Collect(e, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Cells[0].Summarize()
	if s.Status != StatusRunning || s.Partial || s.RunsFinished != 1 || s.N != 1 || s.EpochsDone != 6 ||
		!near(s.FinalTestError, 25) || !math.IsNaN(s.FinalTestErrorStd) || !near(s.BestTestError, 20) || s.BestEpoch != 3 {
		t.Errorf("one of two seeds done: %+v", s)
	}
	if err := WriteSummary(r, dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	if !strings.Contains(string(md), "| two-seeds | resnet20 | 1/2 | 6/8 | 25.00 |") {
		t.Errorf("summary.md:\n%s", md)
	}
}
