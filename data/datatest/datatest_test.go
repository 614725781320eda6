package datatest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalTB records the message of Fatalf and stops its goroutine, like the
// real one.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// call runs CIFARJPEG with a recording TB and returns its result or the
// fatal message.
func call(t *testing.T) (path, fatal string) {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = CIFARJPEG(f)
	}()
	<-done
	return path, f.msg
}

func TestCIFARJPEGEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.tar.gz")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCIFARJPEG, file)
	if p, msg := call(t); p != file || msg != "" {
		t.Errorf("got %q, fatal %q", p, msg)
	}
	t.Setenv(EnvCIFARJPEG, filepath.Join(dir, "missing.tar.gz"))
	if _, msg := call(t); !strings.Contains(msg, "missing.tar.gz") || !strings.Contains(msg, EnvCIFARJPEG) {
		t.Errorf("fatal %q does not say where it looked", msg)
	}
	t.Setenv(EnvCIFARJPEG, "")
	t.Setenv(EnvData, dir)
	if _, msg := call(t); !strings.Contains(msg, dir) || !strings.Contains(msg, EnvData) {
		t.Errorf("fatal %q does not say where it looked", msg)
	}
}

func TestCIFARJPEGWalk(t *testing.T) {
	t.Setenv(EnvCIFARJPEG, "")
	t.Setenv(EnvData, "")
	// A fake repository root with no ../shared beside it.
	root := filepath.Join(t.TempDir(), "repo")
	sub := filepath.Join(root, "data")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	want := filepath.Join(filepath.Dir(root), "shared", "data", "cifar10-jpg.tar.gz")
	if _, msg := call(t); !strings.Contains(msg, want) {
		t.Errorf("fatal %q does not name %s", msg, want)
	}
	// With the archive in place it is found.
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, msg := call(t); p != want || msg != "" {
		t.Errorf("got %q, fatal %q", p, msg)
	}
}
