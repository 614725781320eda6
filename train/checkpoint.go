package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// The checkpoint file: a header, the float32 arrays (parameters, batch-norm
// state, optimizer state), the finished epochs' metrics rows, then the
// SHA-256 of everything before it. Written to a temporary file, synced and
// renamed, so that a crash leaves either the old checkpoint or the new one.
const (
	checkpointMagic   = "REPROCKP"
	checkpointVersion = 1
	// CheckpointFile is the checkpoint's name inside a run folder.
	CheckpointFile = "checkpoint.bin"
)

// checkpoint is what a run needs to continue.
type checkpoint struct {
	ConfigHash [32]byte
	Epoch      int // finished epochs
	Step       int // finished optimizer steps
	Arrays     [][]float32
	Rows       []EpochRow
}

const rowFields = 10

func (r EpochRow) fields() [rowFields]float64 {
	return [rowFields]float64{float64(r.Epoch), r.LR, r.TrainLoss, r.TrainError, r.TestLoss, r.TestError, r.ValLoss, r.ValError, r.Seconds, r.ImagesPerSec}
}

func rowFrom(f [rowFields]float64) EpochRow {
	return EpochRow{Epoch: int(f[0]), LR: f[1], TrainLoss: f[2], TrainError: f[3], TestLoss: f[4], TestError: f[5], ValLoss: f[6], ValError: f[7], Seconds: f[8], ImagesPerSec: f[9]}
}

func (c *checkpoint) encode() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString(checkpointMagic)
	binary.Write(&b, le, uint32(checkpointVersion))
	b.Write(c.ConfigHash[:])
	binary.Write(&b, le, uint64(c.Epoch))
	binary.Write(&b, le, uint64(c.Step))
	binary.Write(&b, le, uint32(len(c.Arrays)))
	for _, a := range c.Arrays {
		binary.Write(&b, le, uint64(len(a)))
	}
	for _, a := range c.Arrays {
		buf := make([]byte, 4*len(a))
		for i, v := range a {
			le.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		b.Write(buf)
	}
	binary.Write(&b, le, uint32(len(c.Rows)))
	for _, r := range c.Rows {
		binary.Write(&b, le, r.fields())
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

func decodeCheckpoint(name string, data []byte) (*checkpoint, error) {
	bad := func(what string) error { return fmt.Errorf("%s: not a usable checkpoint: %s", name, what) }
	if len(data) < len(checkpointMagic)+4+sha256.Size || string(data[:len(checkpointMagic)]) != checkpointMagic {
		return nil, bad("no repro checkpoint header")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, bad("checksum mismatch (truncated or corrupt)")
	}
	r := bytes.NewReader(body[len(checkpointMagic):])
	le := binary.LittleEndian
	var version uint32
	if binary.Read(r, le, &version) != nil || version != checkpointVersion {
		return nil, bad(fmt.Sprintf("format version %d, this build reads %d", version, checkpointVersion))
	}
	c := &checkpoint{}
	var epoch, step uint64
	var nArrays uint32
	if _, err := io.ReadFull(r, c.ConfigHash[:]); err != nil {
		return nil, bad("short header")
	}
	if binary.Read(r, le, &epoch) != nil || binary.Read(r, le, &step) != nil || binary.Read(r, le, &nArrays) != nil || nArrays > 16 {
		return nil, bad("bad header")
	}
	c.Epoch, c.Step = int(epoch), int(step)
	lens := make([]uint64, nArrays)
	for i := range lens {
		if binary.Read(r, le, &lens[i]) != nil || lens[i] > uint64(r.Len())/4 {
			return nil, bad("bad array length")
		}
	}
	for _, n := range lens {
		buf := make([]byte, 4*n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, bad("short array")
		}
		a := make([]float32, n)
		for i := range a {
			a[i] = math.Float32frombits(le.Uint32(buf[4*i:]))
		}
		c.Arrays = append(c.Arrays, a)
	}
	var nRows uint32
	if binary.Read(r, le, &nRows) != nil || int(nRows) > r.Len()/(8*rowFields) {
		return nil, bad("bad row count")
	}
	for i := 0; i < int(nRows); i++ {
		var f [rowFields]float64
		if binary.Read(r, le, &f) != nil {
			return nil, bad("short rows")
		}
		c.Rows = append(c.Rows, rowFrom(f))
	}
	if r.Len() != 0 {
		return nil, bad("trailing bytes")
	}
	return c, nil
}

// readCheckpoint returns nil, nil when there is no checkpoint.
func readCheckpoint(path string) (*checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeCheckpoint(path, data)
}

// WriteAtomic writes data to path (mode 0644) through a synced temporary
// file in the same folder and a rename, so that a reader or a crash sees the
// old file or the new one, never half of one.
func WriteAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644) // CreateTemp makes 0600 files
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
