package fastcpu

import "sync"

// minParallelWork is the number of elements (or multiply-adds) under which a loop runs on the
// calling goroutine only: starting goroutines costs a few microseconds.
const minParallelWork = 1 << 15

// parallelFor splits units [0, n) into up to parallelism contiguous parts and runs fn on each,
// part 0 on the calling goroutine. work is the total amount of work (elements touched): small
// loops run serially.
func parallelFor(parallelism, n, work int, fn func(lo, hi int)) {
	parts := min(parallelism, n)
	if work < minParallelWork {
		parts = 1
	}
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, n/parts)
	wg.Wait()
}
