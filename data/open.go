package data

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// openConfig holds what Open fixes for the official release; tests shrink it.
type openConfig struct {
	records int // records per binary batch file
}

// Open reads a data set from path, detecting its form:
//
//   - the official CIFAR-10 binary release: a folder holding
//     data_batch_1.bin..data_batch_5.bin and test_batch.bin of 10000 records
//     each (directly or in a subfolder cifar-10-batches-bin), or the
//     cifar-10-binary.tar.gz archive itself, read entry by entry from the
//     gzip stream;
//   - an image folder: train/<class>/*.png|*.jpg|*.jpeg and
//     test/<class>/..., the class folder names sorted give the labels (for
//     CIFAR-10 that is exactly the official order), or a .tar.gz (.tgz) of
//     that layout, optionally under one top folder. Every class folder must
//     hold at least one image, train and test must have the same classes,
//     other files are ignored. Images are converted to RGB (gray, RGBA and
//     paletted images included; alpha is dropped) and must all be square and
//     of the size of the first training image.
//
// It returns the train and test sets, each in a deterministic order: binary
// form in file order, folder form by class, then by file name.
func Open(path string) (train, test *Images, err error) {
	return openWith(path, openConfig{records: cifarBatchRecords})
}

func openWith(p string, cfg openConfig) (train, test *Images, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open data set: %w", err)
	}
	if st.IsDir() {
		return openDir(p, cfg)
	}
	lower := strings.ToLower(p)
	if strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") {
		return openArchive(p, cfg)
	}
	return nil, nil, fmt.Errorf("%s: not a data set: expected a folder or a .tar.gz/.tgz archive", p)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// openDir reads a binary release folder or an image folder tree.
func openDir(dir string, cfg openConfig) (train, test *Images, err error) {
	for _, d := range []string{dir, filepath.Join(dir, cifarBinFolder)} {
		for _, f := range append(cifarTrainFiles(), cifarTestFile) {
			if exists(filepath.Join(d, f)) {
				return openBinaryDir(d, cfg)
			}
		}
	}
	hasTrain, hasTest := isDir(filepath.Join(dir, "train")), isDir(filepath.Join(dir, "test"))
	switch {
	case hasTrain && hasTest:
		return openImageDir(dir)
	case hasTrain:
		return nil, nil, fmt.Errorf("%s: has train/ but no test/ folder", dir)
	case hasTest:
		return nil, nil, fmt.Errorf("%s: has test/ but no train/ folder", dir)
	}
	return nil, nil, fmt.Errorf("%s: not a data set: expected data_batch_1.bin..data_batch_5.bin and test_batch.bin (there or in %s/), or train/<class>/ and test/<class>/ image folders", dir, cifarBinFolder)
}

func openBinaryDir(dir string, cfg openConfig) (train, test *Images, err error) {
	var missing []string
	for _, f := range append(cifarTrainFiles(), cifarTestFile) {
		if !exists(filepath.Join(dir, f)) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%s: missing batch file %s (expected data_batch_1.bin..data_batch_5.bin and test_batch.bin)", dir, strings.Join(missing, ", "))
	}
	cb := newCIFARBinary(cfg.records)
	for _, f := range append(cifarTrainFiles(), cifarTestFile) {
		name := filepath.Join(dir, f)
		if err := readBinaryFile(cb, f, name); err != nil {
			return nil, nil, err
		}
	}
	return cb.train, cb.test, nil
}

func readBinaryFile(cb *cifarBinary, base, name string) error {
	fh, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open batch file: %w", err)
	}
	defer fh.Close()
	return cb.read(base, fh, name)
}

// maxImageEntry bounds the size of one image file read from an archive, so
// that a corrupt header cannot make us allocate without limit.
const maxImageEntry = 64 << 20

// archivePath checks an archive entry name and returns it cleaned, with
// any leading "./" removed. Absolute names and names with ".." are refused.
func archivePath(archive, name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || (len(name) > 1 && name[1] == ':') {
		return "", fmt.Errorf("%s: entry %q has an absolute path, expected a relative one", archive, name)
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%s: entry %q contains '..', expected a path inside the archive", archive, name)
		}
	}
	return path.Clean(name), nil
}

// splitIndex returns 0 for "train", 1 for "test" and -1 otherwise.
func splitIndex(s string) int {
	switch s {
	case "train":
		return 0
	case "test":
		return 1
	}
	return -1
}

// folderTree collects the entries of an image folder tree.
type folderTree struct {
	src     string             // archive or folder, for errors
	classes [2]map[string]bool // class folders seen, per split
	entries []imageEntry
	prefix  string // the top folder of an archive, "" when none
	prefSet bool
}

func newFolderTree(src string) *folderTree {
	return &folderTree{src: src, classes: [2]map[string]bool{{}, {}}}
}

// place interprets the parts of a cleaned archive path as
// [prefix/](train|test)/class[/file] and returns split, class and rest; ok is
// false when it is not such a path.
func (ft *folderTree) place(parts []string, withFile bool) (split int, class, file string, ok bool, err error) {
	n := 2
	if withFile {
		n = 3
	}
	var prefix string
	switch {
	case len(parts) == n && splitIndex(parts[0]) >= 0:
	case len(parts) == n+1 && splitIndex(parts[1]) >= 0:
		prefix, parts = parts[0], parts[1:]
	default:
		return 0, "", "", false, nil
	}
	if !ft.prefSet {
		ft.prefix, ft.prefSet = prefix, true
	} else if prefix != ft.prefix {
		return 0, "", "", false, fmt.Errorf("%s: train/ and test/ under both %q and %q, expected one tree", ft.src, ft.prefix+"/", prefix+"/")
	}
	if withFile {
		file = parts[2]
	}
	return splitIndex(parts[0]), parts[1], file, true, nil
}

// openArchive reads a .tar.gz holding either the binary release or an image
// folder tree, entry by entry, in memory.
func openArchive(p string, cfg openConfig) (train, test *Images, err error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open archive: %w", err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: not a gzip stream: %w", p, err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)

	var cb *cifarBinary
	ft := newFolderTree(p)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: reading archive: %w", p, err)
		}
		name, err := archivePath(p, hdr.Name)
		if err != nil {
			return nil, nil, err
		}
		parts := strings.Split(name, "/")
		switch hdr.Typeflag {
		case tar.TypeDir:
			split, class, _, ok, err := ft.place(parts, false)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				ft.classes[split][class] = true
			}
		case tar.TypeReg:
			base := parts[len(parts)-1]
			if cifarBatchIndex(base) >= 0 && len(parts) <= 2 {
				if cb == nil {
					cb = newCIFARBinary(cfg.records)
				}
				if err := cb.read(base, tr, p+": "+name); err != nil {
					return nil, nil, err
				}
				continue
			}
			if !isImageName(base) {
				continue
			}
			split, class, file, ok, err := ft.place(parts, true)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
			if hdr.Size > maxImageEntry {
				return nil, nil, fmt.Errorf("%s: %s: %d bytes, expected an image file under %d bytes", p, name, hdr.Size, maxImageEntry)
			}
			buf := make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, buf); err != nil {
				return nil, nil, fmt.Errorf("%s: %s: reading archive: %w", p, name, err)
			}
			ft.classes[split][class] = true
			ft.entries = append(ft.entries, imageEntry{split: split, class: class, file: file, display: p + ": " + name, data: buf})
		}
	}
	// Read the gzip stream to its end so that its CRC and length are checked.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, nil, fmt.Errorf("%s: reading gzip stream after the tar end: %w", p, err)
	}
	switch {
	case cb != nil && len(ft.entries) > 0:
		return nil, nil, fmt.Errorf("%s: holds both CIFAR-10 batch files and train/ test/ image folders, expected one form", p)
	case cb != nil:
		if m := cb.missing(); len(m) > 0 {
			return nil, nil, fmt.Errorf("%s: missing batch file %s (expected data_batch_1.bin..data_batch_5.bin and test_batch.bin)", p, strings.Join(m, ", "))
		}
		return cb.train, cb.test, nil
	case len(ft.entries) > 0 || len(ft.classes[0]) > 0 || len(ft.classes[1]) > 0:
		return ft.assemble()
	}
	return nil, nil, fmt.Errorf("%s: not a data set: expected %s/data_batch_1.bin..data_batch_5.bin and test_batch.bin, or train/<class>/ and test/<class>/ image folders", p, cifarBinFolder)
}

// openImageDir lists dir/train/<class>/ and dir/test/<class>/.
func openImageDir(dir string) (train, test *Images, err error) {
	ft := newFolderTree(dir)
	for split, sname := range []string{"train", "test"} {
		sdir := filepath.Join(dir, sname)
		classes, err := os.ReadDir(sdir)
		if err != nil {
			return nil, nil, fmt.Errorf("list %s folder: %w", sname, err)
		}
		for _, c := range classes {
			if strings.HasPrefix(c.Name(), ".") || !isDirEntry(sdir, c) {
				continue
			}
			ft.classes[split][c.Name()] = true
			cdir := filepath.Join(sdir, c.Name())
			files, err := os.ReadDir(cdir)
			if err != nil {
				return nil, nil, fmt.Errorf("list class folder: %w", err)
			}
			for _, f := range files {
				if !isImageName(f.Name()) || isDirEntry(cdir, f) {
					continue
				}
				full := filepath.Join(cdir, f.Name())
				ft.entries = append(ft.entries, imageEntry{split: split, class: c.Name(), file: f.Name(), display: full, path: full})
			}
		}
	}
	return ft.assemble()
}

// isDirEntry reports whether e (in folder dir) is a folder, following links.
func isDirEntry(dir string, e fs.DirEntry) bool {
	if e.Type()&fs.ModeSymlink != 0 {
		return isDir(filepath.Join(dir, e.Name()))
	}
	return e.IsDir()
}

func isImageName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}
