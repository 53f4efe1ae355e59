package training

import (
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Objective names a training objective.
type Objective string

const (
	// ObjectiveFlowMatching regresses v(x_t, t) onto x1 - x0 (the default).
	ObjectiveFlowMatching Objective = "flow-matching"
	// ObjectiveShortcut trains a flow map u(x, t, d) (a model with a step
	// input) as a shortcut model (Frans et al. 2024, "One step diffusion via
	// shortcut models"): flow matching at d = 0 on most of the batch, and on
	// a FlowMapFraction of it self-consistency at d in {1, 1/2, ...,
	// 2^-(ShortcutLevels-1)}, t a multiple of d (with ShortcutContinuous any
	// d in that range, t in [0, 1-d]): u(x, t, d) is regressed
	// onto (u(x, t, d/2) + u(x', t+d/2, d/2))/2 with x' = x + d/2·u(x, t,
	// d/2), both evaluated without gradient (d/2 below the finest level is
	// taken as 0). Two extra forward passes on that fraction of the batch.
	ObjectiveShortcut Objective = "shortcut"
	// ObjectiveMeanFlow trains a flow map u(x, t, d) as MeanFlow does (Geng
	// et al. 2025, "Mean flows for one-step generative modeling"), in this
	// package's time convention: the average velocity over [t, t+d]
	// satisfies u = v + d·(du/dt), du/dt the derivative along the path with
	// t+d fixed, du/dt = v·∂u/∂x + ∂u/∂t - ∂u/∂d. On a FlowMapFraction of
	// the batch (t, t+d) are two sorted draws of TimeSampling and u is
	// regressed onto v + d·(u(x+εv, t+ε, d-ε) - u(x, t, d))/ε, v = x1 - x0,
	// ε = min(MeanFlowEpsilon, d), without gradient through the target: a
	// forward finite difference in place of the Jacobian-vector product
	// (GoMLX differentiates in reverse mode only). One extra forward pass on
	// that fraction; the rest of the batch is flow matching at d = 0.
	ObjectiveMeanFlow Objective = "meanflow"
)

// FlowMap reports whether the objective trains a flow map (a model with a
// step input).
func (o Objective) FlowMap() bool { return o == ObjectiveShortcut || o == ObjectiveMeanFlow }

// FlowMapModel is a [Model] that also takes a step size: AverageVelocity
// builds u(x, t, d), the average velocity over [t, t+d] (d [B] >= 0), and
// u(x, t, 0) is the velocity that Velocity builds.
type FlowMapModel interface {
	Model
	// HasStepInput reports whether the model takes d (false: it is a plain
	// velocity model and AverageVelocity must not be called).
	HasStepInput() bool
	AverageVelocity(ctx *context.Context, x, t, d *Node) *Node
}

// hasStepInput reports whether m is a flow map.
func hasStepInput(m Model) bool {
	fm, ok := m.(FlowMapModel)
	return ok && fm.HasStepInput()
}

// modelFunc evaluates a model in a graph: x [B,H,W,C], t [B] and d [B]
// (nil: the plain velocity) -> [B,H,W,C].
type modelFunc func(x, t, d *Node) *Node

// flowMapCount returns how many examples of a batch a few-step objective
// trains at d > 0 (they come first in the batch).
func (c TrainConfig) flowMapCount(batch int) int {
	if !c.Objective.FlowMap() {
		return 0
	}
	return min(max(int(math.Round(c.FlowMapFraction*float64(batch))), 1), batch)
}

// flowMapStartStep returns the first step (0-based) that trains the
// few-step objective; the steps before it are plain flow matching.
func (c TrainConfig) flowMapStartStep() int {
	return int(math.Round(c.FlowMapStart * float64(c.Steps)))
}

// ShortcutMinStep returns the finest step size a shortcut model is trained
// at, 2^-(levels-1).
func ShortcutMinStep(levels int) float64 { return math.Ldexp(1, -(levels - 1)) }

// ModelStep maps a sampler's step size h to the step input the model was
// trained for: h itself for MeanFlow, h for a shortcut model down to its
// finest level and 0 (the velocity) below it, and 0 for flow matching.
func (c TrainConfig) ModelStep(h float64) float64 {
	switch c.Objective {
	case ObjectiveMeanFlow:
		return h
	case ObjectiveShortcut:
		if h < ShortcutMinStep(c.ShortcutLevels)*(1-1e-6) {
			return 0
		}
		return h
	}
	return 0
}

// StepCounts returns the numbers of sampling steps a model trained with c is
// made for with the FlowMap sampler: for a shortcut model the powers of two
// up to 2^ShortcutLevels (the last one's steps below the finest level, where
// the model's step input is the velocity), or with ShortcutContinuous every
// count up to 2^(ShortcutLevels-1) and then 2^ShortcutLevels; nil (any)
// otherwise.
func (c TrainConfig) StepCounts() []int {
	if c.Objective != ObjectiveShortcut {
		return nil
	}
	var n []int
	if c.ShortcutContinuous {
		for k := 1; k <= 1<<(c.ShortcutLevels-1); k++ {
			n = append(n, k)
		}
		return append(n, 1<<c.ShortcutLevels)
	}
	for k := 0; k <= c.ShortcutLevels; k++ {
		n = append(n, 1<<k)
	}
	return n
}

// sampleTimesSteps draws this step's times t [batch] and, for a few-step
// objective, step sizes d [batch] (nil for flow matching), from the run's
// seed. The first flowMapCount(batch) examples get d > 0.
func (tr *Trainer) sampleTimesSteps(batch int) (ts, ds []float32) {
	rng := tr.stepRand(1)
	k := tr.cfg.flowMapCount(batch)
	if tr.step < tr.cfg.flowMapStartStep() {
		k = 0
	}
	ts = make([]float32, batch)
	if tr.cfg.Objective.FlowMap() && tr.step >= tr.cfg.flowMapStartStep() {
		ds = make([]float32, batch)
	}
	for i := range ts {
		if i >= k {
			ts[i] = tr.cfg.drawTime(rng)
			continue
		}
		switch tr.cfg.Objective {
		case ObjectiveShortcut:
			ts[i], ds[i] = tr.cfg.drawShortcutStep(rng)
		case ObjectiveMeanFlow:
			a, b := tr.cfg.drawTime(rng), tr.cfg.drawTime(rng)
			if a > b {
				a, b = b, a
			}
			ts[i], ds[i] = a, b-a
		}
	}
	return ts, ds
}

// drawShortcutStep draws the time t and step size d of a shortcut example:
// d a power of two 2^-k (see shortcutLevel) with t a multiple of d, or with
// ShortcutContinuous d = 2^-u, u uniform in [0, ShortcutLevels-1], and t
// uniform in [0, 1-d]. Either way t+d <= 1.
func (c TrainConfig) drawShortcutStep(rng *rand.Rand) (t, d float32) {
	if c.ShortcutContinuous {
		u := rng.Float64() * float64(c.ShortcutLevels-1)
		dd := math.Exp2(-u)
		return float32(rng.Float64() * (1 - dd)), float32(dd)
	}
	n := 1 << c.shortcutLevel(rng)
	return float32(float64(rng.IntN(n)) / float64(n)), float32(1 / float64(n))
}

// shortcutLevel draws the level k of a shortcut example (d = 2^-k): with
// probability ShortcutCoarse one of the two coarsest (d = 1 or 1/2, equally
// likely), otherwise any of the ShortcutLevels uniformly. With ShortcutCoarse
// 0 it takes one draw from rng, as runs before the option did.
func (c TrainConfig) shortcutLevel(rng *rand.Rand) int {
	if c.ShortcutCoarse > 0 {
		if u := rng.Float64(); u < c.ShortcutCoarse {
			return min(int(2*u/c.ShortcutCoarse), c.ShortcutLevels-1)
		}
	}
	return rng.IntN(c.ShortcutLevels)
}

// drawTime draws one t in [0, 1) from TimeSampling.
func (c TrainConfig) drawTime(rng *rand.Rand) float32 {
	var t float32
	switch c.TimeSampling {
	case TimeLogitNormal:
		t = float32(1 / (1 + math.Exp(-rng.NormFloat64())))
	default:
		t = float32(rng.Float64())
	}
	if t >= 1 { // float32 rounding of values just below 1
		t = math.Nextafter32(1, 0)
	}
	return t
}

// shortcutTarget returns the shortcut models' self-consistency target for
// u(xt, t, d), without gradient: the mean of two half steps of the model,
// u1 = u(xt, t, d/2) and u2 = u(xt + d/2·u1, t+d/2, d/2), with the half
// step given to the model as 0 where it is below minStep.
func shortcutTarget(f modelFunc, xt, t, d *Node, minStep float64) *Node {
	half := MulScalar(d, 0.5)
	// step input: half, or 0 below the finest trained level
	keep := ConvertDType(GreaterOrEqual(half, Scalar(half.Graph(), dtypes.Float32, minStep*(1-1e-6))), dtypes.Float32)
	hin := Mul(half, keep)
	u1 := StopGradient(f(xt, t, hin))
	x2 := Add(xt, Mul(u1, bcast(half)))
	u2 := StopGradient(f(x2, Add(t, half), hin))
	return StopGradient(MulScalar(Add(u1, u2), 0.5))
}

// meanFlowTarget returns MeanFlow's target for u(xt, t, d), without
// gradient: v + d·(u(xt+εv, t+ε, d-ε) - u)/ε with ε = min(eps, d) (at least
// 1e-6 so that d = 0 stays finite, where the term vanishes). pred is the
// model's u(xt, t, d) and v the path's velocity (the tangent).
func meanFlowTarget(f modelFunc, xt, t, d, v, pred *Node, eps float64) *Node {
	e := MaxScalar(MinScalar(d, eps), 1e-6)
	up := StopGradient(f(Add(xt, Mul(v, bcast(e))), Add(t, e), Sub(d, e)))
	dudt := Div(Sub(up, StopGradient(pred)), bcast(e))
	return StopGradient(Add(v, Mul(dudt, bcast(d))))
}

// bcast reshapes a per-example vector [B] to [B,1,1,1].
func bcast(v *Node) *Node { return Reshape(v, v.Shape().Dim(0), 1, 1, 1) }

// sliceBatch returns the first k examples of x.
func sliceBatch(x *Node, k int) *Node { return Slice(x, AxisRange(0, k)) }

// distillNodes are a step's examples from the distillation pool: states x
// and target average velocities u [K,H,W,C], times t and steps d [K].
type distillNodes struct {
	x, t, d, u *Node
}

// objectiveLoss builds the training loss of cfg's objective for the model f
// on data x1, noise x0 and times t (and, for a few-step objective, step sizes
// d whose first k entries are > 0). teacher evaluates the shortcut
// objective's self-consistency targets (f itself, or the EMA weights). In
// the distillation phase pool holds the pool's examples (nil otherwise):
// they join the batch ahead of the data, in the same model evaluation, and
// the loss is the mean over all of them.
func objectiveLoss(cfg TrainConfig, f, teacher modelFunc, x1, x0, t, d *Node, pool *distillNodes) *Node {
	b := x1.Shape().Dim(0)
	tb := bcast(t)
	xt := Add(Mul(OneMinus(tb), x0), Mul(tb, x1))
	target := Sub(x1, x0)
	if !cfg.Objective.FlowMap() {
		v := f(xt, t, nil)
		if cfg.AdaptiveLossPower == 0 {
			return ReduceAllMean(Square(Sub(v, target)))
		}
		return weightedLoss(ReduceMean(Square(Sub(v, target)), 1, 2, 3), cfg.AdaptiveLossPower)
	}
	var pred, poolErrs *Node
	if pool == nil {
		pred = f(xt, t, d)
	} else {
		kp := pool.x.Shape().Dim(0)
		all := f(Concatenate([]*Node{pool.x, xt}, 0), Concatenate([]*Node{pool.t, t}, 0), Concatenate([]*Node{pool.d, d}, 0))
		poolErrs = ReduceMean(Square(Sub(sliceBatch(all, kp), pool.u)), 1, 2, 3)
		pred = Slice(all, AxisRange(kp, kp+b))
	}
	k := cfg.flowMapCount(b)
	sx, st, sd := sliceBatch(xt, k), sliceBatch(t, k), sliceBatch(d, k)
	var tk *Node
	switch cfg.Objective {
	case ObjectiveShortcut:
		tk = shortcutTarget(teacher, sx, st, sd, ShortcutMinStep(cfg.ShortcutLevels))
	case ObjectiveMeanFlow:
		tk = meanFlowTarget(f, sx, st, sd, sliceBatch(target, k), sliceBatch(pred, k), cfg.MeanFlowEpsilon)
	}
	if k < b {
		target = Concatenate([]*Node{tk, Slice(target, AxisRange(k, b))}, 0)
	} else {
		target = tk
	}
	errs := ReduceMean(Square(Sub(pred, target)), 1, 2, 3)
	if poolErrs != nil {
		errs = Concatenate([]*Node{poolErrs, errs}, 0)
	}
	if cfg.AdaptiveLossPower == 0 {
		return ReduceAllMean(errs)
	}
	return weightedLoss(errs, cfg.AdaptiveLossPower)
}

// weightedLoss returns mean_i(w_i·e_i) with w_i = 1/(e_i + 1e-3)^p held
// constant (MeanFlow's adaptive weighting) for per-example errors e [B].
func weightedLoss(errs *Node, p float64) *Node {
	w := StopGradient(Pow(AddScalar(errs, 1e-3), Scalar(errs.Graph(), dtypes.Float32, -p)))
	return ReduceAllMean(Mul(w, errs))
}
