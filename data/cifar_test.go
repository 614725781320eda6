package data

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// synthRecords is the record count of synthetic batch files.
const synthRecords = 7

// synthLabel and synthPixel define the content of synthetic batch b (0..4
// train, 5 test), record r, value k (0..3071).
func synthLabel(b, r int) uint8    { return uint8((b*3 + r) % 10) }
func synthPixel(b, r, k int) uint8 { return uint8(b*31 + r*7 + k*13 + k/1024) }

// synthBatch returns batch file b of synthRecords records.
func synthBatch(b int) []byte {
	out := make([]byte, 0, synthRecords*cifarRecordBytes)
	for r := range synthRecords {
		out = append(out, synthLabel(b, r))
		for k := range cifarImageBytes {
			out = append(out, synthPixel(b, r, k))
		}
	}
	return out
}

func batchNames() []string { return append(cifarTrainFiles(), cifarTestFile) }

// writeBinaryDir writes the six synthetic batch files into dir.
func writeBinaryDir(t *testing.T, dir string) {
	for b, f := range batchNames() {
		writeFile(t, filepath.Join(dir, f), synthBatch(b))
	}
}

// binaryArchive returns the entries of a synthetic cifar-10-binary.tar.gz,
// test batch first to show that order does not matter.
func binaryArchive() []tarEntry {
	es := []tarEntry{{name: cifarBinFolder + "/"}, {name: cifarBinFolder + "/batches.meta.txt", data: []byte("airplane\n")}}
	es = append(es, tarEntry{name: cifarBinFolder + "/" + cifarTestFile, data: synthBatch(5)})
	for b, f := range cifarTrainFiles() {
		es = append(es, tarEntry{name: cifarBinFolder + "/" + f, data: synthBatch(b)})
	}
	return es
}

// checkSynthetic verifies train and test against the synthetic content.
func checkSynthetic(t *testing.T, train, test *Images) {
	t.Helper()
	for _, s := range []*Images{train, test} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.C != 3 || s.Size != 32 || !slices.Equal(s.Classes, CIFAR10Classes()) {
			t.Fatalf("geometry C=%d Size=%d classes %v", s.C, s.Size, s.Classes)
		}
	}
	if train.N != 5*synthRecords || test.N != synthRecords {
		t.Fatalf("train %d test %d images, expected %d and %d", train.N, test.N, 5*synthRecords, synthRecords)
	}
	check := func(s *Images, b, r, i int) {
		if s.Labels[i] != synthLabel(b, r) {
			t.Fatalf("batch %d record %d: label %d, expected %d", b, r, s.Labels[i], synthLabel(b, r))
		}
		for k, v := range s.Image(i) {
			if v != synthPixel(b, r, k) {
				t.Fatalf("batch %d record %d value %d: %d, expected %d", b, r, k, v, synthPixel(b, r, k))
			}
		}
	}
	for b := range 5 {
		for r := range synthRecords {
			check(train, b, r, b*synthRecords+r)
		}
	}
	for r := range synthRecords {
		check(test, 5, r, r)
	}
}

func TestReadCIFARBinaryExact(t *testing.T) {
	im, err := ReadCIFARBinary(bytes.NewReader(synthBatch(2)), "b.bin", synthRecords)
	if err != nil {
		t.Fatal(err)
	}
	if im.N != synthRecords || len(im.Pixels) != synthRecords*3072 {
		t.Fatalf("N=%d, %d pixels", im.N, len(im.Pixels))
	}
	for r := range synthRecords {
		if im.Labels[r] != synthLabel(2, r) {
			t.Fatalf("label %d", r)
		}
		// Planes: value k = c*1024 + y*32 + x.
		img := im.Image(r)
		if img[1024+5*32+7] != synthPixel(2, r, 1024+5*32+7) {
			t.Fatalf("record %d: G(5,7) wrong", r)
		}
		if !bytes.Equal(img, synthBatch(2)[r*3073+1:(r+1)*3073]) {
			t.Fatalf("record %d differs", r)
		}
	}
}

func TestReadCIFARBinaryBad(t *testing.T) {
	good := synthBatch(0)
	t.Run("truncated", func(t *testing.T) {
		_, err := ReadCIFARBinary(bytes.NewReader(good[:len(good)-100]), "data_batch_1.bin", synthRecords)
		wantErr(t, err, "data_batch_1.bin", "truncated", "expected 21511 bytes", "found 21411")
	})
	t.Run("empty", func(t *testing.T) {
		_, err := ReadCIFARBinary(bytes.NewReader(nil), "data_batch_1.bin", synthRecords)
		wantErr(t, err, "data_batch_1.bin", "truncated", "found 0")
	})
	t.Run("too long", func(t *testing.T) {
		_, err := ReadCIFARBinary(bytes.NewReader(append(slices.Clone(good), 1, 2, 3)), "data_batch_1.bin", synthRecords)
		wantErr(t, err, "data_batch_1.bin", "expected 21511 bytes", "found 21514")
	})
	t.Run("label", func(t *testing.T) {
		bad := slices.Clone(good)
		bad[3*3073] = 10
		_, err := ReadCIFARBinary(bytes.NewReader(bad), "data_batch_1.bin", synthRecords)
		wantErr(t, err, "data_batch_1.bin", "record 3", "label 10", "expected 0..9")
	})
	t.Run("records", func(t *testing.T) {
		_, err := ReadCIFARBinary(bytes.NewReader(good), "x.bin", 0)
		wantErr(t, err, "x.bin")
	})
}

func TestOpenBinaryFolder(t *testing.T) {
	cfg := openConfig{records: synthRecords}
	t.Run("flat", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, dir)
		train, test, err := openWith(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkSynthetic(t, train, test)
	})
	t.Run("subfolder", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, filepath.Join(dir, cifarBinFolder))
		train, test, err := openWith(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkSynthetic(t, train, test)
	})
	t.Run("official size is required by Open", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, dir)
		_, _, err := Open(dir)
		wantErr(t, err, filepath.Join(dir, "data_batch_1.bin"), "truncated", "expected 30730000 bytes", "found 21511")
	})
	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, dir)
		os.Remove(filepath.Join(dir, "data_batch_3.bin"))
		_, _, err := openWith(dir, cfg)
		wantErr(t, err, dir, "missing batch file data_batch_3.bin")
		if strings.Contains(err.Error(), "data_batch_2.bin,") {
			t.Errorf("error names a present file: %v", err)
		}
	})
	t.Run("bad label", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, dir)
		b := synthBatch(5)
		b[0] = 200
		writeFile(t, filepath.Join(dir, cifarTestFile), b)
		_, _, err := openWith(dir, cfg)
		wantErr(t, err, filepath.Join(dir, cifarTestFile), "label 200")
	})
	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		writeBinaryDir(t, dir)
		writeFile(t, filepath.Join(dir, "data_batch_4.bin"), synthBatch(3)[:5000])
		_, _, err := openWith(dir, cfg)
		wantErr(t, err, filepath.Join(dir, "data_batch_4.bin"), "truncated", "found 5000")
	})
	t.Run("not a data set", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "readme.txt"), []byte("hi"))
		_, _, err := openWith(dir, cfg)
		wantErr(t, err, dir, "not a data set", "data_batch_1.bin")
	})
	t.Run("no such path", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nope")
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p)
	})
}

func TestOpenBinaryArchive(t *testing.T) {
	cfg := openConfig{records: synthRecords}
	dir := t.TempDir()
	t.Run("ok", func(t *testing.T) {
		p := filepath.Join(dir, "cifar-10-binary.tar.gz")
		writeTarGz(t, p, binaryArchive())
		train, test, err := openWith(p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkSynthetic(t, train, test)
	})
	t.Run("tgz without folder", func(t *testing.T) {
		p := filepath.Join(dir, "flat.tgz")
		var es []tarEntry
		for b, f := range batchNames() {
			es = append(es, tarEntry{name: "./" + f, data: synthBatch(b)})
		}
		writeTarGz(t, p, es)
		train, test, err := openWith(p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkSynthetic(t, train, test)
	})
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(dir, "missing.tar.gz")
		es := binaryArchive()
		es = slices.DeleteFunc(es, func(e tarEntry) bool { return strings.HasSuffix(e.name, "data_batch_5.bin") })
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, "missing batch file data_batch_5.bin")
	})
	t.Run("truncated entry", func(t *testing.T) {
		p := filepath.Join(dir, "trunc.tar.gz")
		es := binaryArchive()
		es[3].data = es[3].data[:3073*2+10]
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, es[3].name, "truncated", "expected 21511 bytes", "found 6156")
	})
	t.Run("bad label", func(t *testing.T) {
		p := filepath.Join(dir, "label.tar.gz")
		es := binaryArchive()
		es[4].data = slices.Clone(es[4].data)
		es[4].data[3073] = 77
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, es[4].name, "record 1", "label 77")
	})
	t.Run("corrupt gzip header", func(t *testing.T) {
		p := filepath.Join(dir, "corrupt.tar.gz")
		writeFile(t, p, []byte("this is not gzip at all"))
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, "gzip")
	})
	t.Run("corrupt gzip body", func(t *testing.T) {
		p := filepath.Join(dir, "body.tar.gz")
		writeTarGz(t, p, binaryArchive())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(raw) / 3; i < len(raw)/3+64; i++ {
			raw[i] ^= 0x5a
		}
		writeFile(t, p, raw)
		_, _, err = openWith(p, cfg)
		wantErr(t, err, p)
	})
	t.Run("cut gzip", func(t *testing.T) {
		p := filepath.Join(dir, "cut.tar.gz")
		writeTarGz(t, p, binaryArchive())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, raw[:len(raw)/2])
		_, _, err = openWith(p, cfg)
		wantErr(t, err, p)
	})
	t.Run("bad gzip checksum", func(t *testing.T) {
		p := filepath.Join(dir, "crc.tar.gz")
		writeTarGz(t, p, binaryArchive())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)-8] ^= 0xff // the CRC-32 of the gzip trailer
		writeFile(t, p, raw)
		_, _, err = openWith(p, cfg)
		wantErr(t, err, p, "gzip", "checksum")
	})
	t.Run("absolute path", func(t *testing.T) {
		p := filepath.Join(dir, "abs.tar.gz")
		es := append([]tarEntry{{name: "/etc/evil", data: []byte("x")}}, binaryArchive()...)
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, `"/etc/evil"`, "absolute")
	})
	t.Run("dotdot", func(t *testing.T) {
		p := filepath.Join(dir, "dotdot.tar.gz")
		es := append(binaryArchive(), tarEntry{name: "cifar-10-batches-bin/../../evil.bin", data: []byte("x")})
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, "evil.bin", "'..'")
	})
	t.Run("duplicate", func(t *testing.T) {
		p := filepath.Join(dir, "dup.tar.gz")
		es := append(binaryArchive(), tarEntry{name: "cifar-10-batches-bin/test_batch.bin", data: synthBatch(5)})
		writeTarGz(t, p, es)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, "test_batch.bin", "twice")
	})
	t.Run("empty archive", func(t *testing.T) {
		p := filepath.Join(dir, "empty.tar.gz")
		writeTarGz(t, p, nil)
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, "not a data set")
	})
	t.Run("other extension", func(t *testing.T) {
		p := filepath.Join(dir, "data.zip")
		writeFile(t, p, []byte("PK"))
		_, _, err := openWith(p, cfg)
		wantErr(t, err, p, ".tar.gz")
	})
}

func TestValidate(t *testing.T) {
	good := newImages(3, 2, []string{"a", "b"}, []uint8{0, 1, 1}, func(i, k int) uint8 { return uint8(i + k) })
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := good.Image(1); len(got) != 12 || got[0] != 1 || cap(got) != 12 {
		t.Fatalf("Image(1) = %v (cap %d)", got, cap(got))
	}
	bad := *good
	bad.Labels = []uint8{0, 2, 1}
	wantErr(t, bad.Validate(), "label 2")
	bad = *good
	bad.Pixels = bad.Pixels[:5]
	wantErr(t, bad.Validate(), "pixel values")
	bad = *good
	bad.Labels = bad.Labels[:2]
	wantErr(t, bad.Validate(), "labels")
	bad = *good
	bad.Classes = nil
	wantErr(t, bad.Validate(), "classes")
	var nilSet *Images
	wantErr(t, nilSet.Validate(), "nil")
}
