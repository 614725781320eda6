package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"repro/train"
	"repro/train/report"
)

// writeReport collects the experiment's run folders and writes its summary
// (summary.md, summary.csv) and plots (curves.png, curves.svg); with w set it
// also prints the summary table.
func writeReport(e train.Experiment, expDir string, w io.Writer) error {
	r, err := report.Collect(e, expDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(expDir, 0o755); err != nil {
		return err
	}
	if err := report.WriteSummary(r, expDir); err != nil {
		return err
	}
	if err := report.WritePlots(r, expDir); err != nil {
		return err
	}
	if w != nil {
		md, err := os.ReadFile(filepath.Join(expDir, "summary.md"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\n(summary and plots in %s)\n", md, expDir)
	}
	return nil
}

// reportMain is `repro report -exp NAME`: summary and plots from the run
// folders, also while the experiment is still running.
func reportMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("repro report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	exp := fs.String("exp", "", "experiment to report on")
	config := fs.String("config", "experiments.toml", "experiment matrix file")
	out := fs.String("out", "runs", "results folder given to the runs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	text, err := os.ReadFile(*config)
	if err != nil {
		return usageErr("-config %s: %v", *config, errors.Unwrap(err))
	}
	exps, err := train.ParseExperiments(*config, text)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	for _, e := range exps {
		if e.Name == *exp {
			dir := filepath.Join(*out, e.Name)
			if _, err := os.Stat(dir); err != nil {
				return usageErr("report %s: no results in %s (run repro -exp %s -out %s first)", e.Name, dir, e.Name, *out)
			}
			return writeReport(e, dir, stdout)
		}
	}
	return usageErr("report -exp %q: not in %s; have %s", *exp, *config, names(exps))
}
