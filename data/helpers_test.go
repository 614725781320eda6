package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarEntry is one entry of a synthetic archive; a name ending in "/" is a
// folder.
type tarEntry struct {
	name string
	data []byte
}

// writeTarGz writes entries as a gzip-compressed tar file at p.
func writeTarGz(t testing.TB, p string, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e.name, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes data at p, creating its folders.
func writeFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err is non-nil, on one line, and contains every one of
// parts.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, expected one containing %q", parts)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not contain %q", msg, p)
		}
	}
}

// newImages builds a set from labels and a pixel function.
func newImages(c, size int, classes []string, labels []uint8, px func(i, k int) uint8) *Images {
	n := len(labels)
	im := &Images{N: n, C: c, Size: size, Pixels: make([]uint8, n*c*size*size),
		Labels: append([]uint8(nil), labels...), Classes: classes}
	for i := range n {
		img := im.Image(i)
		for k := range img {
			img[k] = px(i, k)
		}
	}
	return im
}
