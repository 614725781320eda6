package cpu

import "sync"

// task is one op's parallel body: run handles items [lo, hi) on worker w.
// Ops implement it on structs they own, so handing one to the pool allocates
// nothing.
type task interface {
	run(w, lo, hi int)
}

type job struct {
	t      task
	w      int
	lo, hi int
}

// pool is a fixed set of worker goroutines; the calling goroutine is worker 0.
type pool struct {
	n    int
	jobs []chan job
	wg   sync.WaitGroup
}

func newPool(n int) *pool {
	p := &pool{n: n, jobs: make([]chan job, n)}
	for w := 1; w < n; w++ {
		ch := make(chan job, 1)
		p.jobs[w] = ch
		go func() {
			for j := range ch {
				j.t.run(j.w, j.lo, j.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

// run splits [0, items) into at most n contiguous, nearly equal ranges and
// runs t on them in parallel, returning when all are done.
func (p *pool) run(t task, items int) {
	workers := min(p.n, items)
	if workers <= 1 {
		if items > 0 {
			t.run(0, 0, items)
		}
		return
	}
	p.wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		p.jobs[w] <- job{t: t, w: w, lo: w * items / workers, hi: (w + 1) * items / workers}
	}
	t.run(0, 0, items/workers)
	p.wg.Wait()
}

func (p *pool) close() {
	for w := 1; w < p.n; w++ {
		close(p.jobs[w])
	}
}
