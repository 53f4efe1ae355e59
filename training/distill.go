package training

import (
	stdcontext "context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/x448/float16"

	"github.com/fm-image/fm-image/flow"
)

// Trajectory distillation ends a few-step run (TrainConfig.DistillStart):
// the model's own many-step samples become the targets of its few-step
// flow map. At the phase's first step the EMA weights are frozen as the
// teacher (variables under teacherScope, saved in checkpoints like every
// other variable), and the teacher integrates DistillTrajectories noise
// samples with DistillTeacherSteps flow-map steps on the uniform grid. The
// states at the DistillGrid+1 points t_k = k/DistillGrid of each trajectory
// form the pool. From then on a DistillFraction of each batch regresses
// u(x_a, t_a, t_b - t_a) onto (x_b - x_a)/(t_b - t_a) for two points a < b
// of a pool trajectory: what N flow-map steps from noise should do, taken
// from the teacher's path instead of the shortcut objective's
// self-consistency, whose coarse steps are bootstrapped from finer ones
// through a chain of the model's own errors.

// teacherScope holds the frozen teacher weights of the distillation phase.
const teacherScope = "/teacher"

// distillPool holds the teacher's trajectories: for each of n noise samples
// the state at each of points = grid+1 uniformly spaced times from 0 to 1,
// stored as IEEE half floats ([n][points][dim]) to halve the memory.
type distillPool struct {
	n, grid, dim int
	states       []float16.Float16
}

// poolSeed is the noise seed of the pool's trajectories: the run's seed
// mixed with a constant, so that they are not the training noise.
func poolSeed(seed int64) int64 { return seed ^ 0x0d157111 }

// buildDistillPool integrates n noise samples (flow.GaussianNoiseBatch of
// seed, indices 0 to n-1) with the teacher in steps flow-map steps,
// batch samples at a time, and keeps the state at every (steps/grid)-th
// step. progress, if set, is called after each batch with the number of
// trajectories done.
func buildDistillPool(ctx stdcontext.Context, teacher flow.StepField, seed int64, n, dim, steps, grid, batch int, progress func(done int)) (*distillPool, error) {
	if n < 1 || dim < 1 || grid < 1 || steps < grid || steps%grid != 0 || batch < 1 {
		return nil, fmt.Errorf("distillation pool: bad sizes (trajectories %d, dim %d, steps %d, grid %d, batch %d)", n, dim, steps, grid, batch)
	}
	p := &distillPool{n: n, grid: grid, dim: dim, states: make([]float16.Float16, n*(grid+1)*dim)}
	every := steps / grid
	for first := 0; first < n; first += batch {
		b := min(batch, n-first)
		x := make([]float32, b*dim)
		if err := flow.GaussianNoiseBatch(seed, first, dim, x); err != nil {
			return nil, err
		}
		p.store(first, b, 0, x)
		opts := flow.SampleOptions{Method: flow.FlowMap, Steps: steps, OnStep: func(step, _ int, _ float32, x []float32) {
			if step%every == 0 {
				p.store(first, b, step/every, x)
			}
		}}
		if err := flow.Integrate(ctx, teacher, x, b, opts); err != nil {
			return nil, fmt.Errorf("distillation pool: trajectories %d to %d: %w", first, first+b-1, err)
		}
		if progress != nil {
			progress(first + b)
		}
	}
	return p, nil
}

// store writes the states x of trajectories first to first+b-1 at grid
// point k.
func (p *distillPool) store(first, b, k int, x []float32) {
	for i := range b {
		dst := p.at(first+i, k)
		for j, v := range x[i*p.dim : (i+1)*p.dim] {
			dst[j] = float16.Fromfloat32(v)
		}
	}
}

// at returns the stored state of trajectory i at grid point k.
func (p *distillPool) at(i, k int) []float16.Float16 {
	off := (i*(p.grid+1) + k) * p.dim
	return p.states[off : off+p.dim]
}

// distillExample is one example drawn from the pool: the state at grid
// point a, its time t = a/grid, the step d = (b-a)/grid and the target
// average velocity (x_b - x_a)/d.
type distillExample struct {
	traj, a, b int
}

// draw picks an example: a trajectory uniformly, a step count N uniformly
// among the powers of two up to grid (N flow-map steps of size 1/N), and
// one of those N steps uniformly. The pairs are exactly the steps that
// sampling with 1, 2, 4, ..., grid uniform flow-map steps takes.
func (p *distillPool) draw(rng *rand.Rand) distillExample {
	levels := bits(p.grid) // grid = 2^(levels-1)·odd; powers of two dividing it
	span := p.grid >> rng.IntN(levels)
	start := rng.IntN(p.grid/span) * span
	return distillExample{traj: rng.IntN(p.n), a: start, b: start + span}
}

// bits returns the number of powers of two that divide n (1 for odd n,
// counting 2^0).
func bits(n int) int {
	k := 1
	for n%2 == 0 {
		n /= 2
		k++
	}
	return k
}

// fill writes example e's input state into x, its time and step into t and
// d, and its target into u (x and u of length dim).
func (p *distillPool) fill(e distillExample, x, u []float32) (t, d float32) {
	xa, xb := p.at(e.traj, e.a), p.at(e.traj, e.b)
	step := float64(e.b-e.a) / float64(p.grid)
	inv := float32(1 / step)
	for j := range x {
		a := xa[j].Float32()
		x[j] = a
		u[j] = (xb[j].Float32() - a) * inv
	}
	return float32(float64(e.a) / float64(p.grid)), float32(step)
}

// distillCount returns how many examples of a batch come from the pool in
// the distillation phase (they come first in the batch).
func (c TrainConfig) distillCount(batch int) int {
	if c.DistillStart == 0 {
		return 0
	}
	return min(max(int(math.Round(c.DistillFraction*float64(batch))), 1), batch-1)
}

// distillStartStep returns the step (0-based) at which the distillation
// phase begins: where it began if it has (DistillFrom), else
// round(DistillStart·Steps); -1 if the run does not distil.
func (c TrainConfig) distillStartStep() int {
	switch {
	case c.DistillStart == 0:
		return -1
	case c.DistillFrom > 0:
		return c.DistillFrom
	}
	return max(int(math.Round(c.DistillStart*float64(c.Steps))), 1)
}

// distillBatch holds one step's pool examples, flattened: states and
// targets [k·dim], times and steps [k].
type distillBatch struct {
	x, u, t, d []float32
}

// drawDistillBatch draws k pool examples for this step from the run's seed.
func (tr *Trainer) drawDistillBatch(k int) distillBatch {
	rng := tr.stepRand(3)
	dim := tr.pool.dim
	db := distillBatch{x: make([]float32, k*dim), u: make([]float32, k*dim), t: make([]float32, k), d: make([]float32, k)}
	for i := range k {
		db.t[i], db.d[i] = tr.pool.fill(tr.pool.draw(rng), db.x[i*dim:(i+1)*dim], db.u[i*dim:(i+1)*dim])
	}
	return db
}
