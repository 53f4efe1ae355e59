package training

import (
	stdcontext "context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/fm-image/fm-image/flow"
)

// exactStepField is the Gaussian case's exact flow map as a flow.StepField
// (float64 inside, float32 in and out).
type exactStepField struct{ g gaussCase }

func (f exactStepField) Velocity(ctx stdcontext.Context, x, t, dst []float32) error {
	return f.AverageVelocity(ctx, x, t, make([]float32, len(t)), dst)
}

func (f exactStepField) AverageVelocity(_ stdcontext.Context, x, t, h, dst []float32) error {
	n := len(f.g.mu)
	for i := range t {
		xi := make([]float64, n)
		for j := range xi {
			xi[j] = float64(x[i*n+j])
		}
		for j, v := range f.g.u(xi, float64(t[i]), float64(h[i])) {
			dst[i*n+j] = float32(v)
		}
	}
	return nil
}

// half is the unit roundoff of IEEE half floats, 2^-11: the pool's relative
// storage error.
const half = 1.0 / (1 << 11)

// The pool holds the teacher's path at the grid points: with the exact flow
// map, x_t = tμ + a(t)·x0 at t = k/grid, up to half-float rounding (relative
// 2^-11) on top of float32 steps (negligible).
func TestDistillPoolHoldsTheTeachersPath(t *testing.T) {
	g := newGaussCase(rand.New(rand.NewPCG(1, 2)))
	dim := len(g.mu)
	const n, steps, grid, batch = 5, 8, 4, 2 // batches of 2, 2 and 1
	pool, err := buildDistillPool(stdcontext.Background(), exactStepField{g}, 9, n, dim, steps, grid, batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]float32, n*dim)
	if err := flow.GaussianNoiseBatch(9, 0, dim, noise); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for k := range grid + 1 {
			tk := float64(k) / grid
			got := pool.at(i, k)
			for j := range dim {
				want := tk*g.mu[j] + g.a(tk)*float64(noise[i*dim+j])
				// half-float storage, plus float32 arithmetic of up to 8 steps
				tol := math.Abs(want)*half + 1e-5
				if d := math.Abs(float64(got[j].Float32()) - want); d > tol {
					t.Fatalf("trajectory %d at t=%g, value %d: %g, want %g (error %.3g > %.3g)", i, tk, j, got[j].Float32(), want, d, tol)
				}
			}
		}
	}
}

// The pool's examples are the steps of uniform flow-map sampling with 1, 2,
// 4, ..., grid steps, each step count equally often, and an example's target
// is the exact average velocity over its step (within the storage error).
func TestDistillExamples(t *testing.T) {
	g := newGaussCase(rand.New(rand.NewPCG(3, 4)))
	dim := len(g.mu)
	const n, grid = 7, 8
	pool, err := buildDistillPool(stdcontext.Background(), exactStepField{g}, 1, n, dim, 16, grid, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const draws = 8000
	counts := map[int]int{}
	x, u := make([]float32, dim), make([]float32, dim)
	for range draws {
		e := pool.draw(rng)
		span := e.b - e.a
		if e.traj < 0 || e.traj >= n || e.a < 0 || e.b > grid || span < 1 || grid%span != 0 || e.a%span != 0 {
			t.Fatalf("example %+v is not a step of uniform sampling on a grid of %d", e, grid)
		}
		counts[grid/span]++
		tt, d := pool.fill(e, x, u)
		if float64(tt) != float64(e.a)/grid || float64(d) != float64(span)/grid {
			t.Fatalf("example %+v: t=%g d=%g", e, tt, d)
		}
		xs := make([]float64, dim)
		for j := range xs {
			xs[j] = float64(x[j])
		}
		exact := g.u(xs, float64(tt), float64(d))
		for j := range dim {
			// The target is (x_b - x_a)/d of two stored states, each off
			// by up to |x|·2^-11 (|x| < 4 here), plus the float32 flow.
			tol := 2*4*half/float64(d) + 1e-4
			if diff := math.Abs(float64(u[j]) - exact[j]); diff > tol {
				t.Fatalf("example %+v value %d: target %g, exact average velocity %g (error %.3g > %.3g)", e, j, u[j], exact[j], diff, tol)
			}
		}
	}
	// 4 step counts (1, 2, 4, 8), each with probability 1/4: a count is
	// binomial with standard deviation sqrt(draws·1/4·3/4) ≈ 39.
	for _, steps := range []int{1, 2, 4, 8} {
		if c := counts[steps]; math.Abs(float64(c)-draws/4) > 5*math.Sqrt(draws*3.0/16) {
			t.Errorf("%d-step examples drawn %d times of %d, want about %d", steps, c, draws, draws/4)
		}
	}
	if len(counts) != 4 {
		t.Errorf("step counts drawn: %v, want 1, 2, 4 and 8", counts)
	}
}

// The pool's part of the loss: with the exact flow map it is zero up to the
// storage error, and a flow map off by δ everywhere adds δ² per pool
// example. The loss is a mean over pool and data examples, so the pool's
// sum is (K+B)·loss - B·(the loss of the data part alone).
func TestDistillLossGaussian(t *testing.T) {
	g := newGaussCase(rand.New(rand.NewPCG(7, 8)))
	dim := len(g.mu)
	const grid = 4
	pool, err := buildDistillPool(stdcontext.Background(), exactStepField{g}, 2, 6, dim, 8, grid, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	const kp, b = 3, 5
	px, pu := make([]float64, kp*dim), make([]float64, kp*dim)
	pt, pd := make([]float64, kp), make([]float64, kp)
	x, u := make([]float32, dim), make([]float32, dim)
	for i := range kp {
		tt, d := pool.fill(pool.draw(rng), x, u)
		pt[i], pd[i] = float64(tt), float64(d)
		for j := range dim {
			px[i*dim+j], pu[i*dim+j] = float64(x[j]), float64(u[j])
		}
	}
	x0, x1 := g.draw(rng, b)
	ts := make([]float64, b)
	for i := range ts {
		ts[i] = rng.Float64() * 0.5
	}
	cfg := TrainConfig{Objective: ObjectiveShortcut, FlowMapFraction: 0.4, ShortcutLevels: 3, Steps: 10, DistillStart: 0.5}.WithDefaults()
	images := [][]float64{x0, x1, px, pu}
	vectors := [][]float64{ts, shortcutSteps(cfg, b), pt, pd}
	poolSum := func(delta float64) float64 {
		f := func(x, t, d *Node) *Node { return AddScalar(g.graphU(x, t, d), delta) }
		with := runAnyBatch(t, g, func(xs []*Node) *Node {
			return objectiveLoss(cfg, f, f, xs[1], xs[0], xs[4], xs[5], &distillNodes{x: xs[2], u: xs[3], t: xs[6], d: xs[7]})
		}, images, vectors)[0]
		without := runAnyBatch(t, g, func(xs []*Node) *Node {
			return objectiveLoss(cfg, f, f, xs[1], xs[0], xs[4], xs[5], nil)
		}, images, vectors)[0]
		return float64(with)*(kp+b) - float64(without)*b
	}
	// Each target value is off by at most 2·max|x|·2^-11/d (two stored
	// states, |x| < 4, d >= 1/grid): its square bounds each example's error.
	eps := 2 * 4 * half * grid
	// float32 rounding of the two means (values below 10) times 8.
	round := 8 * 10 * 1e-6
	if got := poolSum(0); math.Abs(got) > kp*eps*eps+round {
		t.Errorf("exact flow map: the pool's summed error is %.3g, want below %.3g", got, kp*eps*eps+round)
	}
	const delta = 0.25
	// δ² per example, give or take the cross term 2δ·(target error).
	if got, want := poolSum(delta), kp*delta*delta; math.Abs(got-want) > kp*(2*delta*eps+eps*eps)+round {
		t.Errorf("flow map off by %g: the pool's summed error is %.4g, want %.4g", delta, got, want)
	}
}

// shortcutSteps returns b step sizes for a shortcut batch: the flow-map
// examples first, at d = 1/2, then zeros.
func shortcutSteps(cfg TrainConfig, b int) []float64 {
	d := make([]float64, b)
	for i := range cfg.flowMapCount(b) {
		d[i] = 0.5
	}
	return d
}

// Bad distillation settings are refused, each naming its field.
func TestDistillConfigValidation(t *testing.T) {
	base := TrainConfig{Objective: ObjectiveShortcut, DistillStart: 0.75, Steps: 100}
	for _, tc := range []struct {
		name   string
		change func(c *TrainConfig)
		want   string
	}{
		{"start above 1", func(c *TrainConfig) { c.DistillStart = 1 }, "distill_start=1"},
		{"negative start", func(c *TrainConfig) { c.DistillStart = -0.5 }, "distill_start=-0.5"},
		{"flow matching", func(c *TrainConfig) { c.Objective = ObjectiveFlowMatching }, "distillation needs a few-step objective"},
		{"before the flow map starts", func(c *TrainConfig) { c.FlowMapStart = 0.8 }, "must come after flow_map_start=0.8"},
		{"no trajectories", func(c *TrainConfig) { c.DistillTrajectories = -1 }, "distill_trajectories=-1"},
		{"too many teacher steps", func(c *TrainConfig) { c.DistillTeacherSteps = 2048 }, "distill_teacher_steps=2048"},
		{"grid not dividing the steps", func(c *TrainConfig) { c.DistillTeacherSteps, c.DistillGrid = 16, 6 }, "distill_grid=6"},
		{"fraction 1", func(c *TrainConfig) { c.DistillFraction = 1 }, "distill_fraction=1"},
		{"batch of one", func(c *TrainConfig) { c.BatchSize = 1 }, "batch_size=1"},
		{"phase beyond the run", func(c *TrainConfig) { c.DistillFrom = 101 }, "distill_from=101"},
		{"phase without distillation", func(c *TrainConfig) { c.DistillStart, c.DistillFrom = 0, 5 }, "distill_from=5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			err := c.WithDefaults().Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	if err := base.WithDefaults().Validate(); err != nil {
		t.Fatalf("the base settings are refused: %v", err)
	}
}

// runAnyBatch is gaussCase.run for images and vectors whose batch sizes
// differ: each image's batch is its length over h·w·3.
func runAnyBatch(t *testing.T, g gaussCase, fn func(xs []*Node) *Node, images [][]float64, vectors [][]float64) []float32 {
	t.Helper()
	var args []any
	for _, im := range images {
		args = append(args, tensors.FromFlatDataAndDimensions(toF32(im), len(im)/(g.h*g.w*3), g.h, g.w, 3))
	}
	for _, v := range vectors {
		args = append(args, toF32(v))
	}
	exec, err := NewExec(objBackend(t), func(xs []*Node) *Node { return fn(xs) })
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](outs[0])
}
