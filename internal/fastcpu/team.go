package fastcpu

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// team is a Backend's set of helper goroutines for the parallel loops of this package's own
// kernels (fused groups, reductions, copies).
//
// Starting a goroutine per loop part (parallelFor) costs little in itself, but the idle CPU it
// lands on has to be woken, which in a virtual machine can take tens of microseconds: as long
// as many elementwise ops of a training step (50-500 µs each). A team helper instead keeps
// spinning for spinWindow after a loop, so a step's back-to-back ops find it awake, and then
// parks. The convolutions and GEMMs of internal/fastcpu/kernels run their parts on the team
// too (runParts), so the helpers stay awake through them: when those kernels had goroutines of
// their own, the team parked before each of them and the elementwise loop after it waited for
// a helper to wake, which ran much of it on one core.
//
// A loop's units are cut into a fixed set of chunks (teamChunksPerPart per part) that the
// calling goroutine and the helpers claim from a counter: a helper that is slow to wake, or
// whose CPU is taken, leaves its chunks to the others instead of delaying the loop. Which
// goroutine runs a chunk does not change what it computes (callers' fn(lo, hi) depend only on
// lo and hi), so results do not depend on timing.
type team struct {
	mu      sync.Mutex // held by the goroutine running a loop on the team
	helpers []*helper
	resting atomic.Bool // spinning helpers should park
	quit    chan struct{}
}

const (
	// spinWindow is how long a helper spins waiting for its next loop before parking: long
	// enough to bridge the small ops a step runs on one goroutine between its parallel loops
	// (300 µs measured 3-9% faster steps and sampling than 50 µs), short enough that a parked
	// team leaves its core to other work soon after an Execute.
	spinWindow = 300 * time.Microsecond
	// teamChunksPerPart is the number of chunks per part a team loop is cut into.
	teamChunksPerPart = 4
	// minTeamWork is the work (elements touched) under which a team loop runs on the calling
	// goroutine only: lower than minParallelWork, as handing a part to a spinning helper costs
	// far less than starting a goroutine.
	minTeamWork = minParallelWork / 4
)

// teamLoop is one parallel loop: units [0, n) in chunks claimed through next.
type teamLoop struct {
	fn       func(lo, hi int)
	n        int
	chunks   int
	next     atomic.Int64 // next chunk to claim
	finished atomic.Int64 // chunks done
}

// work claims and runs chunks until none is left.
func (l *teamLoop) work() {
	for {
		c := int(l.next.Add(1) - 1)
		if c >= l.chunks {
			return
		}
		l.fn(l.n*c/l.chunks, l.n*(c+1)/l.chunks)
		l.finished.Add(1)
	}
}

// helper is one team goroutine, given loops through loop and posted.
type helper struct {
	loop   atomic.Pointer[teamLoop]
	posted atomic.Uint64 // incremented after loop is set
	parked atomic.Bool
	wake   chan struct{} // capacity 1
}

// newTeam starts n helpers.
func newTeam(n int) *team {
	t := &team{quit: make(chan struct{})}
	for range n {
		h := &helper{wake: make(chan struct{}, 1)}
		t.helpers = append(t.helpers, h)
		go h.run(t)
	}
	return t
}

// close stops the helpers.
func (t *team) close() { close(t.quit) }

// rest asks spinning helpers to park now (tests use it to reach the parked path).
func (t *team) rest() { t.resting.Store(true) }

// run is the helper goroutine: wait for a loop (spin, then park), work on it, repeat.
func (h *helper) run(t *team) {
	var seen uint64
	for {
		start := time.Now()
		for spins := 0; h.posted.Load() == seen; spins++ {
			cpuPause()
			if spins&15 != 15 || (!t.resting.Load() && time.Since(start) < spinWindow) {
				continue
			}
			h.parked.Store(true)
			if h.posted.Load() == seen { // checked after parked is visible: no lost wake-up
				select {
				case <-h.wake:
				case <-t.quit:
					return
				}
			}
			h.parked.Store(false)
			start = time.Now()
		}
		seen = h.posted.Load()
		h.loop.Load().work()
	}
}

// post gives the helper a loop to work on.
func (h *helper) post(l *teamLoop) {
	h.loop.Store(l)
	h.posted.Add(1)
	if h.parked.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

// runParts runs part(0), ..., part(parts-1) on the team, each once (kernels.Options.RunParts).
func (t *team) runParts(parts int, part func(i int)) {
	t.parallelFor(parts, parts, math.MaxInt, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			part(i)
		}
	})
}

// parallelFor runs fn over units [0, n) like the package's parallelFor (up to parallelism
// goroutines, serially when work < minTeamWork) on the team, the calling goroutine included.
// It falls back to parallelFor when the team is busy (another Execute) or smaller.
func (t *team) parallelFor(parallelism, n, work int, fn func(lo, hi int)) {
	parts := min(parallelism, n)
	if work < minTeamWork {
		parts = 1
	}
	if parts <= 1 {
		fn(0, n)
		return
	}
	if parts-1 > len(t.helpers) || !t.mu.TryLock() {
		parallelFor(parallelism, n, work, fn)
		return
	}
	defer t.mu.Unlock()
	t.resting.Store(false)
	l := &teamLoop{fn: fn, n: n, chunks: min(n, parts*teamChunksPerPart)}
	for _, h := range t.helpers[:parts-1] {
		h.post(l)
	}
	l.work()
	// Wait for chunks helpers are running: spin, then yield (a helper may need this CPU).
	for spins := 0; int(l.finished.Load()) < l.chunks; spins++ {
		cpuPause()
		if spins > 1<<10 {
			runtime.Gosched()
		}
	}
}
