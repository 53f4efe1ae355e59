package fastcpu

import (
	"sync/atomic"
	"testing"
)

// TestTeamParallelFor checks that a team loop covers every unit exactly once, for unit counts
// around the chunking, with loops back to back (helpers spinning) and after rest (helpers
// parked), and that a busy team falls back to plain goroutines.
func TestTeamParallelFor(t *testing.T) {
	tm := newTeam(3)
	defer tm.close()
	for round := range 3 {
		if round == 2 {
			tm.rest()
		}
		for _, n := range []int{1, 2, 3, 4, 7, 15, 16, 17, 100, 1023} {
			for _, parallelism := range []int{1, 2, 4, 8} {
				counts := make([]atomic.Int32, n)
				tm.parallelFor(parallelism, n, minParallelWork, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						counts[i].Add(1)
					}
				})
				for i := range counts {
					if c := counts[i].Load(); c != 1 {
						t.Fatalf("n=%d parallelism=%d: unit %d run %d times", n, parallelism, i, c)
					}
				}
			}
		}
	}
	// Nested use: the inner loop finds the team busy and uses plain goroutines.
	var total atomic.Int32
	tm.parallelFor(2, 4, minParallelWork, func(lo, hi int) {
		tm.parallelFor(2, 10, minParallelWork, func(lo, hi int) { total.Add(int32(hi - lo)) })
	})
	if total.Load() == 0 || total.Load()%10 != 0 {
		t.Fatalf("nested loops counted %d units, want a multiple of 10", total.Load())
	}
}
