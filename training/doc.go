// Package training trains fm-image's velocity models by flow matching with
// GoMLX, and evaluates trained ones: a [Trainer] runs AdamW with an
// exponential moving average of the weights inside one compiled step graph,
// a [Checkpoint] is the saved state of a run (the file format is defined
// here), and a [ModelField] evaluates a checkpoint's model as a flow.Field
// for the samplers of package flow.
//
// All the trainer's host-side randomness (batches, noise, times, dropped
// labels) derives from (seed, step), so a run resumed from a checkpoint is
// bit-identical to an uninterrupted one.
//
// Where checkpoints are stored is not this package's business: a run hands
// each checkpoint to [RunOptions.Save] (the plugin's model directory, see
// package modeldir).
//
// Like all GoMLX graph code, model construction panics on errors; the
// exported functions of this package recover and return errors.
package training
