//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"slices"

	"repro/gpu"
	"repro/gpu/cuda/lib"
)

// recording is a CUDA graph captured from the backend's stream.
type recording struct {
	b      *Backend
	graph  lib.Graph
	exec   lib.GraphExec
	closed bool
}

// Record captures the ops into a CUDA graph and instantiates it; see
// gpu.Recorder. The capture is thread-local: a forbidden call (an
// allocation, a wait) made by ops, which run on the capturing thread, fails
// the capture, while other goroutines, such as the runs on other GPUs of a
// -devices experiment, may still allocate meanwhile (global mode would fail
// their calls).
func (b *Backend) Record(ops func() error) (gpu.Recording, error) {
	if b.opts.NoGraphs {
		return nil, gpu.ErrRecordingOff
	}
	// A capture belongs to the thread that began it: ending it from another
	// fails (CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD), and a goroutine may
	// change threads between any two cgo calls.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := b.ctx.BeginCapture(b.stream, lib.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL); err != nil {
		return nil, fmt.Errorf("cuda graph: %w", err)
	}
	opsErr := ops()
	// end the capture whatever happened, so the stream runs ops again
	g, endErr := b.ctx.EndCapture(b.stream)
	if opsErr != nil || endErr != nil {
		if endErr == nil {
			b.ctx.DestroyGraph(g)
		}
		return nil, fmt.Errorf("cuda graph capture: %w", errors.Join(opsErr, endErr))
	}
	e, err := b.ctx.Instantiate(g)
	if err != nil {
		b.ctx.DestroyGraph(g)
		return nil, fmt.Errorf("cuda graph: %w", err)
	}
	r := &recording{b: b, graph: g, exec: e}
	b.recordings = append(b.recordings, r)
	return r, nil
}

// Replay launches the graph on the backend's stream.
func (r *recording) Replay() error {
	if r.closed || r.b.closed {
		return errors.New("cuda graph: replay after Close")
	}
	return r.b.ctx.LaunchGraph(r.exec, r.b.stream)
}

// Close destroys the graph once the stream has finished with it. Buffers
// that planning grows (workspaces, scratch) may grow again once no
// recording holds their addresses.
func (r *recording) Close() error {
	if r.closed || r.b.closed {
		return nil
	}
	r.closed = true
	if i := slices.Index(r.b.recordings, r); i >= 0 {
		r.b.recordings = slices.Delete(r.b.recordings, i, i+1)
	}
	err := r.b.ctx.StreamSync(r.b.stream)
	return errors.Join(err, r.b.ctx.DestroyGraphExec(r.exec), r.b.ctx.DestroyGraph(r.graph))
}

var _ gpu.Recorder = (*Backend)(nil)
