package training

import (
	"errors"
	"fmt"
	"math"
)

// TimeSampling says how training draws the time t of each example.
type TimeSampling string

const (
	// TimeUniform draws t ~ U[0, 1).
	TimeUniform TimeSampling = "uniform"
	// TimeLogitNormal draws t = sigmoid(n), n ~ N(0, 1): more weight on the
	// middle of the path, where the velocity is hardest to predict.
	TimeLogitNormal TimeSampling = "logit-normal"
)

// TrainConfig holds the optimisation settings of a training run. Zero fields
// take the defaults listed on each field (see [TrainConfig.WithDefaults]):
// conservative settings for any model. The recipe that `fm-image train`
// uses is the plugin engine's (package plugin/engine, recipe.go), which
// sets its fields explicitly.
type TrainConfig struct {
	// Steps is the total number of optimisation steps of the run (default
	// 1000). When resuming, training continues until this total.
	Steps int `json:"steps"`
	// BatchSize is the number of images per step (default 16).
	BatchSize int `json:"batch_size"`
	// LearningRate is the peak learning rate of AdamW (default 2e-4).
	LearningRate float64 `json:"learning_rate"`
	// WarmupSteps is the length of the linear warm-up from 0 to LearningRate
	// (default min(200, Steps/10); -1 for none).
	WarmupSteps int `json:"warmup_steps"`
	// MinLRFraction is where the cosine decay ends, as a fraction of
	// LearningRate (default 0.1; -1 for 0).
	MinLRFraction float64 `json:"min_lr_fraction"`
	// WeightDecay is AdamW's decoupled weight decay, applied to weight
	// matrices and kernels only, not to biases or norm gains (default 0; -1
	// also means 0).
	WeightDecay float64 `json:"weight_decay"`
	// Beta1, Beta2 and Epsilon are Adam's constants (defaults 0.9, 0.999, 1e-8).
	Beta1   float64 `json:"beta1"`
	Beta2   float64 `json:"beta2"`
	Epsilon float64 `json:"epsilon"`
	// ClipNorm caps the global L2 norm of the gradients (default 1; -1 for no
	// clipping).
	ClipNorm float64 `json:"clip_norm"`
	// EMADecay is the decay of the exponential moving average of the weights
	// that sampling uses (default 0.999). Early in a run the decay is lowered
	// to (1+step)/(10+step) so that the average follows the fast early changes.
	EMADecay float64 `json:"ema_decay"`
	// TimeSampling is the distribution of t (default uniform).
	TimeSampling TimeSampling `json:"time_sampling"`
	// Seed makes a run reproducible: every random draw derives from it.
	Seed int64 `json:"seed"`
	// CheckpointEvery is the number of steps between checkpoints (default 500;
	// -1 to save only at the end and on interruption).
	CheckpointEvery int `json:"checkpoint_every"`
	// ReportEvery is the number of steps between progress reports (default 1).
	ReportEvery int `json:"report_every"`
	// LabelDropout is the probability that a class-conditional model sees an
	// image without its label during training (default 0.1; -1 for 0).
	LabelDropout float64 `json:"label_dropout,omitempty"`
	// ScheduleFrom and ScheduleFromLR record where a resumed run changed the
	// run's length (see [Trainer.SetTotalSteps]): from step ScheduleFrom on,
	// the learning rate decays by a half cosine from ScheduleFromLR, the rate
	// the run had reached there, to LearningRate·MinLRFraction at Steps, so
	// that it never jumps. 0 when the length never changed after warm-up.
	ScheduleFrom   int     `json:"schedule_from,omitempty"`
	ScheduleFromLR float64 `json:"schedule_from_lr,omitempty"`

	// EMAPower, when > 0, replaces EMADecay by the power-function average of
	// Karras et al. (2024, "Analyzing and improving the training dynamics of
	// diffusion models"): after step k (1-based) the decay is
	// (1 - 1/k)^(EMAPower+1), so the average weighs step j in proportion to
	// j^EMAPower and its length follows the run's. 0 (default) keeps EMADecay.
	EMAPower float64 `json:"ema_power,omitempty"`
	// Objective is the training objective (default flow-matching); the
	// few-step ones need a model with a step input (unet.Config.StepInput).
	Objective Objective `json:"objective,omitempty"`
	// FlowMapFraction is the fraction of each batch that a few-step objective
	// trains at a step size d > 0 (the rest is plain flow matching at d = 0);
	// default 0.25.
	FlowMapFraction float64 `json:"flow_map_fraction,omitempty"`
	// FlowMapStart is the fraction of the run trained with plain flow
	// matching (d = 0 on the whole batch) before a few-step objective takes
	// over: a two-phase run, base model first, then its flow-map training
	// (default 0: from the start). The switch is at step
	// round(FlowMapStart·Steps), so it moves if a resumed run changes Steps.
	FlowMapStart float64 `json:"flow_map_start,omitempty"`
	// ShortcutLevels is the number of step sizes a shortcut model learns: d
	// in {1, 1/2, ..., 2^-(ShortcutLevels-1)}, the finest bootstrapped from
	// the velocity (d = 0); default 7 (so 1 to 128 steps).
	ShortcutLevels int `json:"shortcut_levels,omitempty"`
	// ShortcutCoarse is the share of a shortcut model's flow-map examples
	// drawn at the two coarsest step sizes, d = 1 and d = 1/2 (half each),
	// the ones 1- and 2-step sampling use; the rest draw a level uniformly.
	// Default 0: every level uniformly.
	ShortcutCoarse float64 `json:"shortcut_coarse,omitempty"`
	// ShortcutContinuous makes a shortcut model learn every step size
	// between the finest and 1, not only the powers of two: d = 2^-u with u
	// uniform in [0, ShortcutLevels-1] and t uniform in [0, 1-d], so that
	// any step count up to 2^(ShortcutLevels-1), and grids whose steps are
	// not powers of two, ask the model for sizes it was trained at. Default
	// false: the powers of two, t a multiple of d.
	ShortcutContinuous bool `json:"shortcut_continuous,omitempty"`
	// TargetsFromEMA makes a shortcut model's self-consistency targets come
	// from the EMA of the weights instead of the weights being trained (a
	// slower, steadier teacher, as consistency training does).
	TargetsFromEMA bool `json:"targets_from_ema,omitempty"`
	// MeanFlowEpsilon is the finite-difference step of the MeanFlow target's
	// time derivative (default 1e-3; see ObjectiveMeanFlow).
	MeanFlowEpsilon float64 `json:"meanflow_epsilon,omitempty"`
	// AdaptiveLossPower, when > 0, weighs each example's squared error e by
	// 1/(e + 1e-3)^AdaptiveLossPower (not differentiated), as MeanFlow
	// does; 0.5 makes the loss behave like a pseudo-Huber one. Default 0:
	// plain mean squared error.
	AdaptiveLossPower float64 `json:"adaptive_loss_power,omitempty"`
	// OTCoupling re-pairs the noise and the images inside each batch by an
	// exact assignment minimising the total squared distance (minibatch
	// optimal transport; class by class for labelled data).
	OTCoupling bool `json:"ot_coupling,omitempty"`

	// DistillStart, when > 0, ends a few-step run with trajectory
	// distillation (see distill.go): at step round(DistillStart·Steps) the
	// EMA weights become a frozen teacher whose many-step samples are the
	// targets of the few-step flow map from then on. Default 0: no
	// distillation.
	DistillStart float64 `json:"distill_start,omitempty"`
	// DistillTrajectories is the number of teacher trajectories in the
	// pool (default 4096); they cost DistillTeacherSteps model evaluations
	// each, once, and DistillGrid+1 half-float images of memory.
	DistillTrajectories int `json:"distill_trajectories,omitempty"`
	// DistillTeacherSteps is the number of uniform flow-map steps the
	// teacher takes from noise to image (default 16).
	DistillTeacherSteps int `json:"distill_teacher_steps,omitempty"`
	// DistillGrid is the number of intervals of the uniform grid on which
	// the trajectories are kept (default 8; it must divide
	// DistillTeacherSteps): the flow map is distilled at 1, 2, 4, ... up to
	// DistillGrid steps.
	DistillGrid int `json:"distill_grid,omitempty"`
	// DistillFraction is the share of each batch drawn from the pool in the
	// distillation phase (default 0.375); the rest trains the objective as
	// before.
	DistillFraction float64 `json:"distill_fraction,omitempty"`
	// DistillFrom records the step at which the distillation phase began
	// and the teacher was frozen (0 until then), so that a resumed run, or
	// one whose length changes, keeps the phase where it was.
	DistillFrom int `json:"distill_from,omitempty"`
}

// Limits of the training settings.
const (
	MaxTrainSteps = 10_000_000
	MaxBatchSize  = 4096
)

// WithDefaults returns c with every zero field replaced by its default.
func (c TrainConfig) WithDefaults() TrainConfig {
	if c.Steps == 0 {
		c.Steps = 1000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 16
	}
	if c.LearningRate == 0 {
		c.LearningRate = 2e-4
	}
	if c.WarmupSteps == 0 {
		c.WarmupSteps = min(200, c.Steps/10)
	}
	if c.MinLRFraction == 0 {
		c.MinLRFraction = 0.1
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-8
	}
	if c.ClipNorm == 0 {
		c.ClipNorm = 1
	}
	if c.EMADecay == 0 {
		c.EMADecay = 0.999
	}
	if c.TimeSampling == "" {
		c.TimeSampling = TimeUniform
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 500
	}
	if c.ReportEvery == 0 {
		c.ReportEvery = 1
	}
	if c.LabelDropout == 0 {
		c.LabelDropout = 0.1
	}
	if c.Objective == "" {
		c.Objective = ObjectiveFlowMatching
	}
	if c.Objective != ObjectiveFlowMatching {
		if c.FlowMapFraction == 0 {
			c.FlowMapFraction = 0.25
		}
		if c.Objective == ObjectiveShortcut && c.ShortcutLevels == 0 {
			c.ShortcutLevels = 7
		}
		if c.Objective == ObjectiveMeanFlow && c.MeanFlowEpsilon == 0 {
			c.MeanFlowEpsilon = 1e-3
		}
		if c.DistillStart > 0 {
			if c.DistillTrajectories == 0 {
				c.DistillTrajectories = 4096
			}
			if c.DistillTeacherSteps == 0 {
				c.DistillTeacherSteps = 16
			}
			if c.DistillGrid == 0 {
				c.DistillGrid = 8
			}
			if c.DistillFraction == 0 {
				c.DistillFraction = 0.375
			}
		}
	}

	return c
}

// Validate reports every out-of-range setting of c (after defaults), naming
// the field and its allowed range.
func (c TrainConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Steps < 1 || c.Steps > MaxTrainSteps {
		bad("steps=%d: must be 1 to %d", c.Steps, MaxTrainSteps)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		bad("batch_size=%d: must be 1 to %d", c.BatchSize, MaxBatchSize)
	}
	if !(c.LearningRate > 0 && c.LearningRate <= 1) {
		bad("learning_rate=%g: must be in (0, 1]", c.LearningRate)
	}
	if c.WarmupSteps < -1 {
		bad("warmup_steps=%d: must be >= 0 (or -1 for none)", c.WarmupSteps)
	}
	if c.MinLRFraction != -1 && !(c.MinLRFraction >= 0 && c.MinLRFraction <= 1) {
		bad("min_lr_fraction=%g: must be in [0, 1] (or -1 for 0)", c.MinLRFraction)
	}
	if c.WeightDecay != -1 && !(c.WeightDecay >= 0 && c.WeightDecay < 1) {
		bad("weight_decay=%g: must be in [0, 1)", c.WeightDecay)
	}
	for _, b := range []struct {
		name string
		v    float64
	}{{"beta1", c.Beta1}, {"beta2", c.Beta2}} {
		if !(b.v > 0 && b.v < 1) {
			bad("%s=%g: must be in (0, 1)", b.name, b.v)
		}
	}
	if !(c.Epsilon > 0 && c.Epsilon < 1) {
		bad("epsilon=%g: must be in (0, 1)", c.Epsilon)
	}
	if c.ClipNorm != -1 && !(c.ClipNorm > 0) {
		bad("clip_norm=%g: must be > 0 (or -1 for no clipping)", c.ClipNorm)
	}
	if !(c.EMADecay > 0 && c.EMADecay < 1) {
		bad("ema_decay=%g: must be in (0, 1)", c.EMADecay)
	}
	if c.TimeSampling != TimeUniform && c.TimeSampling != TimeLogitNormal {
		bad("time_sampling=%q: must be %q or %q", c.TimeSampling, TimeUniform, TimeLogitNormal)
	}
	if c.CheckpointEvery < -1 || c.CheckpointEvery == 0 {
		bad("checkpoint_every=%d: must be >= 1 (or -1 for only at the end)", c.CheckpointEvery)
	}
	if c.LabelDropout != -1 && !(c.LabelDropout >= 0 && c.LabelDropout < 1) {
		bad("label_dropout=%g: must be in [0, 1) (or -1 for 0)", c.LabelDropout)
	}
	if c.ReportEvery < 1 {
		bad("report_every=%d: must be >= 1", c.ReportEvery)
	}
	if c.ScheduleFrom < 0 || c.ScheduleFrom > 0 && (c.ScheduleFrom >= c.Steps || !(c.ScheduleFromLR > 0 && c.ScheduleFromLR <= 1)) {
		bad("schedule_from=%d, schedule_from_lr=%g: must be a step before steps=%d with a rate in (0, 1]", c.ScheduleFrom, c.ScheduleFromLR, c.Steps)
	}
	if !(c.EMAPower >= 0 && c.EMAPower <= 1000) {
		bad("ema_power=%g: must be in [0, 1000] (0: use ema_decay)", c.EMAPower)
	}
	switch c.Objective {
	case ObjectiveFlowMatching:
	case ObjectiveShortcut, ObjectiveMeanFlow:
		if !(c.FlowMapStart >= 0 && c.FlowMapStart < 1) {
			bad("flow_map_start=%g: must be in [0, 1)", c.FlowMapStart)
		}
		if !(c.FlowMapFraction > 0 && c.FlowMapFraction <= 1) {
			bad("flow_map_fraction=%g: must be in (0, 1]", c.FlowMapFraction)
		}
		if c.Objective == ObjectiveShortcut && (c.ShortcutLevels < 1 || c.ShortcutLevels > 12) {
			bad("shortcut_levels=%d: must be 1 to 12", c.ShortcutLevels)
		}
		if !(c.ShortcutCoarse >= 0 && c.ShortcutCoarse <= 1) {
			bad("shortcut_coarse=%g: must be in [0, 1]", c.ShortcutCoarse)
		}
		if c.Objective == ObjectiveMeanFlow && !(c.MeanFlowEpsilon > 0 && c.MeanFlowEpsilon <= 0.1) {
			bad("meanflow_epsilon=%g: must be in (0, 0.1]", c.MeanFlowEpsilon)
		}
	default:
		bad("objective=%q: must be %q, %q or %q", c.Objective, ObjectiveFlowMatching, ObjectiveShortcut, ObjectiveMeanFlow)
	}
	c.validateDistill(bad)
	if !(c.AdaptiveLossPower >= 0 && c.AdaptiveLossPower <= 2) {
		bad("adaptive_loss_power=%g: must be in [0, 2]", c.AdaptiveLossPower)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid training config: %w", errors.Join(errs...))
	}
	return nil
}

// LearningRateAt returns the learning rate of step (0-based): a linear
// warm-up to LearningRate over WarmupSteps, then a cosine decay to
// LearningRate·MinLRFraction at Steps. After a change of length
// (ScheduleFrom > 0) the decay from ScheduleFrom on starts at ScheduleFromLR.
func (c TrainConfig) LearningRateAt(step int) float64 {
	warm := max(c.WarmupSteps, 0)
	minFrac := max(c.MinLRFraction, 0)
	if c.ScheduleFrom > 0 && step >= c.ScheduleFrom {
		minLR := c.LearningRate * minFrac
		return minLR + (c.ScheduleFromLR-minLR)*halfCosine(step-c.ScheduleFrom, c.Steps-c.ScheduleFrom)
	}
	if step < warm {
		return c.LearningRate * float64(step+1) / float64(warm)
	}
	if c.Steps-warm <= 0 {
		return c.LearningRate
	}
	return c.LearningRate * (minFrac + (1-minFrac)*halfCosine(step-warm, c.Steps-warm))
}

// halfCosine falls from 1 at i = 0 to 0 at i = span (and stays there).
func halfCosine(i, span int) float64 {
	p := min(float64(i)/float64(max(span, 1)), 1)
	return 0.5 * (1 + math.Cos(math.Pi*p))
}

// emaDecayAt returns the EMA decay used after step (0-based).
func (c TrainConfig) emaDecayAt(step int) float64 {
	if c.EMAPower > 0 {
		return math.Pow(1-1/float64(step+1), c.EMAPower+1)
	}
	return min(c.EMADecay, float64(1+step)/float64(10+step))
}

// Limits of the distillation settings.
const (
	MaxDistillTrajectories = 1 << 20
	MaxDistillTeacherSteps = 1024
)

// validateDistill reports the out-of-range distillation settings of c.
func (c TrainConfig) validateDistill(bad func(format string, args ...any)) {
	if c.DistillStart == 0 {
		if c.DistillFrom != 0 {
			bad("distill_from=%d: a run without distillation (distill_start=0) has no distillation phase", c.DistillFrom)
		}
		return
	}
	if !(c.DistillStart > 0 && c.DistillStart < 1) {
		bad("distill_start=%g: must be in (0, 1) (0: no distillation)", c.DistillStart)
	}
	if c.Objective.FlowMap() && c.DistillStart <= c.FlowMapStart {
		bad("distill_start=%g: must come after flow_map_start=%g", c.DistillStart, c.FlowMapStart)
	}
	if !c.Objective.FlowMap() {
		bad("distill_start=%g: distillation needs a few-step objective (%q or %q), not %q", c.DistillStart, ObjectiveShortcut, ObjectiveMeanFlow, c.Objective)
	}
	if c.DistillTrajectories < 1 || c.DistillTrajectories > MaxDistillTrajectories {
		bad("distill_trajectories=%d: must be 1 to %d", c.DistillTrajectories, MaxDistillTrajectories)
	}
	if c.DistillTeacherSteps < 1 || c.DistillTeacherSteps > MaxDistillTeacherSteps {
		bad("distill_teacher_steps=%d: must be 1 to %d", c.DistillTeacherSteps, MaxDistillTeacherSteps)
	}
	if c.DistillGrid < 1 || c.DistillTeacherSteps >= 1 && c.DistillTeacherSteps%c.DistillGrid != 0 {
		bad("distill_grid=%d: must be >= 1 and divide distill_teacher_steps=%d", c.DistillGrid, c.DistillTeacherSteps)
	}
	if !(c.DistillFraction > 0 && c.DistillFraction < 1) {
		bad("distill_fraction=%g: must be in (0, 1)", c.DistillFraction)
	}
	if c.BatchSize >= 1 && c.BatchSize < 2 {
		bad("batch_size=%d: distillation needs at least 2 images per step (pool and data)", c.BatchSize)
	}
	if c.DistillFrom < 0 || c.DistillFrom > c.Steps {
		bad("distill_from=%d: must be a step of the run, 0 to steps=%d", c.DistillFrom, c.Steps)
	}
}
