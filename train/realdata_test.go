package train

import (
	"context"
	"testing"

	"repro/data"
	"repro/data/datatest"
	"repro/gpu"
	"repro/gpu/cpu/cputest"
)

// TestLearnsRealImages trains a small ResNet on real CIFAR-10 images (the
// JPEG copy in ../shared) for a few epochs with the ResNet paper's recipe and
// expects it to learn: loss falling, test accuracy far above chance.
func TestLearnsRealImages(t *testing.T) {
	tr, te, err := data.Open(datatest.CIFARJPEG(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.Model = "resnet8"
	cfg.Epochs = 4
	cfg.Batch = 64
	cfg.Data.Normalization = "channel_meanstd"
	cfg.Data.Subset = 500     // 5,000 training images
	cfg.Data.TestSubset = 100 // 1,000 test images
	res, err := (&Run{Name: "real", Dir: t.TempDir(), Config: cfg, Backend: cputest.Open(t, gpu.Options{}), Source: Source{Train: tr, Test: te}}).Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		t.Logf("epoch %d: train loss %.3f error %.1f%%, test loss %.3f error %.1f%%, %.0f img/s", r.Epoch, r.TrainLoss, r.TrainError, r.TestLoss, r.TestError, r.ImagesPerSec)
	}
	first, last := res.Rows[0], res.Final()
	if last.TrainLoss > 0.85*first.TrainLoss {
		t.Errorf("training loss went from %.3f to %.3f: not learning", first.TrainLoss, last.TrainLoss)
	}
	if last.TestError > 65 {
		t.Errorf("final test error %.1f%%, want under 65%% (chance is 90%%)", last.TestError)
	}
}
