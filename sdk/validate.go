package sdk

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Limits enforced by TrainRequest.Validate and GenerateRequest.Validate.
const (
	// MinTrainSteps and MaxTrainSteps bound TrainRequest.Steps (0 is allowed
	// with a Duration or when resuming).
	MinTrainSteps = 1
	MaxTrainSteps = 10_000_000
	// MinTrainDuration and MaxTrainDuration bound TrainRequest.Duration (0 = none).
	MinTrainDuration = time.Second
	MaxTrainDuration = 30 * 24 * time.Hour
	// MinGenerateSteps and MaxGenerateSteps bound GenerateRequest.Steps.
	MinGenerateSteps = 1
	MaxGenerateSteps = 10_000
	// MinImages and MaxImages bound GenerateRequest.N.
	MinImages = 1
	MaxImages = 1024
	// MinSize and MaxSize bound TrainRequest.Size; it must also be a
	// multiple of SizeMultiple. 0 means the preset's default.
	MinSize      = 8
	MaxSize      = 512
	SizeMultiple = 8
	// MaxBatch bounds TrainRequest.Batch (0 = default).
	MaxBatch = 4096
	// MaxLR bounds TrainRequest.LR (0 = default).
	MaxLR = 1.0
	// MaxHoldout bounds TrainRequest.Holdout.
	MaxHoldout = 0.9
	// MaxGuidance bounds GenerateRequest.Guidance.
	MaxGuidance = 50.0
	// MaxLabelLength bounds GenerateRequest.Label.
	MaxLabelLength = 256
	// MaxPreviewEvery bounds GenerateRequest.PreviewEvery (0 = no previews).
	MaxPreviewEvery = MaxGenerateSteps
	// MaxPreviewImages is the most previews one progress event carries: the
	// first MaxPreviewImages of the images being integrated at that step.
	MaxPreviewImages = 16
	// MaxPreviewSide bounds the width and height of a preview; larger images
	// are downscaled by a whole factor for their previews.
	MaxPreviewSide = 128
	// MaxPreviewBytes bounds the total PNG bytes of the previews of one
	// progress event (well under gRPC's 4 MiB message limit); the plugin's
	// adapter drops previews beyond it.
	MaxPreviewBytes = 2 << 20
	// MaxInitImageBytes bounds the encoded images sent to the plugin
	// (GenerateRequest.InitPNG, InvertRequest.ImagePNG).
	MaxInitImageBytes = 32 << 20
)

// Sampler names accepted in GenerateRequest.Sampler.
const (
	SamplerEuler    = "euler"
	SamplerHeun     = "heun"
	SamplerMidpoint = "midpoint"
	SamplerRK4      = "rk4"
	// SamplerFlowMap is the few-step sampler of models trained with a
	// few-step objective (ModelInfo.Objective): each step jumps with the
	// model's average velocity over it. It is their default.
	SamplerFlowMap = "flowmap"
)

// Training objectives accepted in TrainRequest.Objective.
const (
	ObjectiveFlowMatching = "flow-matching"
	ObjectiveMeanFlow     = "meanflow"
	ObjectiveShortcut     = "shortcut"
)

// Objectives returns the accepted training objective names.
func Objectives() []string {
	return []string{ObjectiveFlowMatching, ObjectiveMeanFlow, ObjectiveShortcut}
}

// Samplers returns the accepted sampler names: the ODE integrators of the
// velocity, which work on every model (Euler, the default of plain models,
// first), then SamplerFlowMap.
func Samplers() []string {
	return append(VelocitySamplers(), SamplerFlowMap)
}

// VelocitySamplers returns the ODE integrators of the velocity, which work
// on every model and in both directions (Euler first).
func VelocitySamplers() []string {
	return []string{SamplerEuler, SamplerHeun, SamplerMidpoint, SamplerRK4}
}

// ErrInvalidRequest is matched (errors.Is) by every validation error, on
// both sides of the wire: the plugin reports it as gRPC InvalidArgument and
// the client turns that back into an error matching ErrInvalidRequest.
var ErrInvalidRequest = errors.New("invalid request")

// ValidationError says which request field is wrong and why.
type ValidationError struct {
	// Field is the request field, named as the CLI flag would be ("steps").
	Field string
	// Problem says what is wrong, including the allowed range.
	Problem string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Problem)
}

// Is makes errors.Is(err, ErrInvalidRequest) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return invalid(field, "must be in %d..%d, got %d", lo, hi, v)
	}
	return nil
}

// Validate checks r against the limits above. The first problem found is
// returned as a *ValidationError.
func (r TrainRequest) Validate() error {
	if strings.TrimSpace(r.DataDir) == "" {
		return invalid("data dir", "must not be empty")
	}
	if strings.TrimSpace(r.ModelDir) == "" {
		return invalid("model", "model directory must not be empty")
	}
	if r.Size != 0 && (r.Size < MinSize || r.Size > MaxSize || r.Size%SizeMultiple != 0) {
		return invalid("size", "must be a multiple of %d in %d..%d (or 0 for the preset default), got %d",
			SizeMultiple, MinSize, MaxSize, r.Size)
	}
	if r.Duration != 0 && (r.Duration < MinTrainDuration || r.Duration > MaxTrainDuration) {
		return invalid("duration", "must be between %v and %v (or 0 for none), got %v", MinTrainDuration, MaxTrainDuration, r.Duration)
	}
	if r.Steps != 0 || r.Duration == 0 && !r.Resume {
		if err := checkRange("steps", r.Steps, MinTrainSteps, MaxTrainSteps); err != nil {
			return err
		}
	}
	if r.Batch != 0 {
		if err := checkRange("batch", r.Batch, 1, MaxBatch); err != nil {
			return err
		}
	}
	if math.IsNaN(r.LR) || r.LR < 0 || r.LR > MaxLR {
		return invalid("lr", "must be in (0, %g] (or 0 for the default), got %g", MaxLR, r.LR)
	}
	if math.IsNaN(r.Holdout) || r.Holdout < 0 || r.Holdout > MaxHoldout {
		return invalid("holdout", "must be in [0, %g], got %g", MaxHoldout, r.Holdout)
	}
	if r.CheckpointEvery < 0 {
		return invalid("checkpoint-every", "must be >= 0 (0 = default), got %d", r.CheckpointEvery)
	}
	if r.Objective != "" && !slices.Contains(Objectives(), r.Objective) {
		return invalid("objective", "must be one of %s (or empty for the default), got %q", strings.Join(Objectives(), ", "), r.Objective)
	}
	if r.AddNewImages && !r.Resume {
		return invalid("add-new", "applies only when resuming (a new run trains on every image of the folder)")
	}
	return nil
}

// Validate checks r against the limits above. The first problem found is
// returned as a *ValidationError.
func (r GenerateRequest) Validate() error {
	if strings.TrimSpace(r.ModelDir) == "" {
		return invalid("model", "model directory must not be empty")
	}
	if err := checkRange("n", r.N, MinImages, MaxImages); err != nil {
		return err
	}
	if err := checkRange("steps", r.Steps, MinGenerateSteps, MaxGenerateSteps); err != nil {
		return err
	}
	if err := checkSampler(r.Sampler); err != nil {
		return err
	}
	if len(r.Label) > MaxLabelLength {
		return invalid("label", "must be at most %d bytes long, got %d", MaxLabelLength, len(r.Label))
	}
	if math.IsNaN(r.Guidance) || r.Guidance < 0 || r.Guidance > MaxGuidance {
		return invalid("guidance", "must be in [0, %g] (0 = 1, plain conditional), got %g", MaxGuidance, r.Guidance)
	}
	if r.Guidance != 0 && r.Label == "" {
		return invalid("guidance", "applies only with a label")
	}
	if len(r.InitPNG) > MaxInitImageBytes {
		return invalid("init", "the image is %d bytes, at most %d are accepted", len(r.InitPNG), MaxInitImageBytes)
	}
	if math.IsNaN(r.Strength) || r.Strength < 0 || r.Strength > 1 {
		return invalid("strength", "must be in [0, 1], got %g", r.Strength)
	}
	if r.Strength != 0 && len(r.InitPNG) == 0 {
		return invalid("strength", "applies only with an init image")
	}
	if r.Interpolate && len(r.InitPNG) > 0 {
		return invalid("interpolate", "cannot be combined with an init image")
	}
	if err := checkRange("preview-every", r.PreviewEvery, 0, MaxPreviewEvery); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Problem += " (0 = no previews)"
		}
		return err
	}
	return nil
}

// Validate checks an inversion request.
func (r InvertRequest) Validate() error {
	if strings.TrimSpace(r.ModelDir) == "" {
		return invalid("model", "model directory must not be empty")
	}
	if len(r.ImagePNG) == 0 {
		return invalid("image", "no image given")
	}
	if len(r.ImagePNG) > MaxInitImageBytes {
		return invalid("image", "the image is %d bytes, at most %d are accepted", len(r.ImagePNG), MaxInitImageBytes)
	}
	if err := checkRange("steps", r.Steps, MinGenerateSteps, MaxGenerateSteps); err != nil {
		return err
	}
	if err := checkSampler(r.Sampler); err != nil {
		return err
	}
	if r.Sampler == SamplerFlowMap {
		return invalid("sampler", "%s runs forwards only: invert with one of %s", SamplerFlowMap, strings.Join(VelocitySamplers(), ", "))
	}
	return nil
}

// checkSampler accepts "" (the default) and the names in Samplers.
func checkSampler(name string) error {
	if name != "" && !slices.Contains(Samplers(), name) {
		return invalid("sampler", "must be one of %s, got %q", strings.Join(Samplers(), ", "), name)
	}
	return nil
}

// ValidateModelDir checks the model directory argument of Generator.Info.
func ValidateModelDir(modelDir string) error {
	if strings.TrimSpace(modelDir) == "" {
		return invalid("model", "model directory must not be empty")
	}
	return nil
}
