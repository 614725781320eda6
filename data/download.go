package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// The official CIFAR-10 binary release.
const (
	CIFAR10BinaryURL  = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	CIFAR10BinaryFile = "cifar-10-binary.tar.gz"
	// CIFAR10BinaryMD5 is the MD5 that the CIFAR page
	// (https://www.cs.toronto.edu/~kriz/cifar.html, table of downloads,
	// "CIFAR-10 binary version (suitable for C programs)", 162 MB) publishes
	// for cifar-10-binary.tar.gz. Not written from memory: it was read from
	// public loaders that check it, e.g. aria-ml/dataeval
	// src/dataeval/utils/data/datasets/_cifar10.py (DataLocation checksum,
	// md5=True), and from a copy of the CIFAR page's table quoted in another
	// public repository; they agree.
	CIFAR10BinaryMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
)

// Download fetches the official binary release (CIFAR10BinaryURL) into
// cacheDir unless a verified copy is already there, and returns the archive
// path. See DownloadFrom.
func Download(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	return DownloadFrom(ctx, CIFAR10BinaryURL, CIFAR10BinaryMD5, cacheDir, CIFAR10BinaryFile, progress)
}

// DownloadFrom fetches url into cacheDir/fileName unless a file with MD5
// wantMD5hex is already there (then no request is made), and returns its
// path. The body goes to a temporary file in cacheDir (fileName.*.partial)
// that is removed on any failure; only after the MD5 matches is it synced and
// renamed into place, so a failed or partial download leaves nothing that
// looks complete. A cached file with another MD5 is replaced.
//
// progress, when non-nil, receives a progress bar if it is a terminal, and
// otherwise at most one line per 10% of the download.
func DownloadFrom(ctx context.Context, url, wantMD5hex, cacheDir, fileName string, progress io.Writer) (string, error) {
	want, err := hex.DecodeString(wantMD5hex)
	if err != nil || len(want) != md5.Size {
		return "", fmt.Errorf("download %s: checksum %q, expected 32 hex digits of an MD5", url, wantMD5hex)
	}
	if fileName == "" || fileName == "." || fileName == ".." || strings.ContainsAny(fileName, `/\`) {
		return "", fmt.Errorf("download %s: file name %q, expected a plain file name", url, fileName)
	}
	final := filepath.Join(cacheDir, fileName)
	if sum, err := fileMD5(final); err == nil && sum == strings.ToLower(wantMD5hex) {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	tmp, err := os.CreateTemp(cacheDir, fileName+".*.partial")
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: server answered %s, expected 200 OK", url, resp.Status)
	}
	h := md5.New()
	var w io.Writer = io.MultiWriter(tmp, h)
	var bar *progressbar.ProgressBar
	var lines *tenthLines
	if progress != nil {
		if isTerminal(progress) {
			bar = progressbar.NewOptions64(resp.ContentLength,
				progressbar.OptionSetWriter(progress),
				progressbar.OptionSetDescription(fileName),
				progressbar.OptionShowBytes(true),
				progressbar.OptionShowTotalBytes(true),
				progressbar.OptionSetWidth(20),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
				progressbar.OptionSetRenderBlankState(true),
			)
			w = io.MultiWriter(w, bar)
		} else {
			lines = &tenthLines{out: progress, name: fileName, total: resp.ContentLength}
			w = io.MultiWriter(w, lines)
		}
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if resp.ContentLength >= 0 {
			return "", fmt.Errorf("download %s: truncated: expected %d bytes, got %d: %w", url, resp.ContentLength, n, err)
		}
		return "", fmt.Errorf("download %s: after %d bytes: %w", url, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", fmt.Errorf("download %s: truncated: expected %d bytes, got %d", url, resp.ContentLength, n)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(wantMD5hex) {
		return "", fmt.Errorf("download %s: %d bytes with MD5 %s, expected the published %s; the download is corrupt or incomplete", url, n, got, strings.ToLower(wantMD5hex))
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if lines != nil {
		lines.finish()
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("download %s: sync %w", url, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("download %s: close %w", url, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		os.Remove(tmp.Name())
		done = true
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	done = true
	// Make the rename durable; failing to sync a folder is not fatal.
	if d, err := os.Open(cacheDir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return final, nil
}

// fileMD5 returns the hex MD5 of the file at p.
func fileMD5(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isTerminal reports whether w is a file connected to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// finish writes the closing line when the total was unknown.
func (t *tenthLines) finish() {
	if t.total <= 0 {
		fmt.Fprintf(t.out, "%s: %.1f MB downloaded\n", t.name, float64(t.n)/1e6)
	}
}

// tenthLines writes one line each time the download crosses a 10% mark of
// total, or a single line at the end when total is unknown (< 0); it counts
// bytes through Write.
type tenthLines struct {
	out   io.Writer
	name  string
	total int64
	n     int64
	tenth int64 // last 10% mark reported
}

func (t *tenthLines) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	if t.total > 0 {
		if k := t.n * 10 / t.total; k > t.tenth {
			t.tenth = min(k, 10)
			fmt.Fprintf(t.out, "%s: %d%% (%.1f of %.1f MB)\n", t.name, t.tenth*10, float64(t.n)/1e6, float64(t.total)/1e6)
		}
	}
	return len(p), nil
}
