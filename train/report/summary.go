package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"repro/train"
)

// CellSummary is one row of the summary table. Errors are in percent; a
// value that does not exist (no finished epoch, no paper number) is NaN.
type CellSummary struct {
	Cell   string
	Model  string
	Status string // StatusDone (every run), StatusRunning (some epochs), StatusNotStarted

	RunsFinished, RunsTotal int
	// EpochsDone and EpochsPlanned are summed over the cell's runs.
	EpochsDone, EpochsPlanned int

	// N is the number of runs the numbers below are taken over: the
	// finished runs, or, while none has finished, the runs with at least one
	// finished epoch (then Partial is true: the values are those of the last
	// finished epoch, not final).
	N       int
	Partial bool

	FinalTestError    float64 // mean over the N runs' last epochs: the headline
	FinalTestErrorStd float64 // sample standard deviation; NaN when N < 2
	FinalTrainError   float64 // mean
	FinalTrainLoss    float64 // mean
	// BestTestError is the lowest test error of the mean curve (over the N
	// runs, at the epochs they all reached) and BestEpoch its epoch; for
	// reference only, never the headline.
	BestTestError float64
	BestEpoch     int
	WallSeconds   float64 // sum of the epochs' seconds, mean over the N runs
	ImagesPerSec  float64 // median over the N runs' epochs

	PaperError, WriteupError float64 // NaN when not given
	FinalMinusPaper          float64 // FinalTestError - PaperError
}

// Summarize computes the cell's row of the summary table.
func (c CellResult) Summarize() CellSummary {
	nan := math.NaN()
	s := CellSummary{
		Cell: c.Cell.Name, Model: c.Cell.Config.Model, RunsTotal: len(c.Runs),
		FinalTestError: nan, FinalTestErrorStd: nan, FinalTrainError: nan, FinalTrainLoss: nan,
		BestTestError: nan, WallSeconds: nan, ImagesPerSec: nan,
		PaperError: nan, WriteupError: nan, FinalMinusPaper: nan,
	}
	if c.Cell.PaperError > 0 {
		s.PaperError = c.Cell.PaperError
	}
	if c.Cell.WriteupError > 0 {
		s.WriteupError = c.Cell.WriteupError
	}
	var finished, started []RunResult
	for _, r := range c.Runs {
		s.EpochsDone += len(r.Rows)
		s.EpochsPlanned += r.Planned
		if len(r.Rows) > 0 {
			started = append(started, r)
		}
		if r.Status == StatusDone {
			finished = append(finished, r)
		}
	}
	s.RunsFinished = len(finished)
	switch {
	case len(c.Runs) > 0 && len(finished) == len(c.Runs):
		s.Status = StatusDone
	case len(started) > 0:
		s.Status = StatusRunning
	default:
		s.Status = StatusNotStarted
	}
	use := finished
	if len(use) == 0 {
		use, s.Partial = started, len(started) > 0
	}
	s.N = len(use)
	if s.N == 0 {
		return s
	}
	var test, trainErr, trainLoss, wall, speed []float64
	common := math.MaxInt
	for _, r := range use {
		last := r.Rows[len(r.Rows)-1]
		test = append(test, last.TestError)
		trainErr = append(trainErr, last.TrainError)
		trainLoss = append(trainLoss, last.TrainLoss)
		secs := 0.0
		for _, row := range r.Rows {
			secs += row.Seconds
			speed = append(speed, row.ImagesPerSec)
		}
		wall = append(wall, secs)
		common = min(common, len(r.Rows))
	}
	s.FinalTestError, s.FinalTestErrorStd = meanStd(test)
	s.FinalTrainError, _ = meanStd(trainErr)
	s.FinalTrainLoss, _ = meanStd(trainLoss)
	s.WallSeconds, _ = meanStd(wall)
	s.ImagesPerSec = median(speed)
	for e := 0; e < common; e++ {
		m := 0.0
		for _, r := range use {
			m += r.Rows[e].TestError
		}
		m /= float64(len(use))
		if s.BestEpoch == 0 || m < s.BestTestError {
			s.BestTestError, s.BestEpoch = m, e+1
		}
	}
	if !math.IsNaN(s.PaperError) {
		s.FinalMinusPaper = s.FinalTestError - s.PaperError
	}
	return s
}

// meanStd returns the mean and the sample standard deviation (NaN for fewer
// than two values).
func meanStd(v []float64) (mean, std float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// WriteSummary writes expDir/summary.md and expDir/summary.csv, one row per
// cell (see CellSummary).
func WriteSummary(r *Result, expDir string) error {
	rows := make([]CellSummary, len(r.Cells))
	for i, c := range r.Cells {
		rows[i] = c.Summarize()
	}
	if err := writeAtomic(filepath.Join(expDir, SummaryMarkdown), markdown(r, rows)); err != nil {
		return err
	}
	data, err := csvTable(rows)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(expDir, SummaryCSV), data)
}

const dash = "—"

// pct formats an error in percent with two decimals, or a dash.
func pct(v float64) string {
	if math.IsNaN(v) {
		return dash
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func markdown(r *Result, rows []CellSummary) []byte {
	var b bytes.Buffer
	e := r.Experiment
	fmt.Fprintf(&b, "# %s\n\n", e.Name)
	if d := strings.TrimSpace(e.Description); d != "" {
		fmt.Fprintf(&b, "%s\n\n", d)
	}
	b.WriteString("The headline is the **final-epoch test error** (mean ± sample standard deviation over the finished seeds when there are several). " +
		"The best test error and its epoch are shown for reference only: choosing an epoch on the test set is optimistic. " +
		"Errors in percent; the paper's and the write-up's test errors are given where they report one.\n\n")
	b.WriteString("| cell | model | runs done | epochs done | final test error % | final train error % | final train loss | best test error % (epoch, reference) | wall time | images/s | paper % | write-up % | final − paper |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	partial := false
	for _, s := range rows {
		final := pct(s.FinalTestError)
		if !math.IsNaN(s.FinalTestErrorStd) {
			final += " ± " + pct(s.FinalTestErrorStd)
		}
		if s.Partial {
			final += " *"
			partial = true
		}
		best := dash
		if s.BestEpoch > 0 {
			best = fmt.Sprintf("%s (%d)", pct(s.BestTestError), s.BestEpoch)
		}
		loss := dash
		if !math.IsNaN(s.FinalTrainLoss) {
			loss = strconv.FormatFloat(s.FinalTrainLoss, 'g', 4, 64)
		}
		speed := dash
		if !math.IsNaN(s.ImagesPerSec) {
			speed = strconv.FormatFloat(s.ImagesPerSec, 'f', 0, 64)
		}
		diff := dash
		if !math.IsNaN(s.FinalMinusPaper) {
			diff = fmt.Sprintf("%+.2f", s.FinalMinusPaper)
		}
		fmt.Fprintf(&b, "| %s | %s | %d/%d | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s.Cell, s.Model, s.RunsFinished, s.RunsTotal, s.EpochsDone, s.EpochsPlanned,
			final, pct(s.FinalTrainError), loss, best, wallTime(s.WallSeconds), speed,
			pct(s.PaperError), pct(s.WriteupError), diff)
	}
	b.WriteString("\n")
	if partial {
		b.WriteString("\\* not final: no run of this cell has finished; the value is that of the last finished epoch so far.\n\n")
	}
	b.WriteString("Epochs are summed over a cell's seeds; wall time is the sum of the epochs' times (evaluation included), mean over the seeds; images/s is the median training throughput over the epochs.\n")
	var described []train.Cell
	for _, c := range r.Cells {
		if strings.TrimSpace(c.Cell.Description) != "" {
			described = append(described, c.Cell)
		}
	}
	if len(described) > 0 {
		b.WriteString("\n## Cells\n\n")
		for _, c := range described {
			fmt.Fprintf(&b, "- **%s**: %s\n", c.Name, strings.TrimSpace(c.Description))
		}
	}
	var notes []string
	for _, c := range r.Cells {
		for _, run := range c.Runs {
			if run.Note != "" {
				notes = append(notes, run.Note)
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.Bytes()
}

// wallTime formats seconds as 1h02m, 12m05s or 42s.
func wallTime(secs float64) string {
	if math.IsNaN(secs) {
		return dash
	}
	d := time.Duration(math.Round(secs)) * time.Second
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// csvHeader names summary.csv's columns; missing values are empty fields.
var csvHeader = []string{
	"cell", "model", "status", "runs_finished", "runs_total", "epochs_done", "epochs_planned",
	"n", "partial", "final_test_error_mean", "final_test_error_std", "final_train_error", "final_train_loss",
	"best_test_error", "best_epoch", "wall_seconds", "images_per_s",
	"paper_error", "writeup_error", "final_minus_paper",
}

func csvTable(rows []CellSummary) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(csvHeader); err != nil {
		return nil, err
	}
	num := func(v float64, prec int) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	for _, s := range rows {
		best := ""
		if s.BestEpoch > 0 {
			best = strconv.Itoa(s.BestEpoch)
		}
		loss := ""
		if !math.IsNaN(s.FinalTrainLoss) {
			loss = strconv.FormatFloat(s.FinalTrainLoss, 'g', 6, 64)
		}
		rec := []string{
			s.Cell, s.Model, s.Status,
			strconv.Itoa(s.RunsFinished), strconv.Itoa(s.RunsTotal),
			strconv.Itoa(s.EpochsDone), strconv.Itoa(s.EpochsPlanned),
			strconv.Itoa(s.N), strconv.FormatBool(s.Partial),
			num(s.FinalTestError, 3), num(s.FinalTestErrorStd, 3), num(s.FinalTrainError, 3), loss,
			num(s.BestTestError, 3), best, num(s.WallSeconds, 1), num(s.ImagesPerSec, 1),
			num(s.PaperError, 2), num(s.WriteupError, 2), num(s.FinalMinusPaper, 3),
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
