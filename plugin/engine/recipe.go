package engine

import (
	"time"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
)

// The default training recipe: what a new run trains with for every setting
// its request leaves out. It was chosen by measured sample quality per
// CPU-minute on a folder of small icons (docs/quality.md has the table of
// each setting's effect at a fixed budget): a large learning rate with
// logit-normal time sampling gave the best many-step images, and the
// shortcut objective, at about a fifth more compute per step, gives images
// at 1 to 4 steps that plain flow matching cannot.
const (
	// DefaultArch is the model preset.
	DefaultArch = "small"
	// DefaultObjective is the training objective (of a model without
	// labels; see defaultObjective).
	DefaultObjective = sdk.ObjectiveShortcut
	// DefaultBatch is the number of images per step.
	DefaultBatch = 32
	// DefaultLR is AdamW's peak learning rate.
	DefaultLR = 4e-3
	// DefaultTimeSampling is the distribution of the training times t.
	DefaultTimeSampling = training.TimeLogitNormal
	// DefaultShortcutLevels is the number of step sizes a shortcut model
	// learns, d = 1 down to 1/16 (finer steps use the velocity): fewer
	// levels than the objective's own default of 7 bootstrap the coarse
	// steps through a shorter chain, which measured better at every step
	// count.
	DefaultShortcutLevels = 5
	// DefaultShortcutContinuous makes a shortcut model of a short run
	// (see longRun) learn every step size from 1/16 to 1, not only the
	// powers of two: after 20 minutes it measured better at every step
	// count from 1 to 32, on the uniform grid too. After 60 minutes the
	// powers of two, sampled at 4 and 8 steps on the time grids fitted at
	// the end of training, measured better from 4 steps on (FD 4.87
	// against 5.85 at 4 steps, 3.24 against 3.64 at 32), so a long run
	// trains those.
	DefaultShortcutContinuous = true
	// longRunDuration and longRunSteps are where a run counts as long: a
	// budget of at least longRunDuration, or without one at least
	// longRunSteps steps. Both lie between the measured points (20 minutes
	// made about 7,900 steps on 2 cores with AVX-512, 60 minutes about
	// 24,000); the crossing itself was not measured.
	longRunDuration = 40 * time.Minute
	longRunSteps    = 15_000
)

// longRun reports whether a new run of req for steps steps (a placeholder
// when req has a Duration) is long enough for the powers-of-two shortcut
// recipe (see DefaultShortcutContinuous).
func longRun(req sdk.TrainRequest, steps int) bool {
	if req.Duration > 0 {
		return req.Duration >= longRunDuration
	}
	return steps >= longRunSteps
}

// defaultObjective is the objective of a new run that names none: the
// recipe's, except for a class-conditional model, which the few-step
// objectives do not support (it trains by plain flow matching and samples
// with guidance).
func defaultObjective(labels bool) string {
	if labels {
		return sdk.ObjectiveFlowMatching
	}
	return DefaultObjective
}

// recipeConfig returns the training settings of a new run of req with the
// given objective: the request's values, the recipe's where it gives none.
// Steps, warm-up and the schedule are set by the caller and the trainer.
func recipeConfig(req sdk.TrainRequest, objective training.Objective, steps int) training.TrainConfig {
	tc := training.TrainConfig{Steps: steps, BatchSize: req.Batch, LearningRate: req.LR, Seed: req.Seed,
		CheckpointEvery: req.CheckpointEvery, Objective: objective, TimeSampling: DefaultTimeSampling}
	if tc.BatchSize == 0 {
		tc.BatchSize = DefaultBatch
	}
	if tc.LearningRate == 0 {
		tc.LearningRate = DefaultLR
	}
	if objective == training.ObjectiveShortcut {
		tc.ShortcutLevels = DefaultShortcutLevels
		tc.ShortcutContinuous = DefaultShortcutContinuous && !longRun(req, steps)
	}
	return tc
}
