package main

import (
	"context"
	"errors"
	"sync"
	"testing"

	"repro/gpu"
	"repro/gpu/cpu"
	"repro/train"
)

func TestRunAllSpreadsRunsOverDevices(t *testing.T) {
	var runs []train.RunSpec
	for i := 0; i < 7; i++ {
		runs = append(runs, train.RunSpec{Cell: string(rune('a' + i))})
	}
	var mu sync.Mutex
	seen := map[string]int{}
	byDevice := map[int]int{}
	var opened, closed int
	open := func(d int) (gpu.Backend, error) {
		b, err := cpu.New(gpu.Options{Threads: 1})
		mu.Lock()
		opened++
		mu.Unlock()
		return &closeCounter{Backend: b, mu: &mu, closed: &closed}, err
	}
	err := runAll(context.Background(), runs, []int{0, 1, 2}, func(d int, r train.RunSpec, b gpu.Backend) error {
		mu.Lock()
		defer mu.Unlock()
		seen[r.Cell]++
		byDevice[d]++
		return nil
	}, open)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if seen[r.Cell] != 1 {
			t.Errorf("run %s ran %d times", r.Cell, seen[r.Cell])
		}
	}
	if len(byDevice) == 0 || byDevice[0]+byDevice[1]+byDevice[2] != 7 {
		t.Errorf("runs per device %v", byDevice)
	}
	// each run gets its own backend, closed after it, so that a run's memory
	// is given back before the next one plans
	if opened != 7 || closed != 7 {
		t.Errorf("opened %d and closed %d backends for 7 runs, want 7 and 7", opened, closed)
	}

	boom := errors.New("boom")
	count := 0
	err = runAll(context.Background(), runs, []int{0}, func(d int, r train.RunSpec, b gpu.Backend) error {
		count++
		if r.Cell == "b" {
			return boom
		}
		return nil
	}, open)
	if !errors.Is(err, boom) || count != 2 {
		t.Errorf("after a failing run: err %v, %d runs started, want boom after 2", err, count)
	}
}

// closeCounter counts Close calls of a backend.
type closeCounter struct {
	gpu.Backend
	mu     *sync.Mutex
	closed *int
}

func (c *closeCounter) Close() error {
	c.mu.Lock()
	*c.closed++
	c.mu.Unlock()
	return c.Backend.Close()
}

func TestShardAndDeviceFlags(t *testing.T) {
	for _, bad := range []string{"1/1", "-1/2", "2", "a/b", "0/0", "3/2"} {
		if _, _, err := parseShard(bad); err == nil {
			t.Errorf("-shard %q accepted", bad)
		}
	}
	if i, n, err := parseShard("1/4"); err != nil || i != 1 || n != 4 {
		t.Errorf("-shard 1/4: %d %d %v", i, n, err)
	}
	if _, err := parseDevices("0,1", "cpu"); err == nil {
		t.Error("-devices with the cpu backend accepted")
	}
	if _, err := parseDevices("0,0", "cuda"); err == nil {
		t.Error("repeated device accepted")
	}
	if d, err := parseDevices("0, 2", "auto"); err != nil || len(d) != 2 || d[1] != 2 {
		t.Errorf("-devices 0,2: %v %v", d, err)
	}
}
