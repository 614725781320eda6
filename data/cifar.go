package data

import (
	"errors"
	"fmt"
	"io"
)

// CIFAR-10 binary release geometry: each record is one label byte followed by
// 1024 red, 1024 green and 1024 blue values (32 rows of 32 pixels each).
const (
	cifarSize         = 32
	cifarChannels     = 3
	cifarImageBytes   = cifarChannels * cifarSize * cifarSize // 3072
	cifarRecordBytes  = 1 + cifarImageBytes                   // 3073
	cifarBatchRecords = 10000                                 // records per official batch file
	cifarTrainBatches = 5
)

// cifarTrainFiles and cifarTestFile name the batch files of the official release.
func cifarTrainFiles() []string {
	return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
}

const cifarTestFile = "test_batch.bin"

// cifarBinFolder is the folder that the official archive holds the batches in.
const cifarBinFolder = "cifar-10-batches-bin"

// ReadCIFARBinary reads one CIFAR-10 batch file of exactly records records
// (10000 in the official release) from r. name is used in errors. A stream of
// another length or a label above 9 is an error.
func ReadCIFARBinary(r io.Reader, name string, records int) (*Images, error) {
	if records <= 0 {
		return nil, fmt.Errorf("%s: %d records requested, expected > 0", name, records)
	}
	im := &Images{
		N: records, C: cifarChannels, Size: cifarSize,
		Pixels:  make([]uint8, records*cifarImageBytes),
		Labels:  make([]uint8, records),
		Classes: CIFAR10Classes(),
	}
	if err := readCIFARRecords(r, name, im.Pixels, im.Labels); err != nil {
		return nil, err
	}
	return im, nil
}

// readCIFARRecords reads len(labels) records from r into pixels and labels and
// checks that r ends exactly after them.
func readCIFARRecords(r io.Reader, name string, pixels, labels []uint8) error {
	records := len(labels)
	want := int64(records) * cifarRecordBytes
	const chunk = 256 // records per read
	buf := make([]byte, chunk*cifarRecordBytes)
	var got int64
	for done := 0; done < records; {
		n := min(chunk, records-done)
		b := buf[:n*cifarRecordBytes]
		m, err := io.ReadFull(r, b)
		got += int64(m)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: truncated: expected %d bytes (%d records of %d), found %d", name, want, records, cifarRecordBytes, got)
			}
			return fmt.Errorf("%s: reading: %w", name, err)
		}
		for k := range n {
			rec := b[k*cifarRecordBytes : (k+1)*cifarRecordBytes]
			i := done + k
			if rec[0] > 9 {
				return fmt.Errorf("%s: record %d (byte offset %d): label %d, expected 0..9", name, i, int64(i)*cifarRecordBytes, rec[0])
			}
			labels[i] = rec[0]
			copy(pixels[i*cifarImageBytes:(i+1)*cifarImageBytes], rec[1:])
		}
		done += n
	}
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return fmt.Errorf("%s: reading: %w", name, err)
	}
	if extra > 0 {
		return fmt.Errorf("%s: expected %d bytes (%d records of %d), found %d", name, want, records, cifarRecordBytes, want+extra)
	}
	return nil
}

// cifarBinary collects the six batch files of the official release, in any
// order, into the train and test sets.
type cifarBinary struct {
	records     int // per batch file
	train, test *Images
	seen        map[string]bool
}

func newCIFARBinary(records int) *cifarBinary {
	mk := func(n int) *Images {
		return &Images{
			N: n, C: cifarChannels, Size: cifarSize,
			Pixels:  make([]uint8, n*cifarImageBytes),
			Labels:  make([]uint8, n),
			Classes: CIFAR10Classes(),
		}
	}
	return &cifarBinary{
		records: records,
		train:   mk(cifarTrainBatches * records),
		test:    mk(records),
		seen:    map[string]bool{},
	}
}

// cifarBatchIndex returns 0..4 for data_batch_1..5.bin, 5 for test_batch.bin
// and -1 for any other name.
func cifarBatchIndex(base string) int {
	for i, f := range cifarTrainFiles() {
		if base == f {
			return i
		}
	}
	if base == cifarTestFile {
		return cifarTrainBatches
	}
	return -1
}

// read reads batch file base (a name that cifarBatchIndex knows) from r;
// display is the name used in errors.
func (cb *cifarBinary) read(base string, r io.Reader, display string) error {
	if cb.seen[base] {
		return fmt.Errorf("%s: %s appears twice", display, base)
	}
	cb.seen[base] = true
	i := cifarBatchIndex(base)
	dst, slot := cb.train, i
	if i == cifarTrainBatches {
		dst, slot = cb.test, 0
	}
	lo, hi := slot*cb.records, (slot+1)*cb.records
	return readCIFARRecords(r, display, dst.Pixels[lo*cifarImageBytes:hi*cifarImageBytes], dst.Labels[lo:hi])
}

// missing returns the batch files not read yet, in release order.
func (cb *cifarBinary) missing() []string {
	var out []string
	for _, f := range append(cifarTrainFiles(), cifarTestFile) {
		if !cb.seen[f] {
			out = append(out, f)
		}
	}
	return out
}
