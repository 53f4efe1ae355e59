package engine

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/sdk"
)

// Invert implements sdk.Inverter: it integrates from the image at t = 1 back
// to t = 0 (the noise), then forwards again to regenerate the image.
func (e *Engine) Invert(ctx context.Context, req sdk.InvertRequest) (res sdk.InvertResult, err error) {
	defer recoverTo(&err, "invert")
	method, err := flow.ParseMethod(orDefault(req.Sampler, sdk.SamplerEuler))
	if err != nil {
		return sdk.InvertResult{}, fmt.Errorf("%w: %w", sdk.ErrInvalidRequest, err)
	}
	lm, err := e.loadModel(req.ModelDir)
	if err != nil {
		return sdk.InvertResult{}, err
	}
	h, w, _ := lm.model.ImageShape()
	img, err := imageset.DecodeTensor(req.ImagePNG, h, w)
	if err != nil {
		return sdk.InvertResult{}, &sdk.ValidationError{Field: "image", Problem: err.Error()}
	}
	x := slices.Clone(img)
	if err := flow.Integrate(ctx, lm.field, x, 1, flow.SampleOptions{Method: method, Steps: req.Steps, T0: 1, T1: 0}); err != nil {
		return sdk.InvertResult{}, fmt.Errorf("invert: %w", err)
	}
	noise := slices.Clone(x)
	if err := flow.Integrate(ctx, lm.field, x, 1, flow.SampleOptions{Method: method, Steps: req.Steps}); err != nil {
		return sdk.InvertResult{}, fmt.Errorf("invert: regenerate: %w", err)
	}
	recon, err := imageset.TensorPNG(x, h, w)
	if err != nil {
		return sdk.InvertResult{}, fmt.Errorf("invert: %w", err)
	}
	return sdk.InvertResult{
		Width: w, Height: h, Noise: noise, NoiseStd: stdDev(noise),
		Reconstruction: recon, RoundTripMAE: roundTripMAE(x, img),
	}, nil
}

// roundTripMAE is the mean absolute difference between the regenerated image
// (clamped to [-1, 1] as its PNG is) and the original, in units of the full
// range ([-1, 1] spans 2).
func roundTripMAE(regen, orig []float32) float64 {
	var sum float64
	for i, v := range regen {
		sum += math.Abs(float64(max(-1, min(1, v)) - orig[i]))
	}
	return sum / float64(len(regen)) / 2
}

// stdDev is the population standard deviation of v.
func stdDev(v []float32) float64 {
	var mean, sq float64
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		sq += (float64(x) - mean) * (float64(x) - mean)
	}
	return math.Sqrt(sq / float64(len(v)))
}
