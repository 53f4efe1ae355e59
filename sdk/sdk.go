// Package sdk is the contract between the fm-image host (the CLI or any
// embedding program) and the fm-image plugin process.
//
// It holds the Go interface both sides agree on (Generator), its request and
// progress types with their validation rules, and the hashicorp/go-plugin
// glue: the handshake, the gRPC adapters that carry Generator over the wire
// (see fmimagepb for the protocol), and Open, which starts a plugin binary
// and returns a *Client implementing Generator.
//
// Plugins serve an implementation with package plugin; hosts call Open.
package sdk

import (
	"context"
	"time"
)

// Generator trains flow-matching image models and samples images from them.
// The plugin serves an implementation; Open returns a client for one.
//
// Rules for implementations (the plugin's engine):
//   - Honour ctx: when it is cancelled, Train writes a checkpoint and returns
//     an error wrapping ctx.Err(); Generate stops at its next step.
//   - Call progress synchronously; it may block briefly while the host reads.
//   - Generate returns exactly req.N images with Index 0..N-1.
//   - Wrap ErrNotFound, ErrAlreadyExists or ErrInvalidRequest into errors
//     where they apply, so that hosts can tell the cases apart (the codes
//     survive the trip over gRPC).
//   - Construction must be cheap (no model loading or accelerator set-up
//     before serving starts): go-plugin's handshake has a start timeout.
//
// Requests reaching an implementation served by package plugin have already
// passed Validate.
type Generator interface {
	// Train trains a model on the images in req.DataDir and saves it to
	// req.ModelDir, calling progress (if non-nil) as it goes.
	Train(ctx context.Context, req TrainRequest, progress func(TrainProgress)) error
	// Generate samples req.N images from the model in req.ModelDir, calling
	// progress (if non-nil) after each integration step.
	Generate(ctx context.Context, req GenerateRequest, progress func(GenerateProgress)) ([]Image, error)
	// Info describes the model saved in modelDir.
	Info(ctx context.Context, modelDir string) (ModelInfo, error)
}

// TrainRequest asks for a training run. Zero values mean "default" where noted.
type TrainRequest struct {
	// DataDir is the folder of training images.
	DataDir string
	// ModelDir is where the model and its checkpoints are written.
	ModelDir string
	// Arch is the model preset name ("" = the engine's default).
	Arch string
	// Size is the image height = width in pixels (0 = preset default).
	Size int
	// Steps is the total number of optimisation steps; with Resume it counts
	// the steps already done.
	Steps int
	// Batch is the batch size (0 = default).
	Batch int
	// LR is the peak learning rate (0 = default).
	LR float64
	// Seed seeds initialisation and data order.
	Seed int64
	// Resume continues the run in ModelDir; without it an existing ModelDir
	// is refused.
	Resume bool
	// CheckpointEvery is the number of steps between checkpoints (0 = default).
	CheckpointEvery int
	// Holdout is the fraction of the images (0 to MaxHoldout) kept out of
	// training; their paths are listed in the model directory's holdout.txt
	// so that evaluation can use them as reference. Ignored on resume.
	Holdout float64
}

// TrainProgress is one training progress event.
type TrainProgress struct {
	// Step is the number of optimisation steps done so far.
	Step int
	// TotalSteps is the step count the run is heading for.
	TotalSteps int
	// Loss is the (smoothed) training loss at Step.
	Loss float64
	// ImagesPerSec is the recent training throughput.
	ImagesPerSec float64
	// ETA estimates the time left.
	ETA time.Duration
	// Checkpoint is the path of a checkpoint written just now, or "".
	Checkpoint string
	// Message is a human-readable event, e.g. "loaded 120 images, skipped 2".
	Message string
}

// GenerateRequest asks for a batch of samples.
type GenerateRequest struct {
	// ModelDir is the trained model to sample from.
	ModelDir string
	// N is the number of images.
	N int
	// Steps is the number of ODE integration steps.
	Steps int
	// Seed seeds the initial noise.
	Seed int64
	// Sampler is the integrator name: one of Samplers ("" = SamplerEuler).
	Sampler string
}

// GenerateProgress reports one finished integration step.
type GenerateProgress struct {
	// Step is the number of integration steps done so far.
	Step int
	// TotalSteps is the number of integration steps requested.
	TotalSteps int
}

// Image is one generated image.
type Image struct {
	// Index is the position of the image in the batch, from 0.
	Index int
	// Width and Height are the image size in pixels.
	Width, Height int
	// PNG is the PNG-encoded image.
	PNG []byte
}

// ModelInfo describes a trained model directory.
type ModelInfo struct {
	// ModelDir is the directory described.
	ModelDir string
	// Arch is the model preset name.
	Arch string
	// Width and Height are the image size the model produces.
	Width, Height int
	// Step is the number of optimisation steps done; TotalSteps the target.
	Step, TotalSteps int
	// DatasetSize is the number of training images used.
	DatasetSize int
	// Backend names the compute backend the plugin uses.
	Backend string
	// Params is the number of trainable parameters.
	Params int64
	// ConfigJSON is the model configuration as JSON.
	ConfigJSON string
}
