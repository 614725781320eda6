package data

import (
	"bytes"
	"cmp"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder for image.Decode
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// imageEntry is one image file of a folder tree: its bytes (archive) or its
// path (folder).
type imageEntry struct {
	split   int // 0 train, 1 test
	class   string
	file    string // base name, the sort key within a class
	display string // name used in errors
	data    []byte // encoded image, when read from an archive
	path    string // file to read, when data is nil
	label   uint8
}

// assemble turns the collected entries into the train and test sets: labels
// from the sorted train class names, order by class then file name, images
// decoded in parallel.
func (ft *folderTree) assemble() (train, test *Images, err error) {
	classes := sortedKeys(ft.classes[0])
	testClasses := sortedKeys(ft.classes[1])
	where := ft.src
	if ft.prefix != "" {
		where += ": " + ft.prefix
	}
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("%s: train/ has no class folders, expected train/<class>/*.png|*.jpg|*.jpeg", where)
	}
	if len(testClasses) == 0 {
		return nil, nil, fmt.Errorf("%s: test/ has no class folders, expected test/<class>/*.png|*.jpg|*.jpeg", where)
	}
	if !slices.Equal(classes, testClasses) {
		return nil, nil, fmt.Errorf("%s: train/ has classes [%s] but test/ has [%s], expected the same", where, strings.Join(classes, " "), strings.Join(testClasses, " "))
	}
	if len(classes) > 256 {
		return nil, nil, fmt.Errorf("%s: %d classes, expected at most 256", where, len(classes))
	}
	label := map[string]uint8{}
	for i, c := range classes {
		label[c] = uint8(i)
	}
	var count [2][]int
	count[0], count[1] = make([]int, len(classes)), make([]int, len(classes))
	for i := range ft.entries {
		e := &ft.entries[i]
		e.label = label[e.class]
		count[e.split][e.label]++
	}
	for split, sname := range []string{"train", "test"} {
		for c, n := range count[split] {
			if n == 0 {
				return nil, nil, fmt.Errorf("%s: %s/%s/ has no images, expected *.png|*.jpg|*.jpeg files", where, sname, classes[c])
			}
		}
	}
	slices.SortFunc(ft.entries, func(a, b imageEntry) int {
		return cmp.Or(cmp.Compare(a.split, b.split), cmp.Compare(a.label, b.label), strings.Compare(a.file, b.file))
	})

	// The first training image fixes the size; the rest are decoded in
	// parallel straight into place.
	first, err := decodeEntry(&ft.entries[0])
	if err != nil {
		return nil, nil, err
	}
	b := first.Bounds()
	if b.Dx() != b.Dy() {
		return nil, nil, fmt.Errorf("%s: image is %dx%d, expected a square image", ft.entries[0].display, b.Dx(), b.Dy())
	}
	size := b.Dx()
	nTrain := count0(ft.entries)
	sets := [2]*Images{}
	for split, n := range []int{nTrain, len(ft.entries) - nTrain} {
		sets[split] = &Images{
			N: n, C: 3, Size: size,
			Pixels:  make([]uint8, n*3*size*size),
			Labels:  make([]uint8, n),
			Classes: slices.Clone(classes),
		}
	}
	dst := func(i int) ([]uint8, *uint8) {
		set, j := sets[0], i
		if i >= nTrain {
			set, j = sets[1], i-nTrain
		}
		return set.Image(j), &set.Labels[j]
	}
	pix, lab := dst(0)
	toPlanes(first, pix, size)
	*lab = ft.entries[0].label

	errs := make([]error, len(ft.entries))
	var next atomic.Int64
	next.Store(1)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				// Indices are claimed in increasing order and every claimed one is
				// finished, so the lowest failing index is always found.
				i := int(next.Add(1) - 1)
				if i >= len(ft.entries) || failed.Load() {
					return
				}
				e := &ft.entries[i]
				img, err := decodeEntry(e)
				if err == nil {
					if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
						err = fmt.Errorf("%s: image is %dx%d, expected %dx%d like %s", e.display, b.Dx(), b.Dy(), size, size, ft.entries[0].display)
					}
				}
				if err != nil {
					errs[i] = err
					failed.Store(true)
					continue
				}
				pix, lab := dst(i)
				toPlanes(img, pix, size)
				*lab = e.label
				e.data = nil
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return sets[0], sets[1], nil
}

func count0(entries []imageEntry) int {
	n := 0
	for _, e := range entries {
		if e.split == 0 {
			n++
		}
	}
	return n
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// decodeEntry reads (when needed) and decodes one image file.
func decodeEntry(e *imageEntry) (image.Image, error) {
	data := e.data
	if data == nil {
		var err error
		if data, err = os.ReadFile(e.path); err != nil {
			return nil, fmt.Errorf("read image: %w", err)
		}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: decoding image: %w", e.display, err)
	}
	return img, nil
}

// toPlanes writes img (size x size) into dst as R, G, B planes. Gray images
// are replicated, alpha is dropped (the straight, non-premultiplied colour is
// kept, as PIL's convert("RGB") does).
func toPlanes(img image.Image, dst []uint8, size int) {
	plane := size * size
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		if sx, sy, ok := chromaShift(m.SubsampleRatio); ok && b.Min == (image.Point{}) {
			for y := range size {
				yRow := m.Y[y*m.YStride : y*m.YStride+size]
				cOff := (y >> sy) * m.CStride
				for x, yy := range yRow {
					ci := cOff + x>>sx
					k := y*size + x
					r[k], g[k], bl[k] = color.YCbCrToRGB(yy, m.Cb[ci], m.Cr[ci])
				}
			}
			return
		}
		for y := range size {
			for x := range size {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				k := y*size + x
				r[k], g[k], bl[k] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range size {
			row := m.Pix[y*m.Stride : y*m.Stride+size]
			copy(r[y*size:], row)
			copy(g[y*size:], row)
			copy(bl[y*size:], row)
		}
	case *image.NRGBA:
		for y := range size {
			row := m.Pix[y*m.Stride : y*m.Stride+4*size]
			for x := range size {
				k := y*size + x
				r[k], g[k], bl[k] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		if m.Opaque() {
			for y := range size {
				row := m.Pix[y*m.Stride : y*m.Stride+4*size]
				for x := range size {
					k := y*size + x
					r[k], g[k], bl[k] = row[4*x], row[4*x+1], row[4*x+2]
				}
			}
			return
		}
		toPlanesGeneric(img, r, g, bl, size)
	default:
		toPlanesGeneric(img, r, g, bl, size)
	}
}

func toPlanesGeneric(img image.Image, r, g, bl []uint8, size int) {
	b := img.Bounds()
	for y := range size {
		for x := range size {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			k := y*size + x
			r[k], g[k], bl[k] = c.R, c.G, c.B
		}
	}
}

// chromaShift returns the horizontal and vertical chroma subsampling of ratio
// as shifts.
func chromaShift(ratio image.YCbCrSubsampleRatio) (sx, sy int, ok bool) {
	switch ratio {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}
