package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	line int
	op   string
	args string
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments
// and joining lines that end in a backslash.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(text), "\n") {
		trimmed := strings.TrimSpace(l)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, op: op, args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	return out
}

// TestDockerfileCUDA checks Dockerfile.cuda the way a linter would, since no
// Docker engine runs here or in CI: known instructions, pinned base images,
// sources that exist, an exec-form entry point of repro, and build and
// install steps that are the ones CI runs outside Docker (the cuda build in
// the Makefile's test target, libopenblas0 in .ci/run).
func TestDockerfileCUDA(t *testing.T) {
	root := filepath.Join("..", "..")
	path := filepath.Join(root, "Dockerfile.cuda")
	known := map[string]bool{"ARG": true, "FROM": true, "WORKDIR": true, "COPY": true, "RUN": true, "ENV": true, "VOLUME": true, "ENTRYPOINT": true, "CMD": true, "LABEL": true}
	args := map[string]string{}
	var froms []string
	var entry, build string
	env := map[string]string{}
	for _, in := range parseDockerfile(t, path) {
		if !known[in.op] {
			t.Errorf("%s:%d: unknown or unexpected instruction %q", path, in.line, in.op)
			continue
		}
		switch in.op {
		case "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case "FROM":
			img, _, _ := strings.Cut(in.args, " ")
			img = regexp.MustCompile(`\$\{(\w+)\}`).ReplaceAllStringFunc(img, func(m string) string { return args[m[2:len(m)-1]] })
			froms = append(froms, img)
			if name, tag, ok := strings.Cut(img, ":"); !ok || tag == "" || tag == "latest" || name == "" {
				t.Errorf("%s:%d: base image %q: want a pinned tag", path, in.line, img)
			}
		case "COPY":
			fields := strings.Fields(in.args)
			if strings.HasPrefix(fields[0], "--from=") {
				continue
			}
			for _, src := range fields[:len(fields)-1] {
				if src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("%s:%d: COPY source %s is not in the repository", path, in.line, src)
				}
			}
		case "RUN":
			if strings.Contains(in.args, "go build") {
				build = in.args
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "ENTRYPOINT":
			var e []string
			if err := json.Unmarshal([]byte(in.args), &e); err != nil {
				t.Errorf("%s:%d: ENTRYPOINT %s: want the exec (JSON) form, so that signals reach repro: %v", path, in.line, in.args, err)
			}
			entry = strings.Join(e, " ")
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:") || !strings.Contains(froms[1], "cudnn") {
		t.Errorf("base images %q: want a Go build stage, then an NVIDIA image with cuDNN", froms)
	}
	if entry != "repro" {
		t.Errorf("entry point %q, want repro", entry)
	}
	if env["REPRO_CACHE"] == "" || env["REPRO_DOWNLOAD"] != "1" {
		t.Errorf("ENV %v: want REPRO_CACHE set and REPRO_DOWNLOAD=1, so that `docker run repro -exp NAME` fetches the data once into the cache volume", env)
	}
	// the build step is the one CI runs (make test), output path aside
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(build, "/out/repro", "$(CUDA_CHECK_BIN)", 1)
	if build == "" || !strings.Contains(string(mk), strings.Replace(want, "go build", "$(GO) build", 1)) {
		t.Errorf("the Dockerfile's build step %q is not what the Makefile's test target runs", build)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "device", "runs"} {
		if !slices.Contains(strings.Fields(string(ignore)), p) {
			t.Errorf(".dockerignore does not exclude %s, which `COPY . .` would send into the build", p)
		}
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "libopenblas0") {
		t.Error(".ci/run does not install libopenblas0, which the image installs for the CPU fallback")
	}
}

// TestDownloadDefaultFromEnv: the container sets REPRO_DOWNLOAD=1 so that
// the first run fetches the data set without a flag.
func TestDownloadDefaultFromEnv(t *testing.T) {
	t.Setenv("REPRO_DOWNLOAD", "1")
	t.Setenv("REPRO_CACHE", t.TempDir())
	var out, errb strings.Builder
	_ = mainErr([]string{"-h"}, &out, &errb)
	_, usage, _ := strings.Cut(errb.String(), "  -download")
	usage, _, _ = strings.Cut(usage, "\n  -")
	if !strings.Contains(usage, "(default true)") {
		t.Errorf("with REPRO_DOWNLOAD=1, -download should default to true:\n%s", errb.String())
	}
}
