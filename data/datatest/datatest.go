// Package datatest finds the shared test data of the repository for tests.
//
// The real-data archive is ../shared/data/cifar10-jpg.tar.gz beside the
// repository root (see DESIGN.md section 5), or the file named by the
// REPRO_CIFAR_JPG environment variable, or cifar10-jpg.tar.gz in the folder
// named by REPRO_TEST_DATA. Tests that need it fail, never skip,
// when it is missing, because CI has it.
package datatest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvCIFARJPEG names the environment variable that overrides the location of
// cifar10-jpg.tar.gz.
const EnvCIFARJPEG = "REPRO_CIFAR_JPG"

// EnvData names the environment variable that names a folder holding the
// shared data files (cifar10-jpg.tar.gz).
const EnvData = "REPRO_TEST_DATA"

// jpegArchive is the file name of the shared archive.
const jpegArchive = "cifar10-jpg.tar.gz"

// CIFARJPEG returns the path of cifar10-jpg.tar.gz: $REPRO_CIFAR_JPG when set,
// else $REPRO_TEST_DATA/cifar10-jpg.tar.gz when REPRO_TEST_DATA is set, otherwise ../shared/data/cifar10-jpg.tar.gz relative to the repository root,
// found by walking up from the test's working directory to the folder holding
// go.mod. It calls t.Fatal, saying where it looked, when the file is missing.
func CIFARJPEG(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvCIFARJPEG); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			t.Fatalf("datatest: $%s=%q is not a readable file (%v); point it at cifar10-jpg.tar.gz", EnvCIFARJPEG, p, err)
		}
		return p
	}
	if d := os.Getenv(EnvData); d != "" {
		p := filepath.Join(d, jpegArchive)
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			t.Fatalf("datatest: $%s=%q does not hold a readable %s (%v)", EnvData, d, jpegArchive, err)
		}
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("datatest: working directory: %v", err)
	}
	root := ""
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if root == "" {
		t.Fatalf("datatest: no go.mod found in %s or any parent, so the repository root and ../shared/data/cifar10-jpg.tar.gz cannot be located; set $%s or $%s", wd, EnvCIFARJPEG, EnvData)
	}
	p := filepath.Join(filepath.Dir(root), "shared", "data", jpegArchive)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("datatest: CIFAR-10 JPEG archive not found at %s (repository root %s + ../shared/data/%s; neither $%s nor $%s is set): %v", p, root, jpegArchive, EnvCIFARJPEG, EnvData, err)
	}
	return p
}
