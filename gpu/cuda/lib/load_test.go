//go:build cuda

package lib

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The fake libraries (testdata/fake.c) are built once per test binary and
// stay loaded: the fake cuBLAS and cuDNN find the fake driver's log through
// the global symbol scope, so there must be one fake driver in the process.
var fakes struct {
	once sync.Once
	dir  string
	libs *Libs
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakes.dir != "" {
		os.RemoveAll(fakes.dir)
	}
	os.Exit(code)
}

// gcc builds testdata/fake.c into out with the given defines and flags.
func gcc(out string, args ...string) error {
	cmd := exec.Command("gcc", append([]string{"-shared", "-fPIC", "-O1", "-o", out, "testdata/fake.c"}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return errors.New("gcc " + strings.Join(args, " ") + ": " + err.Error() + ": " + string(b) +
			" (gcc is needed to build the fake CUDA libraries these tests load)")
	}
	return nil
}

// buildFakes writes the fake driver, cuBLAS (+ cuBLASLt) and cuDNN (+ three
// sub-libraries, one needing another that sorts after it) into dir.
func buildFakes(dir string, blasFlags ...string) error {
	in := func(name string) string { return filepath.Join(dir, name) }
	steps := [][]string{
		{in("libcuda.so.1"), "-DFAKE_DRIVER"},
		{in("libcublasLt.so.12"), "-DFAKE_BLASLT", "-Wl,-soname,libcublasLt.so.12"},
		// libcublas.so.12 needs libcublasLt.so.12 and has no RUNPATH: it loads
		// only because Load preloads the libcublasLt beside it.
		append([]string{in("libcublas.so.12"), "-DFAKE_BLAS", "-L" + dir, "-l:libcublasLt.so.12"}, blasFlags...),
		{in("libcudnn.so.9"), "-DFAKE_DNN"},
		{in("libcudnn_graph.so.9"), "-DFAKE_SUBLIB", "-DSUBLIB_NAME=fake_graph", "-Wl,-soname,libcudnn_graph.so.9"},
		{in("libcudnn_ops.so.9"), "-DFAKE_SUBLIB", "-DSUBLIB_NAME=fake_ops", "-DSUBLIB_DEP=fake_graph",
			"-Wl,-soname,libcudnn_ops.so.9", "-L" + dir, "-l:libcudnn_graph.so.9"},
		{in("libcudnn_adv.so.9"), "-DFAKE_SUBLIB", "-DSUBLIB_NAME=fake_adv", "-DSUBLIB_DEP=fake_ops",
			"-Wl,-soname,libcudnn_adv.so.9", "-L" + dir, "-l:libcudnn_ops.so.9"},
	}
	for _, s := range steps {
		if err := gcc(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// fakeLibs loads the fake libraries (once).
func fakeLibs(t *testing.T) *Libs {
	t.Helper()
	fakes.once.Do(func() {
		fakes.dir, fakes.err = os.MkdirTemp("", "repro-fake-cuda-")
		if fakes.err == nil {
			fakes.err = buildFakes(fakes.dir)
		}
		if fakes.err == nil {
			fakes.libs, fakes.err = Load([]string{fakes.dir})
		}
	})
	if fakes.err != nil {
		t.Fatal(fakes.err)
	}
	return fakes.libs
}

func checkOneLine(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	return msg
}

// On a machine without CUDA (CI, this development machine: no cuDNN at
// least) Load fails and says what it tried.
func TestLoadReportsEverythingTried(t *testing.T) {
	dir := t.TempDir()
	for _, extra := range [][]string{{dir}, nil} {
		l, err := Load(extra)
		if err == nil {
			t.Skipf("Load(%q) found all three libraries here: %s", extra, l.Describe())
		}
		msg := checkOneLine(t, err)
		t.Log(msg)
		want := []string{"libcudnn.so.9", "libcudnn.so.8", "nvidia/*/lib", "{site,dist}-packages",
			"/usr/local/cuda/lib64", "the loader's default search path", "last dlerror"}
		if extra != nil {
			want = append(want, dir)
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("Load(%q) error lacks %q", extra, w)
			}
		}
		// The driver and cuBLAS may be installed here (Debian's
		// nvidia-cuda-toolkit brings libcublas.so.11 and the driver's
		// libcuda.so.1): then the error says it loaded them.
		for _, lib := range []struct{ name, what string }{{"libcuda.so.1", "CUDA driver"}, {"libcublas.so.12", "cuBLAS"}} {
			if !strings.Contains(msg, lib.name) && !strings.Contains(msg, lib.what+": loaded ") {
				t.Errorf("Load(%q) error neither names %s nor says %s was loaded", extra, lib.name, lib.what)
			}
		}
	}
}

func TestLoadNamesTheFirstMissingSymbol(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libcuda.so.1")
	if err := gcc(lib, "-DFAKE_MIN"); err != nil {
		t.Fatal(err)
	}
	_, err := load([]string{dir}, [3]bool{true, false, false})
	msg := checkOneLine(t, err)
	names, _ := symbolNames(0)
	first := names[0]
	if first == "cuInit" {
		first = names[1]
	}
	for _, w := range []string{lib, "lacks the required symbol " + first, "CUDA driver"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
}

func TestSearchDirs(t *testing.T) {
	venv := t.TempDir()
	wheel := filepath.Join(venv, "lib", "python3.11", "site-packages", "nvidia", "cudnn", "lib")
	if err := os.MkdirAll(wheel, 0o755); err != nil {
		t.Fatal(err)
	}
	conda := t.TempDir()
	if err := os.MkdirAll(filepath.Join(conda, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIRTUAL_ENV", venv)
	t.Setenv("CONDA_PREFIX", conda)
	dirs := SearchDirs([]string{"/x/a/", "", "/x/b", "/x/a"})
	if len(dirs) < 6 || dirs[0] != "/x/a" || dirs[1] != "/x/b" {
		t.Fatalf("SearchDirs = %q: want the explicit folders first, cleaned, without repeats or empties", dirs)
	}
	index := func(d string) int {
		for i, x := range dirs {
			if x == d {
				return i
			}
		}
		return -1
	}
	iw, ic, icuda := index(wheel), index(filepath.Join(conda, "lib")), index("/usr/local/cuda/lib64")
	if iw < 2 || ic < 2 || icuda < 0 || iw > icuda || ic > icuda || dirs[len(dirs)-1] != systemDirs()[1] {
		t.Errorf("SearchDirs = %q: want the explicit folders, then pip/conda folders (%s, %s), then %q",
			dirs, wheel, conda, systemDirs())
	}
}

func TestLoadFakes(t *testing.T) {
	l := fakeLibs(t)
	dir := fakes.dir
	if l.Driver.Dir != dir || l.BLAS.Dir != dir || l.DNN.Dir != dir {
		t.Errorf("loaded from %q, %q, %q; want %q", l.Driver.Dir, l.BLAS.Dir, l.DNN.Dir, dir)
	}
	if got, want := strings.Join(l.BLAS.Companions, " "), filepath.Join(dir, "libcublasLt.so.12"); got != want {
		t.Errorf("cuBLAS companions %q, want %q", got, want)
	}
	var subs []string
	for _, c := range l.DNN.Companions {
		subs = append(subs, filepath.Base(c))
	}
	// adv needs ops, which sorts after it: the second pass loads it.
	if got := strings.Join(subs, " "); got != "libcudnn_graph.so.9 libcudnn_ops.so.9 libcudnn_adv.so.9" {
		t.Errorf("cuDNN companions %q", got)
	}
	if len(l.Warnings) > 0 {
		t.Errorf("warnings: %q", l.Warnings)
	}
	want := "CUDA driver 12.4 (" + dir + "/libcuda.so.1), cuBLAS 12.4.5 (" + dir + "/libcublas.so.12), cuDNN 9.1.0 (" +
		dir + "/libcudnn.so.9)"
	if got := l.Describe(); got != want {
		t.Errorf("Describe() = %q\nwant %q", got, want)
	}
}

func TestVersionStrings(t *testing.T) {
	for v, want := range map[int]string{8907: "8.9.7", 8201: "8.2.1", 90100: "9.1.0", 91200: "9.12.0"} {
		if got := dnnVersionString(v); got != want {
			t.Errorf("dnnVersionString(%d) = %q, want %q", v, got, want)
		}
	}
}

// Opportunistic: where a real driver is installed (a GPU machine, or a
// development machine with Debian's libcuda1), every driver symbol must
// resolve from it and its errors must read like the fake's.
func TestRealDriverIfInstalled(t *testing.T) {
	l, err := load(nil, [3]bool{true, false, false})
	if err != nil {
		t.Skipf("no CUDA driver here: %v", err)
	}
	v, err := l.DriverVersion()
	if err != nil || v < 11000 {
		t.Fatalf("DriverVersion = %d, %v", v, err)
	}
	t.Logf("%s", l.Describe())
	if err := l.Init(); err != nil {
		msg := checkOneLine(t, err)
		if !regexp.MustCompile(`^cuInit: CUDA_ERROR_[A-Z_]+, .+ \(\d+\)$`).MatchString(msg) {
			t.Errorf("cuInit error %q does not read as the driver's name, description (code)", msg)
		}
		t.Logf("no usable GPU: %v", err)
		return
	}
	n, err := l.DeviceCount()
	t.Logf("%d GPUs (%v)", n, err)
}

// Opportunistic: the same for an installed cuBLAS.
func TestRealBLASIfInstalled(t *testing.T) {
	l, err := load(nil, [3]bool{false, true, false})
	if err != nil {
		t.Skipf("no cuBLAS here: %v", err)
	}
	t.Logf("%s", l.Describe())
	if !regexp.MustCompile(`^\d+\.(\d+\.\d+|x)$`).MatchString(l.blasVersionString()) {
		t.Errorf("cuBLAS version %q", l.blasVersionString())
	}
	if s := l.blasStatus(CUBLAS_STATUS_INVALID_VALUE); !strings.HasPrefix(s, "CUBLAS_STATUS_INVALID_VALUE") {
		t.Errorf("status 7 reads %q", s)
	}
}
