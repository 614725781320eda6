package cpu

import (
	"fmt"

	"repro/gpu"
)

// dataset is a labelled image set in host memory.
type dataset struct {
	spec gpu.DatasetSpec
}

func (d *dataset) Len() int  { return d.spec.N }
func (d *dataset) Size() int { return d.spec.Size }

// NewDataset keeps a copy of spec's arrays.
func (b *Backend) NewDataset(spec gpu.DatasetSpec) (gpu.Dataset, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("cpu %w", err)
	}
	plane := spec.C * spec.Size * spec.Size
	d := &dataset{spec: spec}
	d.spec.Pixels = append([]uint8(nil), spec.Pixels...)
	d.spec.Labels = append([]uint8(nil), spec.Labels...)
	d.spec.ImageScale = append([]float32(nil), spec.ImageScale...)
	d.spec.ImageShift = append([]float32(nil), spec.ImageShift...)
	d.spec.Mean = append([]float32(nil), spec.Mean...)
	d.spec.Scale = append([]float32(nil), spec.Scale...)
	b.bytes += int64(len(spec.Pixels) + len(spec.Labels) + 4*(2*spec.N+2*plane))
	return d, nil
}

// batchBuilder is BuildBatch's task.
type batchBuilder struct {
	x      view
	labels []int32
	d      *dataset
	order  []int32
	start  int
	aug    gpu.Augment
}

// BuildBatch crops, flips and normalizes samples into x; see gpu.Backend.
func (b *Backend) BuildBatch(x gpu.Tensor, labels gpu.IntSlice, ds gpu.Dataset, order gpu.IntSlice, start int, aug gpu.Augment) error {
	d, ok := ds.(*dataset)
	if !ok {
		return fmt.Errorf("cpu build batch: dataset of another backend")
	}
	vx, err := resolve(x)
	if err != nil {
		return fmt.Errorf("cpu build batch x: %w", err)
	}
	if x.C != d.spec.C || x.H != aug.OutSize || x.W != aug.OutSize {
		return fmt.Errorf("cpu build batch: x %v, want %d channels of %d x %d", x, d.spec.C, aug.OutSize, aug.OutSize)
	}
	if aug.Random && aug.MaxOffset < aug.MinOffset {
		return fmt.Errorf("cpu build batch: offsets %d..%d", aug.MinOffset, aug.MaxOffset)
	}
	lab, err := ints(labels)
	if err != nil || len(lab) != x.N {
		return fmt.Errorf("cpu build batch: %d labels for %d samples (%v)", labels.Len, x.N, err)
	}
	ord, err := ints(order)
	if err != nil {
		return fmt.Errorf("cpu build batch order: %w", err)
	}
	if start < 0 {
		return fmt.Errorf("cpu build batch: start %d", start)
	}
	bb := &b.batch
	bb.x, bb.labels, bb.d, bb.order, bb.start, bb.aug = vx, lab, d, ord, start, aug
	b.pool.run(bb, x.N)
	return nil
}

func (bb *batchBuilder) run(_, lo, hi int) {
	sp := &bb.d.spec
	aug := bb.aug
	S, C, out := sp.Size, sp.C, aug.OutSize
	plane := S * S
	hw := out * out
	for s := lo; s < hi; s++ {
		q := bb.start + s
		if q >= len(bb.order) {
			bb.labels[s] = -1
			for p := s * hw; p < (s+1)*hw; p++ {
				clear(bb.x.row(p))
			}
			continue
		}
		item := int(bb.order[q])
		i := item % sp.N
		j := item / sp.N
		oy, ox, flip := aug.Center, aug.Center, false
		if aug.Random && !(aug.Static && aug.KeepOriginal && j == 0) {
			u := uint64(aug.Epoch)
			if aug.Static {
				u = uint64(j)
			}
			k := gpu.Mix(gpu.Mix(aug.Seed, u), uint64(i))
			r := uint64(aug.MaxOffset - aug.MinOffset + 1)
			oy = aug.MinOffset + int(k%r)
			ox = aug.MinOffset + int((k>>20)%r)
			flip = aug.Flip && (k>>40)&1 == 1
		}
		bb.labels[s] = int32(sp.Labels[i])
		img := sp.Pixels[i*C*plane : (i+1)*C*plane]
		a, sh := sp.ImageScale[i], sp.ImageShift[i]
		for y := 0; y < out; y++ {
			sy := y + oy
			for x := 0; x < out; x++ {
				sx := x + ox
				if flip {
					sx = out - 1 - x + ox
				}
				row := bb.x.row(s*hw + y*out + x)
				if sy < 0 || sy >= S || sx < 0 || sx >= S {
					clear(row)
					continue
				}
				for c := range row {
					o := c*plane + sy*S + sx
					row[c] = (float32(img[o])*a + sh - sp.Mean[o]) * sp.Scale[o]
				}
			}
		}
	}
}
