package training

import (
	"math"
	"time"
)

// budget fits a run's length to a wall-clock duration: it times the steps
// (leaving out the first, which compiles the graph) and says, at a few
// points of the budget, how many steps in all the duration allows.
type budget struct {
	duration time.Duration
	start    time.Time // when the run started
	// timedFrom and timedStep mark the end of the first step, from which
	// steps are timed.
	timedFrom time.Time
	timedStep int
	// points are the fractions of the duration at which the total is
	// (re)fitted: early, so the learning-rate schedule is laid out over the
	// right length, then again as the machine's speed is better known; next
	// is the index of the next one.
	points []float64
	next   int
	// most caps the totals fitted (0 = no cap).
	most int
	// refitNow asks for a fit at the next step, whatever the point.
	refitNow bool
}

// minTimedSteps is the least number of timed steps a fit relies on.
const minTimedSteps = 5

// newBudget returns the budget of a run of duration d starting at now whose
// total may not exceed most steps (0: no cap), or nil when d is not positive.
func newBudget(d time.Duration, now time.Time, most int) *budget {
	if d <= 0 {
		return nil
	}
	return &budget{duration: d, start: now, points: []float64{0.02, 0.25, 0.5, 0.75, 0.9}, most: most}
}

// stepDone records that step (the count done) finished at now.
func (b *budget) stepDone(step int, now time.Time) {
	if b != nil && b.timedFrom.IsZero() {
		b.timedFrom, b.timedStep = now, step
	}
}

// exclude leaves a pause of length d, just ended, out of the step timing
// (the distillation teacher's work between two steps) and has the total
// refitted at the next step, to the time the pause left.
func (b *budget) exclude(d time.Duration) {
	if b == nil || d <= 0 {
		return
	}
	if !b.timedFrom.IsZero() {
		b.timedFrom = b.timedFrom.Add(d)
	}
	b.refitNow = true
}

// spent reports whether the duration is used up at now.
func (b *budget) spent(now time.Time) bool {
	return b != nil && now.Sub(b.start) >= b.duration
}

// fit returns the total number of steps the duration allows, judged at now
// after step steps, and whether it is time to apply it: at each fit point,
// once enough steps were timed, and at the first step after a pause left
// out of the timing (see exclude). The total is at least step+1.
func (b *budget) fit(step int, now time.Time) (total int, due bool) {
	if b == nil || b.timedFrom.IsZero() || step-b.timedStep < minTimedSteps {
		return 0, false
	}
	elapsed := now.Sub(b.start)
	atPoint := b.next < len(b.points) && elapsed >= time.Duration(b.points[b.next]*float64(b.duration))
	if !atPoint && !b.refitNow {
		return 0, false
	}
	b.refitNow = false
	for b.next < len(b.points) && elapsed >= time.Duration(b.points[b.next]*float64(b.duration)) {
		b.next++
	}
	perStep := now.Sub(b.timedFrom).Seconds() / float64(step-b.timedStep)
	left := (b.duration - elapsed).Seconds()
	total = step + max(1, int(math.Floor(left/perStep)))
	if b.most > 0 {
		total = min(total, max(b.most, step+1))
	}
	return total, true
}
