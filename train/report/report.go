// Package report turns the run folders of an experiment into what a person
// reads: a summary table (summary.md, summary.csv) and training curves
// (curves.png, curves.svg), written into the experiment's folder.
//
// Contract:
//   - Collect reads EXPDIR/<run dir>/metrics.csv for every run of every cell
//     (train.Cell.Runs gives the run folders). A missing folder or file is a
//     run that has not started, never an error; a malformed file is an error
//     that names it. It may run while the experiment is training: the trainer
//     replaces metrics.csv atomically, so a read sees whole epochs only.
//   - The headline number is the FINAL-epoch test error, never the best epoch:
//     choosing the epoch on the test set is optimistic, and the most common
//     flaw of public reproductions. The best test error and its epoch are
//     shown beside it for reference, labelled as such.
//   - With several seeds, the final numbers are the mean (and sample standard
//     deviation) over the finished seeds. A cell with no finished seed yet
//     shows its runs' last finished epoch, marked as not final.
//   - Every file is written atomically (temporary file, then rename), so a
//     reader never sees half a summary or half a plot.
package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"repro/train"
)

// Run statuses.
const (
	StatusDone       = "done"
	StatusRunning    = "running" // some epochs finished, fewer than planned (also an interrupted run)
	StatusNotStarted = "not started"
)

// Files written into the experiment's folder.
const (
	SummaryMarkdown = "summary.md"
	SummaryCSV      = "summary.csv"
	CurvesPNG       = "curves.png"
	CurvesSVG       = "curves.svg"
)

// RunResult is one run's finished epochs.
type RunResult struct {
	Spec   train.RunSpec
	Rows   []train.EpochRow // finished epochs; empty when the run has not started
	Status string           // StatusDone, StatusRunning or StatusNotStarted
	// Planned is the run's planned number of epochs: the epochs of the
	// config.toml in its folder when there is one (the recipe it really
	// runs), else the cell's.
	Planned int
	// Note is non-empty when the run folder's config.toml holds another
	// recipe than the experiment's cell (e.g. a run started with -set): it
	// says where they first differ.
	Note string
}

// CellResult is the runs of one cell, in seed order.
type CellResult struct {
	Cell train.Cell
	Runs []RunResult
}

// Result is an experiment's runs as found on disk.
type Result struct {
	Experiment train.Experiment
	Cells      []CellResult
}

// Collect reads the metrics of every run of e from expDir (OUT/EXPERIMENT).
func Collect(e train.Experiment, expDir string) (*Result, error) {
	res := &Result{Experiment: e}
	for _, c := range e.Cells {
		cr := CellResult{Cell: c}
		for _, spec := range c.Runs() {
			rr, err := collectRun(spec, filepath.Join(expDir, spec.Dir))
			if err != nil {
				return nil, err
			}
			cr.Runs = append(cr.Runs, rr)
		}
		res.Cells = append(res.Cells, cr)
	}
	return res, nil
}

func collectRun(spec train.RunSpec, dir string) (RunResult, error) {
	rr := RunResult{Spec: spec, Planned: spec.Config.Epochs}
	path := filepath.Join(dir, train.MetricsFile)
	rows, err := train.ReadMetrics(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rows = nil
	case err != nil:
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return rr, err
	}
	for i, r := range rows {
		if r.Epoch != i+1 {
			return rr, fmt.Errorf("%s:%d: epoch %d, want %d (epochs must count up from 1)", path, i+2, r.Epoch, i+1)
		}
	}
	rr.Rows = rows

	cfgPath := filepath.Join(dir, train.ConfigFile)
	have, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return rr, err
	default:
		rr.Note = recipeDiff(cfgPath, string(have), spec.Config.TOML())
		// only the planned epochs are taken from it; a file this version
		// cannot decode is noted, not fatal, so that the metrics still show
		var cfg struct {
			Epochs int `toml:"epochs"`
		}
		if _, err := toml.Decode(string(have), &cfg); err != nil {
			rr.Note = fmt.Sprintf("%s: %v", cfgPath, oneLine(err))
		} else if cfg.Epochs > 0 {
			rr.Planned = cfg.Epochs
		}
	}

	switch {
	case len(rows) == 0:
		rr.Status = StatusNotStarted
	case len(rows) >= rr.Planned:
		rr.Status = StatusDone
	default:
		rr.Status = StatusRunning
	}
	return rr, nil
}

// recipeDiff says where the recipe in a run folder first differs from the
// experiment's ("" when they are the same).
func recipeDiff(path, have, want string) string {
	if have == want {
		return ""
	}
	hl, wl := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(hl), len(wl)); i++ {
		var h, w string
		if i < len(hl) {
			h = strings.TrimSpace(hl[i])
		}
		if i < len(wl) {
			w = strings.TrimSpace(wl[i])
		}
		if h != w {
			return fmt.Sprintf("%s:%d holds another recipe than the experiment's (%q there, %q in the experiment)", path, i+1, h, w)
		}
	}
	return ""
}

func oneLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// writeAtomic makes path's folder and writes path atomically.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return train.WriteAtomic(path, data)
}
