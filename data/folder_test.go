package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const treeSize = 8

// pattern is the RGB value of pixel (x, y) of synthetic image id.
func pattern(id, x, y int) (r, g, b uint8) {
	return uint8(id*40 + x*9 + y), uint8(200 - id*11 - y*7), uint8(x*y + id)
}

// pngOf encodes a size x size image of kind rgba, nrgba, gray or paletted
// holding pattern(id) (gray: its red channel; nrgba: alpha varies).
func pngOf(t testing.TB, kind string, id, size int) []byte {
	t.Helper()
	rect := image.Rect(0, 0, size, size)
	var img image.Image
	switch kind {
	case "rgba":
		m := image.NewRGBA(rect)
		for y := range size {
			for x := range size {
				r, g, b := pattern(id, x, y)
				m.SetRGBA(x, y, color.RGBA{r, g, b, 255})
			}
		}
		img = m
	case "nrgba":
		m := image.NewNRGBA(rect)
		for y := range size {
			for x := range size {
				r, g, b := pattern(id, x, y)
				m.SetNRGBA(x, y, color.NRGBA{r, g, b, uint8(100 + x)})
			}
		}
		img = m
	case "gray":
		m := image.NewGray(rect)
		for y := range size {
			for x := range size {
				r, _, _ := pattern(id, x, y)
				m.SetGray(x, y, color.Gray{r})
			}
		}
		img = m
	case "paletted":
		pal := color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}}
		m := image.NewPaletted(rect, pal)
		for y := range size {
			for x := range size {
				m.SetColorIndex(x, y, uint8((x+y)%2))
			}
		}
		img = m
	default:
		t.Fatalf("kind %q", kind)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegOf encodes a constant-colour image.
func jpegOf(t testing.TB, c color.RGBA, size int) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			m.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// treeFiles is the synthetic image tree: relative path -> content.
func treeFiles(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"train/cat/z.jpeg":   jpegOf(t, color.RGBA{250, 10, 120, 255}, treeSize),
		"train/cat/c.png":    pngOf(t, "gray", 3, treeSize),
		"train/ant/b.png":    pngOf(t, "nrgba", 2, treeSize),
		"train/ant/a.png":    pngOf(t, "rgba", 1, treeSize),
		"train/bee/x.JPG":    jpegOf(t, color.RGBA{30, 140, 220, 255}, treeSize),
		"train/bee/notes.md": []byte("ignored"),
		"test/ant/t.png":     pngOf(t, "paletted", 0, treeSize),
		"test/bee/u.png":     pngOf(t, "rgba", 5, treeSize),
		"test/cat/v.jpg":     jpegOf(t, color.RGBA{5, 5, 5, 255}, treeSize),
	}
}

// sortedPaths returns the keys of files sorted, for a reproducible archive.
func sortedPaths(files map[string][]byte) []string {
	var ps []string
	for p := range files {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	for _, p := range sortedPaths(files) {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), files[p])
	}
}

// treeArchive returns the files as tar entries under prefix, with folder entries.
func treeArchive(files map[string][]byte, prefix string) []tarEntry {
	var es []tarEntry
	dirs := map[string]bool{}
	for _, p := range sortedPaths(files) {
		d := prefix + p[:strings.LastIndex(p, "/")+1]
		if !dirs[d] {
			dirs[d] = true
			es = append(es, tarEntry{name: d})
		}
		es = append(es, tarEntry{name: prefix + p, data: files[p]})
	}
	return es
}

// checkTree verifies the sets read from treeFiles.
func checkTree(t *testing.T, train, test *Images) {
	t.Helper()
	for _, s := range []*Images{train, test} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.C != 3 || s.Size != treeSize || !slices.Equal(s.Classes, []string{"ant", "bee", "cat"}) {
			t.Fatalf("C=%d Size=%d classes %v", s.C, s.Size, s.Classes)
		}
	}
	if !slices.Equal(train.Labels, []uint8{0, 0, 1, 2, 2}) || !slices.Equal(test.Labels, []uint8{0, 1, 2}) {
		t.Fatalf("labels train %v test %v", train.Labels, test.Labels)
	}
	at := func(s *Images, i, c, x, y int) uint8 { return s.Image(i)[c*treeSize*treeSize+y*treeSize+x] }
	exact := func(s *Images, i, id int, gray bool) {
		t.Helper()
		for y := range treeSize {
			for x := range treeSize {
				r, g, b := pattern(id, x, y)
				if gray {
					g, b = r, r
				}
				if at(s, i, 0, x, y) != r || at(s, i, 1, x, y) != g || at(s, i, 2, x, y) != b {
					t.Fatalf("image %d (%d,%d) = %d %d %d, expected %d %d %d", i, x, y,
						at(s, i, 0, x, y), at(s, i, 1, x, y), at(s, i, 2, x, y), r, g, b)
				}
			}
		}
	}
	near := func(s *Images, i int, want [3]uint8) {
		t.Helper()
		for c := range 3 {
			for k, v := range s.Image(i)[c*treeSize*treeSize : (c+1)*treeSize*treeSize] {
				if d := int(v) - int(want[c]); d < -3 || d > 3 {
					t.Fatalf("image %d channel %d value %d: %d, expected %d +-3", i, c, k, v, want[c])
				}
			}
		}
	}
	exact(train, 0, 1, false) // ant/a.png, RGBA
	exact(train, 1, 2, false) // ant/b.png, NRGBA: alpha dropped, straight colour kept
	near(train, 2, [3]uint8{30, 140, 220})
	exact(train, 3, 3, true) // cat/c.png, gray
	near(train, 4, [3]uint8{250, 10, 120})
	for y := range treeSize { // test ant/t.png, paletted
		for x := range treeSize {
			want := [3]uint8{10, 20, 30}
			if (x+y)%2 == 1 {
				want = [3]uint8{200, 100, 50}
			}
			for c := range 3 {
				if at(test, 0, c, x, y) != want[c] {
					t.Fatalf("paletted (%d,%d) channel %d: %d, expected %d", x, y, c, at(test, 0, c, x, y), want[c])
				}
			}
		}
	}
	exact(test, 1, 5, false)
	near(test, 2, [3]uint8{5, 5, 5})
}

func TestOpenImageFolder(t *testing.T) {
	files := treeFiles(t)
	dir := t.TempDir()
	writeTree(t, dir, files)
	train, test, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, train, test)
}

func TestOpenImageArchive(t *testing.T) {
	files := treeFiles(t)
	for _, prefix := range []string{"", "./", "cifar10/"} {
		p := filepath.Join(t.TempDir(), "tree.tar.gz")
		writeTarGz(t, p, treeArchive(files, prefix))
		train, test, err := Open(p)
		if err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		checkTree(t, train, test)
	}
	// Without folder entries and in scrambled order: the same result.
	p := filepath.Join(t.TempDir(), "tree.tgz")
	var es []tarEntry
	ps := sortedPaths(files)
	for i := len(ps) - 1; i >= 0; i-- {
		es = append(es, tarEntry{name: ps[i], data: files[ps[i]]})
	}
	writeTarGz(t, p, es)
	train, test, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, train, test)
}

func TestOpenImageFolderBad(t *testing.T) {
	type tc struct {
		name   string
		edit   func(files map[string][]byte)
		errHas []string // besides the source path
	}
	cases := []tc{
		{"other size", func(f map[string][]byte) { f["test/bee/u.png"] = pngOf(t, "rgba", 5, 9) },
			[]string{"u.png", "9x9", "8x8"}},
		{"not square", func(f map[string][]byte) {
			m := image.NewRGBA(image.Rect(0, 0, 8, 6))
			var buf bytes.Buffer
			if err := png.Encode(&buf, m); err != nil {
				t.Fatal(err)
			}
			f["train/ant/a.png"] = buf.Bytes()
		}, []string{"a.png", "8x6", "square"}},
		{"undecodable", func(f map[string][]byte) { f["train/cat/c.png"] = []byte("\x89PNG garbage") },
			[]string{"c.png", "decod"}},
		{"empty class", func(f map[string][]byte) { delete(f, "test/cat/v.jpg"); f["test/cat/readme.txt"] = []byte("x") },
			[]string{"test/cat/", "no images"}},
		{"class mismatch", func(f map[string][]byte) { f["test/dog/d.png"] = pngOf(t, "rgba", 1, 8) },
			[]string{"classes", "dog"}},
		{"no classes", func(f map[string][]byte) {
			for p := range f {
				if strings.HasPrefix(p, "train/") {
					delete(f, p)
				}
			}
			f["train/readme.txt"] = []byte("x")
		}, []string{"train/", "no class folders"}},
	}
	for _, c := range cases {
		t.Run(c.name+"/folder", func(t *testing.T) {
			files := treeFiles(t)
			c.edit(files)
			dir := t.TempDir()
			writeTree(t, dir, files)
			_, _, err := Open(dir)
			wantErr(t, err, append([]string{dir}, c.errHas...)...)
		})
		t.Run(c.name+"/archive", func(t *testing.T) {
			files := treeFiles(t)
			c.edit(files)
			p := filepath.Join(t.TempDir(), "tree.tar.gz")
			writeTarGz(t, p, treeArchive(files, ""))
			_, _, err := Open(p)
			wantErr(t, err, append([]string{p}, c.errHas...)...)
		})
	}
	t.Run("no test folder", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "train", "a", "x.png"), pngOf(t, "rgba", 1, 8))
		_, _, err := Open(dir)
		wantErr(t, err, dir, "no test/")
	})
	t.Run("empty class folder set", func(t *testing.T) {
		dir := t.TempDir()
		for _, s := range []string{"train", "test"} {
			if err := os.MkdirAll(filepath.Join(dir, s), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := Open(dir)
		wantErr(t, err, dir, "no class folders")
	})
	t.Run("archive with both forms", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "both.tar.gz")
		writeTarGz(t, p, append(treeArchive(treeFiles(t), ""), binaryArchive()...))
		_, _, err := openWith(p, openConfig{records: synthRecords})
		wantErr(t, err, p, "both")
	})
	t.Run("two tops", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "tops.tar.gz")
		es := append(treeArchive(treeFiles(t), "a/"), tarEntry{name: "b/train/ant/q.png", data: pngOf(t, "rgba", 1, 8)})
		writeTarGz(t, p, es)
		_, _, err := Open(p)
		wantErr(t, err, p, `"a/"`, `"b/"`)
	})
	t.Run("dotdot image entry", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "evil.tar.gz")
		es := append(treeArchive(treeFiles(t), ""), tarEntry{name: "train/../../x/train/ant/q.png", data: pngOf(t, "rgba", 1, 8)})
		writeTarGz(t, p, es)
		_, _, err := Open(p)
		wantErr(t, err, p, "'..'")
	})
}

// TestToPlanesYCbCr checks the fast YCbCr path against the generic colour
// conversion for every subsampling ratio.
func TestToPlanesYCbCr(t *testing.T) {
	const size = 9
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for _, ratio := range ratios {
		m := image.NewYCbCr(image.Rect(0, 0, size, size), ratio)
		rng := splitMix64{state: uint64(ratio)}
		for i := range m.Y {
			m.Y[i] = uint8(rng.next())
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(rng.next()), uint8(rng.next())
		}
		fast := make([]uint8, 3*size*size)
		toPlanes(m, fast, size)
		slow := make([]uint8, 3*size*size)
		toPlanesGeneric(m, slow[:size*size], slow[size*size:2*size*size], slow[2*size*size:], size)
		if !slices.Equal(fast, slow) {
			t.Errorf("ratio %v: fast path differs from the generic conversion", ratio)
		}
	}
}
