package train

import (
	"fmt"

	"repro/data"
	"repro/gpu"
)

// Source is the data set a run draws from, read once per process and shared
// by every cell.
type Source struct {
	Train, Test *data.Images
}

// device is a run's data on the device: the training pool, the held-out
// sets, and how batches are cut from them.
type device struct {
	train, val, test gpu.Dataset
	nTrain, nVal     int
	nTest            int
	aug              gpu.Augment // training augmentation; Epoch is set per pass
	plain            gpu.Augment // evaluation: centre, no flip
	pool             int         // training pool items: images x copies
}

// upload prepares the data of cfg on b: subsets, the validation split,
// normalization fitted on the training part, the resize of the write-up's
// crop, and the upload of each set.
func upload(b gpu.Backend, src Source, cfg Config) (*device, error) {
	tr, te := src.Train, src.Test
	var err error
	if cfg.Data.Subset > 0 {
		if tr, err = data.Subset(tr, cfg.Data.Subset); err != nil {
			return nil, fmt.Errorf("data.subset: %w", err)
		}
	}
	if cfg.Data.TestSubset > 0 {
		if te, err = data.Subset(te, cfg.Data.TestSubset); err != nil {
			return nil, fmt.Errorf("data.test_subset: %w", err)
		}
	}
	var val *data.Images
	if cfg.Data.Validation > 0 {
		if tr, val, err = data.Split(tr, cfg.Data.Validation, cfg.Seed); err != nil {
			return nil, fmt.Errorf("data.validation: %w", err)
		}
	}
	mode, err := data.ParseNormMode(cfg.Data.Normalization)
	if err != nil {
		return nil, fmt.Errorf("data.normalization: %w", err)
	}
	norm, err := data.FitNorm(mode, tr)
	if err != nil {
		return nil, fmt.Errorf("data.normalization: %w", err)
	}
	d := &device{nTrain: tr.N, nTest: te.N}
	const out = 32
	a := cfg.Augment
	d.aug = gpu.Augment{OutSize: out, Flip: a.Flip, Static: a.Copies > 0, KeepOriginal: a.KeepOriginal, Seed: gpu.Mix(cfg.Seed, 0xa06)}
	d.plain = gpu.Augment{OutSize: out}
	stored := tr
	switch a.Crop {
	case "pad":
		d.aug.Random, d.aug.MinOffset, d.aug.MaxOffset = true, -a.Pad, a.Pad
	case "resize":
		if stored, err = data.Resize(tr, a.Resize); err != nil {
			return nil, fmt.Errorf("augment.resize: %w", err)
		}
		d.aug.Random, d.aug.MinOffset, d.aug.MaxOffset = true, 0, a.Resize-out
		d.aug.Center = (a.Resize - out) / 2
	case "none":
		d.aug.Random = a.Flip
	}
	d.pool = tr.N * max(1, a.Copies)
	if d.pool < cfg.Batch {
		return nil, fmt.Errorf("batch = %d: the training pool has only %d images", cfg.Batch, d.pool)
	}
	if d.train, err = newDataset(b, stored, norm); err != nil {
		return nil, fmt.Errorf("training set: %w", err)
	}
	if d.test, err = newDataset(b, te, norm); err != nil {
		return nil, fmt.Errorf("test set: %w", err)
	}
	if val != nil {
		d.nVal = val.N
		if d.val, err = newDataset(b, val, norm); err != nil {
			return nil, fmt.Errorf("validation set: %w", err)
		}
	}
	return d, nil
}

func newDataset(b gpu.Backend, im *data.Images, norm data.Norm) (gpu.Dataset, error) {
	mean, scale, err := norm.Planes(im.Size)
	if err != nil {
		return nil, err
	}
	is, ish := norm.ImageAffine(im)
	return b.NewDataset(gpu.DatasetSpec{
		N: im.N, C: im.C, Size: im.Size,
		Pixels: im.Pixels, Labels: im.Labels, Classes: len(im.Classes),
		ImageScale: is, ImageShift: ish, Mean: mean, Scale: scale,
	})
}
