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
	open := func(d int) (gpu.Backend, error) { return cpu.New(gpu.Options{Threads: 1, Device: d}) }
	err := runAll(context.Background(), runs, []int{0, 1, 2}, func(d int, r train.RunSpec, open func() (gpu.Backend, error)) error {
		b, err := open()
		if err != nil {
			return err
		}
		defer b.Close()
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

	boom := errors.New("boom")
	count := 0
	err = runAll(context.Background(), runs, []int{0}, func(d int, r train.RunSpec, open func() (gpu.Backend, error)) error {
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
