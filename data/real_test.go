package data

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"repro/data/datatest"
)

// realCIFAR loads ../shared/data/cifar10-jpg.tar.gz once per test binary.
var realCIFAR struct {
	once        sync.Once
	train, test *Images
	elapsed     time.Duration
	err         error
}

func loadRealCIFAR(t *testing.T) (train, test *Images) {
	t.Helper()
	p := datatest.CIFARJPEG(t)
	realCIFAR.once.Do(func() {
		start := time.Now()
		realCIFAR.train, realCIFAR.test, realCIFAR.err = Open(p)
		realCIFAR.elapsed = time.Since(start)
	})
	if realCIFAR.err != nil {
		t.Fatalf("Open(%s): %v", p, realCIFAR.err)
	}
	return realCIFAR.train, realCIFAR.test
}

func TestRealCIFARJPEG(t *testing.T) {
	train, test := loadRealCIFAR(t)
	t.Logf("opened %s in %v", datatest.CIFARJPEG(t), realCIFAR.elapsed)
	for _, s := range []*Images{train, test} {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if s.C != 3 || s.Size != 32 || !slices.Equal(s.Classes, CIFAR10Classes()) {
			t.Fatalf("C=%d Size=%d classes %v", s.C, s.Size, s.Classes)
		}
	}
	if train.N != 50000 || test.N != 10000 {
		t.Fatalf("train %d test %d images, expected 50000 and 10000", train.N, test.N)
	}
	for c, n := range train.ClassCounts() {
		if n != 5000 {
			t.Errorf("train class %d: %d images, expected 5000", c, n)
		}
	}
	for c, n := range test.ClassCounts() {
		if n != 1000 {
			t.Errorf("test class %d: %d images, expected 1000", c, n)
		}
	}
	// Folder order: by class, so labels never decrease.
	for i := 1; i < train.N; i++ {
		if train.Labels[i] < train.Labels[i-1] {
			t.Fatalf("train label %d at %d follows %d", train.Labels[i], i, train.Labels[i-1])
		}
	}
	// Published CIFAR-10 training channel means, in 0..255 units.
	n, err := FitNorm(NormChannel, train)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{125.3, 123.0, 113.9}
	for c := range 3 {
		got := float64(n.Mean[c*1024])
		if math.Abs(got-want[c]) > 2 {
			t.Errorf("channel %d mean %.2f, expected %.1f +- 2", c, got, want[c])
		}
		t.Logf("channel %d: mean %.2f std %.2f", c, got, 1/float64(n.Scale[c*1024]))
	}
	// The paper's 45k/5k split.
	tr, val, err := Split(train, 5000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 45000 || val.N != 5000 {
		t.Fatalf("split %d/%d", tr.N, val.N)
	}
	for c, k := range val.ClassCounts() {
		if k != 500 {
			t.Errorf("val class %d: %d", c, k)
		}
	}
}
