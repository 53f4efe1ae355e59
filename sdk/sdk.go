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
// Validation runs once on each side of the wire. The plugin's server adapter
// (GRPCServer) validates every request and is the guard: implementations it
// serves receive only requests that passed Validate. Hosts call Validate
// on what their users typed, to refuse bad input before starting work (the
// CLI and the web app do); the client does not repeat it.
type Generator interface {
	// Train trains a model on the images in req.DataDir and saves it to
	// req.ModelDir, calling progress (if non-nil) as it goes.
	Train(ctx context.Context, req TrainRequest, progress func(TrainProgress)) error
	// Generate samples req.N images from the model in req.ModelDir, calling
	// progress (if non-nil) after each integration step.
	Generate(ctx context.Context, req GenerateRequest, progress func(GenerateProgress)) ([]Image, error)
	// Info describes the model saved in modelDir. A directory that holds no
	// model is an error matching ErrNotFound.
	Info(ctx context.Context, modelDir string) (ModelInfo, error)
	// Presets lists the model presets TrainRequest.Arch may name, the
	// default (Preset.Default) among them.
	Presets(ctx context.Context) ([]Preset, error)
}

// Preset is a model architecture a training run can start from.
type Preset struct {
	// Name is what TrainRequest.Arch names it by.
	Name string
	// Description says what the preset is for, in one line.
	Description string
	// Width and Height are the image size it trains at unless
	// TrainRequest.Size says otherwise.
	Width, Height int
	// Default is true for the preset a request without Arch gets.
	Default bool
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
	// the steps already done. 0 means: with Duration, as many as the budget
	// allows; with Resume, the run's own total (an interrupted run finishes
	// what it planned).
	Steps int
	// Duration is a wall-clock budget for the training loop (0 = none): the
	// run times its steps early on, fits its total (and so its learning-rate
	// schedule) to the steps the budget allows, and stops with a checkpoint
	// when the budget is spent. With Resume it is the time to train for from
	// now on. Steps, if also given, caps the total.
	Duration time.Duration
	// Batch is the batch size (0 = default).
	Batch int
	// LR is the peak learning rate (0 = default).
	LR float64
	// Seed seeds initialisation and data order.
	Seed int64
	// Resume continues the run in ModelDir; without it an existing ModelDir
	// is refused. A resumed run trains on the images the run began with
	// (those of DataDir listed when it began, the hold-out still excluded)
	// with the settings it began with: Arch, Size, Batch, LR, Seed, Holdout
	// and Labels must be left zero or equal the model's (anything else is a
	// ValidationError naming the field). Steps may grow or shrink (the
	// learning rate then decays from where it is to its minimum at the new
	// total) and CheckpointEvery may change.
	Resume bool
	// CheckpointEvery is the number of steps between checkpoints (0 = default).
	CheckpointEvery int
	// Holdout is the fraction of the images (0 to MaxHoldout) kept out of
	// training; ModelInfo.HoldoutFiles lists them so that evaluation can use
	// them as reference. Ignored on resume.
	Holdout float64
	// Labels trains a class-conditional model: each sub-folder of DataDir is
	// a class, named after the folder (images directly in DataDir are
	// skipped). Generate can then ask for a class (GenerateRequest.Label).
	Labels bool
	// AddNewImages, on resume, also trains on the images added to DataDir
	// since the run began (by default they are reported and left out).
	AddNewImages bool
	// Objective is the training objective, one of Objectives ("" = the
	// engine's default): plain flow matching trains a velocity model; the
	// few-step objectives train a model that also samples in a few steps
	// with SamplerFlowMap.
	Objective string
}

// TrainProgress is one training progress event.
type TrainProgress struct {
	// Step is the number of optimisation steps done so far.
	Step int
	// TotalSteps is the step count the run is heading for; 0 while a run
	// with a Duration (and no Steps) is still timing its first steps to fit
	// its total to the budget.
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
	// Sampler is the integrator name: one of Samplers ("" = the model's
	// default, ModelInfo.Sampler).
	Sampler string
	// Label asks a class-conditional model (trained with labels) for images
	// of this class ("" = unconditional).
	Label string
	// Guidance is the classifier-free guidance scale w used with Label:
	// v = v_uncond + w·(v_label − v_uncond). 0 means 1 (plain conditional);
	// larger values (2 to 5) follow the class more strictly.
	Guidance float64
	// InitPNG, if set, is an image to start from (image-to-image): it is
	// resized and centre-cropped to the model's size, mixed with noise as
	// x_t0 = (1−t0)·noise + t0·image with t0 = 1 − Strength, and integrated
	// from t0 to 1 in Steps steps.
	InitPNG []byte
	// Strength is how far image-to-image departs from InitPNG, in [0, 1]:
	// 0 returns the image unchanged, 1 ignores it (plain sampling).
	Strength float64
	// Interpolate makes the N images a path between two noises: image i
	// starts from the spherical interpolation of the noises of seeds Seed and
	// InterpolateSeed at fraction i/(N−1).
	Interpolate bool
	// InterpolateSeed is the seed of the path's last image (with Interpolate).
	InterpolateSeed int64
	// PreviewEvery asks for intermediate previews (0 = none, the default):
	// after every PreviewEvery-th integration step, except the last, the
	// progress event carries GenerateProgress.Previews, the current estimate
	// of the final images. Previews never change the final images.
	PreviewEvery int
}

// GenerateProgress reports one finished integration step.
type GenerateProgress struct {
	// Step is the number of integration steps done so far.
	Step int
	// TotalSteps is the number of integration steps requested.
	TotalSteps int
	// Previews, on the steps that GenerateRequest.PreviewEvery asks for, are
	// small PNGs of the current estimate of the final images being
	// integrated (for flow matching the clean-image prediction
	// x_t + (1−t)·v): at most MaxPreviewImages of them, each at most
	// MaxPreviewSide pixels on a side, Index being the image's position in
	// the batch. Nil on other steps.
	Previews []Image
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
	// DatasetSize is the number of images trained on (len(HoldoutFiles)
	// more were held out).
	DatasetSize int
	// DataDir is the folder of training images, as the training request
	// named it.
	DataDir string
	// HoldoutFiles are the images of DataDir kept out of training
	// (TrainRequest.Holdout), nil if none: a reference set for evaluation.
	HoldoutFiles []string
	// Warning, if not empty, is something the user should know about the
	// model, e.g. that its newest checkpoint is damaged and the previous one
	// is used.
	Warning string
	// Backend describes the compute backend (and device) the plugin uses now.
	Backend string
	// TrainedOn describes the backend and device the model was trained on
	// (its newest checkpoint's); a model samples on any backend.
	TrainedOn string
	// Params is the number of trainable parameters.
	Params int64
	// ConfigJSON is the model configuration as JSON.
	ConfigJSON string
	// Labels are the class names of a class-conditional model (nil if the
	// model was trained without labels).
	Labels []string
	// Objective is what the model was trained with: "flow-matching" (a
	// velocity model) or a few-step objective ("shortcut", "meanflow"),
	// whose models also sample with SamplerFlowMap.
	Objective string
	// Sampler is the sampler Generate uses when the request names none.
	Sampler string
	// StepCounts are the step counts the model is made for with Sampler
	// (nil: any; a shortcut model lists the counts whose steps it was
	// trained at: 1 to 16 and 32 for the default recipe, the powers of two
	// for the recipe before it). Every model also samples with the ODE
	// integrators at any count.
	StepCounts []int
}

// Inverter is implemented by generators that can run the flow backwards:
// the plugin's engine and *Client.
type Inverter interface {
	// Invert integrates the flow backwards from an image (t = 1) to its noise
	// (t = 0), then forwards again, and reports how well the round trip
	// reproduces the image.
	Invert(ctx context.Context, req InvertRequest) (InvertResult, error)
}

// InvertRequest asks for the inversion of one image.
type InvertRequest struct {
	// ModelDir is the trained model.
	ModelDir string
	// ImagePNG is the image (PNG, JPEG, GIF, BMP, TIFF or WebP); it is resized
	// and centre-cropped to the model's size.
	ImagePNG []byte
	// Steps is the number of integration steps each way.
	Steps int
	// Sampler is the integrator name ("" = SamplerEuler; SamplerFlowMap
	// runs forwards only and is refused).
	Sampler string
}

// InvertResult is the outcome of an inversion.
type InvertResult struct {
	// Width and Height are the model's image size.
	Width, Height int
	// Noise is the recovered noise, [Height, Width, 3] row-major float32.
	Noise []float32
	// NoiseStd is the standard deviation of Noise (about 1 for a good
	// inversion of an image like the training data).
	NoiseStd float64
	// Reconstruction is the image regenerated from Noise, as PNG.
	Reconstruction []byte
	// RoundTripMAE is the mean absolute difference between the input (as the
	// model sees it) and Reconstruction, in units of the full 0..255 range
	// (0.01 is about 2.5 levels).
	RoundTripMAE float64
}
