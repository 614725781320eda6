//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"unsafe"

	"repro/gpu"
	"repro/gpu/cuda/lib"
)

// dataset is a labelled image set resident on the GPU as uint8, with its
// normalization planes: batches are cut, augmented and normalized there.
type dataset struct {
	n, c, size, classes int
	pixels, labels      lib.DevicePtr
	imgScale, imgShift  lib.DevicePtr
	mean, scale         lib.DevicePtr
}

func (d *dataset) Len() int  { return d.n }
func (d *dataset) Size() int { return d.size }

// NewDataset uploads spec once.
func (b *Backend) NewDataset(spec gpu.DatasetSpec) (gpu.Dataset, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("cuda %w", err)
	}
	plane := spec.C * spec.Size * spec.Size
	d := &dataset{n: spec.N, c: spec.C, size: spec.Size, classes: spec.Classes}
	up := func(dst *lib.DevicePtr, src unsafe.Pointer, bytes int) error {
		p, err := b.malloc(uint64(bytes))
		if err != nil {
			return err
		}
		*dst = p
		return b.ctx.HtoD(p, src, uint64(bytes), b.stream)
	}
	for _, u := range []struct {
		dst   *lib.DevicePtr
		src   unsafe.Pointer
		bytes int
	}{
		{&d.pixels, unsafe.Pointer(&spec.Pixels[0]), len(spec.Pixels)},
		{&d.labels, unsafe.Pointer(&spec.Labels[0]), len(spec.Labels)},
		{&d.imgScale, unsafe.Pointer(&spec.ImageScale[0]), 4 * spec.N},
		{&d.imgShift, unsafe.Pointer(&spec.ImageShift[0]), 4 * spec.N},
		{&d.mean, unsafe.Pointer(&spec.Mean[0]), 4 * plane},
		{&d.scale, unsafe.Pointer(&spec.Scale[0]), 4 * plane},
	} {
		if err := up(u.dst, u.src, u.bytes); err != nil {
			return nil, fmt.Errorf("cuda dataset upload: %w", err)
		}
	}
	err := b.Sync()
	runtime.KeepAlive(spec.Pixels) // the copies read Go memory until the sync
	runtime.KeepAlive(spec.Labels)
	runtime.KeepAlive(spec.ImageScale)
	runtime.KeepAlive(spec.ImageShift)
	runtime.KeepAlive(spec.Mean)
	runtime.KeepAlive(spec.Scale)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// BuildBatch crops, flips and normalizes samples into x on the GPU.
func (b *Backend) BuildBatch(x gpu.Tensor, labels gpu.IntSlice, ds gpu.Dataset, order gpu.IntSlice, start int, aug gpu.Augment) error {
	d, ok := ds.(*dataset)
	if !ok {
		return fmt.Errorf("cuda build batch: dataset of another backend")
	}
	vx, err := resolve(x)
	if err != nil {
		return fmt.Errorf("cuda build batch x: %w", err)
	}
	if x.C != d.c || x.H != aug.OutSize || x.W != aug.OutSize || !vx.packed() {
		return fmt.Errorf("cuda build batch: x %v, want a whole tensor of %d channels of %d x %d", x, d.c, aug.OutSize, aug.OutSize)
	}
	if aug.Random && aug.MaxOffset < aug.MinOffset {
		return fmt.Errorf("cuda build batch: offsets %d..%d", aug.MinOffset, aug.MaxOffset)
	}
	lp, err := dints(labels)
	if err != nil || labels.Len != x.N {
		return fmt.Errorf("cuda build batch: %d labels for %d samples (%v)", labels.Len, x.N, err)
	}
	op, err := dints(order)
	if err != nil {
		return fmt.Errorf("cuda build batch order: %w", err)
	}
	if start < 0 {
		return fmt.Errorf("cuda build batch: start %d", start)
	}
	a := b.args
	a.Reset()
	a.Ptr(vx.ptr)
	a.Ptr(lp)
	a.Ptr(d.pixels)
	a.Ptr(d.labels)
	a.Ptr(d.imgScale)
	a.Ptr(d.imgShift)
	a.Ptr(d.mean)
	a.Ptr(d.scale)
	a.Ptr(op)
	for _, v := range [...]int{order.Len, start, x.N, d.n, d.c, d.size, aug.OutSize} {
		a.Int(int32(v))
	}
	a.Int(boolInt(aug.Random))
	a.Int(int32(aug.MinOffset))
	a.Int(int32(aug.MaxOffset))
	a.Int(int32(aug.Center))
	a.Int(boolInt(aug.Flip))
	a.Int(boolInt(aug.Static))
	a.Int(boolInt(aug.KeepOriginal))
	a.U64(aug.Seed)
	a.Int(int32(aug.Epoch))
	return b.launch(b.fn.buildBatch, x.N*vx.chw())
}
