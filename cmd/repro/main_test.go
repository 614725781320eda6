package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"repro/data"
	"repro/data/datatest"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// matrix is the repository's experiments.toml.
const matrix = "../../experiments.toml"

func TestList(t *testing.T) {
	code, out, errs := runCmd(t, "-config", matrix, "-list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, name := range []string{"quickstart", "sgd_vs_adam"} {
		if !strings.Contains(out, name) {
			t.Errorf("-list lacks %s:\n%s", name, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines < 2 {
		t.Errorf("-list printed %d lines", lines)
	}
}

func TestBadInputIsOneLineExit2(t *testing.T) {
	dir := t.TempDir()
	badToml := filepath.Join(dir, "bad.toml")
	os.WriteFile(badToml, []byte("[experiment.x]\nmodel = \"resnet20\"\n\n[[experiment.x.cell]]\nname = \"a\"\noptimizer.lrr = 0.1\n"), 0o644)
	corrupt := filepath.Join(dir, "data.tar.gz")
	os.WriteFile(corrupt, []byte("not a gzip file"), 0o644)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-exp", "nope"}, []string{`-exp "nope"`, "quickstart"}},
		{[]string{"-exp", "quickstart", "-cell", "nope"}, []string{`-cell "nope"`}},
		{[]string{"-exp", "quickstart", "-set", "epoch=3"}, []string{"epoch", "unknown key"}},
		{[]string{"-exp", "quickstart", "-set", "epochs=abc"}, []string{"-set epochs=abc"}},
		{[]string{"-exp", "quickstart", "-set", "epochs=0"}, []string{"epochs = 0"}},
		{[]string{"-exp", "quickstart", "-set", "optimizer.name=rmsprop"}, []string{"optimizer.name", "sgd, adam or adamw"}},
		{[]string{"-exp", "quickstart", "-threads", "-1"}, []string{"-threads"}},
		{[]string{"-exp", "quickstart", "-backend", "tpu"}, []string{"-backend", "tpu"}},
		{[]string{"-exp", "quickstart", "-conv-algos", "fastest"}, []string{`-conv-algos "fastest"`, "legacy, graph or all"}},
		{[]string{"-exp", "quickstart", "-data", corrupt}, []string{corrupt}},
		{[]string{"-exp", "quickstart", "-data", filepath.Join(dir, "missing")}, []string{"missing"}},
		{[]string{"-nosuchflag"}, []string{"nosuchflag"}},
	} {
		args := append([]string{"-config", matrix, "-out", filepath.Join(dir, "runs")}, tc.args...)
		code, _, errs := runCmd(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, errs, w)
			}
		}
	}
	code, _, errs := runCmd(t, "-config", badToml, "-list")
	if code != 2 || !strings.Contains(errs, "bad.toml:6") || !strings.Contains(errs, "experiment.x.cell.optimizer.lrr") {
		t.Errorf("unknown key in the matrix: exit %d, stderr %q; want the file, line 6 and the key", code, errs)
	}
	code, _, errs = runCmd(t, "-config", filepath.Join(dir, "none.toml"), "-list")
	if code != 2 || !strings.Contains(errs, "none.toml") {
		t.Errorf("missing matrix: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Error("a refused command created the output folder")
	}
}

func TestDryRun(t *testing.T) {
	code, out, errs := runCmd(t, "-config", matrix, "-exp", "sgd_vs_adam", "-dry-run", "-set", "epochs=7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"# sgd_vs_adam/sgd", "# sgd_vs_adam/adam", "epochs = 7", `model = "resnet56"`, `name = "adam"`, "milestones = [90, 135]"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run lacks %q:\n%s", w, out)
		}
	}
}

// imageFolder writes a tiny CIFAR-like image folder: per class, images of
// the class's colour.
func imageFolder(t *testing.T, perClassTrain, perClassTest int) string {
	root := t.TempDir()
	for split, n := range map[string]int{"train": perClassTrain, "test": perClassTest} {
		for l, class := range data.CIFAR10Classes() {
			d := filepath.Join(root, split, class)
			os.MkdirAll(d, 0o755)
			for i := 0; i < n; i++ {
				img := image.NewRGBA(image.Rect(0, 0, 32, 32))
				for p := 0; p < 32*32; p++ {
					img.Set(p%32, p/32, color.RGBA{uint8(l * 25), uint8(255 - l*20), uint8((l*77 + p) % 256), 255})
				}
				f, _ := os.Create(filepath.Join(d, string(rune('a'+i))+".png"))
				png.Encode(f, img)
				f.Close()
			}
		}
	}
	return root
}

func TestRunResumeAndRefuse(t *testing.T) {
	dataDir := imageFolder(t, 4, 2)
	out := t.TempDir()
	args := []string{"-config", matrix, "-exp", "quickstart", "-data", dataDir, "-out", out, "-backend", "cpu",
		"-set", "model=resnet8", "-set", "epochs=2", "-set", "batch=8", "-set", "data.subset=4", "-set", "data.test_subset=2"}
	code, stdout, errs := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	runDir := filepath.Join(out, "quickstart", "resnet20")
	for _, f := range []string{"config.toml", "metrics.csv", "checkpoint.bin"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(runDir, "metrics.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "epoch,lr,train_loss,train_error,test_loss,test_error,seconds,images_per_s") {
		t.Errorf("metrics.csv:\n%s", csv)
	}
	for _, f := range []string{"summary.md", "summary.csv", "curves.png", "curves.svg"} {
		if _, err := os.Stat(filepath.Join(out, "quickstart", f)); err != nil {
			t.Errorf("experiment folder lacks %s", f)
		}
	}
	if !strings.Contains(stdout, "| resnet20 | resnet8 | 1/1 | 2/2 |") || !strings.Contains(errs, "epoch 2/2") {
		t.Errorf("stdout %q, stderr %q", stdout, errs)
	}
	// the same command again: already finished, nothing retrained
	code, _, errs = runCmd(t, args...)
	if code != 0 || !strings.Contains(errs, "already finished") {
		t.Errorf("rerun: exit %d, stderr %q", code, errs)
	}
	// another recipe into the same folder is refused, the folder untouched
	before, _ := os.ReadFile(filepath.Join(runDir, "config.toml"))
	code, _, errs = runCmd(t, append(args, "-set", "optimizer.lr=0.01")...)
	if code == 0 || !strings.Contains(errs, "config.toml") {
		t.Errorf("other recipe: exit %d, stderr %q", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(runDir, "config.toml"))
	if !bytes.Equal(before, after) {
		t.Error("config.toml changed by a refused run")
	}
}

func TestBench(t *testing.T) {
	code, out, errs := runCmd(t, "bench", "-backend", "cpu", "-models", "resnet8", "-batch", "8", "-steps", "2", "-warmup", "1")
	if code != 0 || !strings.Contains(out, "resnet8") || !strings.Contains(out, "img/s") {
		t.Errorf("bench: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, _ := runCmd(t, "bench", "-models", "vgg", "-backend", "cpu", "-steps", "1", "-warmup", "0"); code == 0 {
		t.Error("bench of an unknown model succeeded")
	}
	if code, _, errs := runCmd(t, "bench", "-backend", "cpu", "-conv-algos", "x", "-steps", "1"); code != 2 || !strings.Contains(errs, `-conv-algos "x"`) {
		t.Errorf("bench -conv-algos x: exit %d, stderr %q", code, errs)
	}
}

// TestShortenedMatrixOnRealImages runs shortened copies of two experiments
// of the matrix on real CIFAR-10 images, split over two shards as an array
// job would, and checks that the summary and the plots come out whole.
func TestShortenedMatrixOnRealImages(t *testing.T) {
	jpeg := datatest.CIFARJPEG(t)
	out := t.TempDir()
	short := []string{"-set", "model=resnet8", "-set", "epochs=2", "-set", "batch=32",
		"-set", "data.subset=20", "-set", "data.test_subset=10", "-set", "schedule.milestones=[1]"}
	for _, exp := range []string{"lr_tuning", "augment_2x_vs_3x"} {
		for shard := 0; shard < 2; shard++ {
			args := append([]string{"-config", matrix, "-exp", exp, "-data", jpeg, "-out", out, "-backend", "cpu",
				"-shard", fmt.Sprintf("%d/2", shard)}, short...)
			if code, _, errs := runCmd(t, args...); code != 0 {
				t.Fatalf("%s shard %d: exit %d: %s", exp, shard, code, errs)
			}
		}
		code, stdout, errs := runCmd(t, "report", "-config", matrix, "-exp", exp, "-out", out)
		if code != 0 {
			t.Fatalf("report %s: exit %d: %s", exp, code, errs)
		}
		csv, err := os.ReadFile(filepath.Join(out, exp, "summary.csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(string(csv)), "\n")
		want := map[string]int{"lr_tuning": 2, "augment_2x_vs_3x": 6}[exp]
		if len(rows) != want+1 {
			t.Errorf("%s: summary.csv has %d rows, want header + %d:\n%s", exp, len(rows), want, csv)
		}
		for _, r := range rows[1:] {
			if !strings.Contains(r, "done") {
				t.Errorf("%s: a cell is not done after both shards: %s", exp, r)
			}
		}
		if exp == "augment_2x_vs_3x" && !strings.Contains(stdout, "7.42") {
			t.Errorf("summary lacks the write-up's 7.42%% for ResNet-56 3x:\n%s", stdout)
		}
		f, err := os.Open(filepath.Join(out, exp, "curves.png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: curves.png: %v", exp, err)
		}
		if b := img.Bounds(); b.Dx() < 1200 || b.Dy() < 400 {
			t.Errorf("%s: curves.png is %v, too small to read", exp, b)
		}
	}
}
