package training

import (
	"math"
	"testing"
	"time"
)

// A budget fitted with steps of a fixed length allows the steps that fill
// it: fits come at the fit points only, after enough timed steps, and
// respect the cap.
func TestBudgetFit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const per = 100 * time.Millisecond
	for _, tc := range []struct {
		name      string
		most      int
		wantTotal int
	}{
		// 60 s at 0.1 s a step after a 2 s first (compiling) step: the 58 s
		// left at the first fit hold 580 steps beyond those done.
		{"no cap", 0, -1},
		{"capped", 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBudget(time.Minute, t0, tc.most)
			now := t0.Add(2 * time.Second) // the first step compiles
			b.stepDone(1, now)
			var fits []int
			total := 1000 // the run's provisional total
			if tc.most > 0 {
				total = tc.most
			}
			for step := 2; step <= total && !b.spent(now); step++ {
				now = now.Add(per)
				b.stepDone(step, now)
				if fitted, due := b.fit(step, now); due {
					total = fitted
					fits = append(fits, total)
					// Every fit sees steps done plus what the time left holds.
					left := time.Minute - now.Sub(t0)
					want := step + int(math.Floor(left.Seconds()/per.Seconds()))
					if tc.most > 0 {
						want = min(want, tc.most)
					}
					if d := total - want; d < -1 || d > 1 {
						t.Errorf("fit at step %d: %d, want %d (±1 for rounding)", step, total, want)
					}
				}
			}
			if tc.most == 0 && len(fits) != 5 {
				t.Errorf("%d fits %v, want one per fit point (5)", len(fits), fits)
			}
			if tc.wantTotal > 0 && fits[len(fits)-1] != tc.wantTotal {
				t.Errorf("last fit %d, want the cap %d", fits[len(fits)-1], tc.wantTotal)
			}
			if !b.spent(t0.Add(time.Minute)) || b.spent(t0.Add(time.Minute-time.Millisecond)) {
				t.Error("the budget is not spent exactly at its duration")
			}
		})
	}
	var none *budget
	if total, due := none.fit(10, t0); due || total != 0 || none.spent(t0.Add(time.Hour)) {
		t.Error("a nil budget fits or ends a run")
	}
}

// Changing a run's length keeps the learning rate continuous and brings it
// to its minimum at the new total.
func TestScheduleFromIsContinuous(t *testing.T) {
	c := TrainConfig{Steps: 1000, LearningRate: 1e-3, WarmupSteps: 100}.WithDefaults()
	const at = 400
	before := c.LearningRateAt(at)
	for _, total := range []int{600, 3000} {
		d := c
		d.ScheduleFrom, d.ScheduleFromLR, d.Steps = at, before, total
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := d.LearningRateAt(at); got != before {
			t.Errorf("total %d: rate at the change %g, want %g (continuous)", total, got, before)
		}
		minLR := d.LearningRate * d.MinLRFraction
		if got := d.LearningRateAt(total); math.Abs(got-minLR) > 1e-12 {
			t.Errorf("total %d: rate at the end %g, want the minimum %g", total, got, minLR)
		}
		prev := before
		for s := at + 1; s <= total; s++ {
			if lr := d.LearningRateAt(s); lr > prev {
				t.Fatalf("total %d: rate rises at step %d (%g > %g)", total, s, lr, prev)
			} else {
				prev = lr
			}
		}
	}
}

// A pause left out of the timing (the distillation teacher's work) does not
// count as step time, and the total is refitted at the next step to the
// time the pause left, even after the last fit point.
func TestBudgetExcludesAPause(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const per = 100 * time.Millisecond
	b := newBudget(time.Minute, t0, 0)
	now := t0.Add(time.Second) // the first step compiles
	b.stepDone(1, now)
	step := 1
	for ; now.Sub(t0) < 55*time.Second; step++ { // past the last fit point (0.9)
		now = now.Add(per)
		b.stepDone(step+1, now)
		b.fit(step+1, now)
	}
	const pause = 2 * time.Second
	now = now.Add(pause)
	b.exclude(pause)
	now = now.Add(per)
	step++
	b.stepDone(step, now)
	total, due := b.fit(step, now)
	if !due {
		t.Fatal("no fit at the first step after the pause")
	}
	// The steps still take 0.1 s: the time left holds left/0.1 steps more.
	left := time.Minute - now.Sub(t0)
	if want := step + int(math.Floor(left.Seconds()/per.Seconds())); total < want-1 || total > want+1 {
		t.Errorf("fit after the pause: %d steps, want %d (±1)", total, want)
	}
	if _, due := b.fit(step+1, now.Add(per)); due {
		t.Error("a second fit right after the pause's")
	}
}
