//go:build cuda

package cuda

import (
	"reflect"
	"testing"

	"repro/gpu/cuda/lib"
)

// TestBestTimes: repeated searches keep each algorithm's best successful
// time, and the merged list is fastest first with failed trials last.
func TestBestTimes(t *testing.T) {
	round1 := []lib.AlgoPerf{{Algo: 2, Time: 0.30}, {Algo: 1, Time: 0.50}, {Algo: 1, MathType: 3, Time: 0.6}, {Algo: 4, Status: 9}}
	round2 := []lib.AlgoPerf{{Algo: 1, Time: 0.10}, {Algo: 2, Time: 0.35}, {Algo: 4, Time: 0.2}, {Algo: 5, Status: 9}}
	got := bestTimes(bestTimes(nil, round1), round2)
	want := []lib.AlgoPerf{{Algo: 1, Time: 0.10}, {Algo: 4, Time: 0.2}, {Algo: 2, Time: 0.30}, {Algo: 1, MathType: 3, Time: 0.6}, {Algo: 5, Status: 9}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
