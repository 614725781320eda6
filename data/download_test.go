package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// payload is the body the test servers send.
func payload() []byte {
	b := make([]byte, 300_000)
	r := splitMix64{state: 7}
	for i := range b {
		b[i] = uint8(r.next())
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// serve starts a loopback server answering with h and counting requests.
func serve(t *testing.T, h http.HandlerFunc) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/cifar-10-binary.tar.gz", requests
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestDownloadSuccess(t *testing.T) {
	body := payload()
	url, reqs := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		// Several writes so that progress is reported along the way.
		for i := 0; i < len(body); i += 7000 {
			w.Write(body[i:min(i+7000, len(body))])
		}
	})
	dir := filepath.Join(t.TempDir(), "cache", "sub")
	var progress bytes.Buffer
	p, err := DownloadFrom(context.Background(), url, strings.ToUpper(md5hex(body)), dir, "c.tar.gz", &progress)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, "c.tar.gz") {
		t.Errorf("path %s", p)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("cache holds %v, expected only c.tar.gz", names)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) == 0 || len(lines) > 10 || !strings.Contains(lines[len(lines)-1], "100%") {
		t.Errorf("progress on a non-terminal: %q, expected at most 10 lines ending at 100%%", progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	// A second call finds the verified copy and makes no request.
	p2, err := DownloadFrom(context.Background(), url, md5hex(body), dir, "c.tar.gz", nil)
	if err != nil || p2 != p {
		t.Fatalf("cached: %s, %v", p2, err)
	}
	if n := reqs.Load(); n != 1 {
		t.Errorf("%d requests, expected 1 (the cached copy should be reused)", n)
	}
}

func TestDownloadCached(t *testing.T) {
	body := payload()
	url, reqs := serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("request made although a verified copy was cached")
		http.Error(w, "no", http.StatusInternalServerError)
	})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "c.tar.gz"), body)
	p, err := DownloadFrom(context.Background(), url, md5hex(body), dir, "c.tar.gz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, "c.tar.gz") || reqs.Load() != 0 {
		t.Errorf("path %s, %d requests", p, reqs.Load())
	}
}

func TestDownloadReplacesBadCache(t *testing.T) {
	body := payload()
	url, reqs := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "c.tar.gz"), body[:1000])
	p, err := DownloadFrom(context.Background(), url, md5hex(body), dir, "c.tar.gz", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, body) || reqs.Load() != 1 {
		t.Errorf("bad cached copy not replaced (%d requests)", reqs.Load())
	}
}

func TestDownloadFailures(t *testing.T) {
	body := payload()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		md5     string
		errHas  []string
	}{
		{"wrong checksum", func(w http.ResponseWriter, r *http.Request) { w.Write(body) },
			strings.Repeat("ab", 16), []string{"MD5", md5hex(body), strings.Repeat("ab", 16)}},
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}, md5hex(body), []string{"503", "expected 200"}},
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			md5hex(body), []string{"404"}},
		{"truncated body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body[:len(body)/2])
			// Returning early makes the server close the connection short.
		}, md5hex(body), []string{"truncated", "expected 300000 bytes", "got 150000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, _ := serve(t, c.handler)
			dir := t.TempDir()
			var progress bytes.Buffer
			p, err := DownloadFrom(context.Background(), url, c.md5, dir, "c.tar.gz", &progress)
			wantErr(t, err, append([]string{url}, c.errHas...)...)
			if p != "" {
				t.Errorf("path %q returned with an error", p)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("failed download left %v in the cache", names)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := DownloadFrom(ctx, url, md5hex(body), dir, "c.tar.gz", nil)
		wantErr(t, err, "canceled")
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("cancelled download left %v", names)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		dir := t.TempDir()
		_, err := DownloadFrom(context.Background(), "http://127.0.0.1:1/x", "xyz", dir, "c.tar.gz", nil)
		wantErr(t, err, "xyz", "32 hex digits")
		_, err = DownloadFrom(context.Background(), "http://127.0.0.1:1/x", md5hex(body), dir, "../c.tar.gz", nil)
		wantErr(t, err, "../c.tar.gz", "plain file name")
	})
}

func TestDownloadConstants(t *testing.T) {
	if len(CIFAR10BinaryMD5) != 32 || strings.ToLower(CIFAR10BinaryMD5) != CIFAR10BinaryMD5 {
		t.Errorf("CIFAR10BinaryMD5 %q is not 32 lower-case hex digits", CIFAR10BinaryMD5)
	}
	if _, err := hex.DecodeString(CIFAR10BinaryMD5); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(CIFAR10BinaryURL, "https://") || !strings.HasSuffix(CIFAR10BinaryURL, "/"+CIFAR10BinaryFile) {
		t.Errorf("URL %s", CIFAR10BinaryURL)
	}
}
