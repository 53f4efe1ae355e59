// Package engine is the fm-image model engine that the plugin serves: it
// implements sdk.Generator with the U-Net of package unet, the flow-matching
// trainer and samplers of package flow, and a GoMLX backend chosen by
// package cpubackend.
//
// A model directory holds model.json (what the model is, written once when
// training starts) and the newest checkpoint (flow.CheckpointFile, plus the
// previous one), which carries the weights, their EMA, the optimiser state
// and the step. Generation samples with the EMA weights.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/backends"
	"github.com/hashicorp/go-hclog"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/internal/cpubackend"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/unet"
)

// DefaultArch is the model preset used when a training request names none.
const DefaultArch = "small"

// Options configure an Engine. Zero fields take the defaults given.
type Options struct {
	// Backend is the GoMLX backend spec passed to cpubackend.Select ("" =
	// $GOMLX_BACKEND, else the project's CPU backend).
	Backend string
	// MaxGeneratePixels bounds N·H·W of one Generate request (default
	// 64·256·256, about 4.2 million pixels): larger requests are refused up
	// front rather than risking the plugin's memory.
	MaxGeneratePixels int64
	// GenerateBatch is the largest number of images integrated at once
	// (default 32); larger requests are processed in chunks of this size.
	GenerateBatch int
}

func (o Options) withDefaults() Options {
	if o.MaxGeneratePixels == 0 {
		o.MaxGeneratePixels = 64 * 256 * 256
	}
	if o.GenerateBatch == 0 {
		o.GenerateBatch = 32
	}
	return o
}

// Engine implements sdk.Generator. It is safe for concurrent use: several
// Generate calls may run at once; two Train calls on the same model
// directory may not (the second is refused).
type Engine struct {
	logger hclog.Logger
	opts   Options

	backendOnce sync.Once
	backend     backends.Backend
	backendErr  error

	mu       sync.Mutex
	training map[string]bool         // model dirs being trained
	fields   map[string]*loadedModel // sampling fields by model dir
}

// loadedModel is a model directory's sampling field, valid while the
// checkpoint file is unchanged.
type loadedModel struct {
	stamp string // checkpoint file size and modification time
	model unet.Model
	ckpt  *flow.Checkpoint
	field *flow.ModelField
}

// New returns an engine with default options. It does no work: the backend
// is created on first use, after the plugin handshake.
func New(logger hclog.Logger) sdk.Generator { return NewWithOptions(logger, Options{}) }

// NewWithOptions returns an engine with the given options.
func NewWithOptions(logger hclog.Logger, opts Options) *Engine {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Engine{
		logger:   logger,
		opts:     opts.withDefaults(),
		training: map[string]bool{},
		fields:   map[string]*loadedModel{},
	}
}

// getBackend creates the GoMLX backend once.
func (e *Engine) getBackend() (backends.Backend, error) {
	e.backendOnce.Do(func() {
		e.backend, e.backendErr = cpubackend.Select(e.opts.Backend)
		if e.backendErr == nil {
			e.logger.Info("backend ready", "backend", e.backend.Name())
		}
	})
	return e.backend, e.backendErr
}

// recoverTo turns a panic (GoMLX panics while building graphs) into an error.
func recoverTo(err *error, what string) {
	if r := recover(); r != nil {
		if re, ok := r.(error); ok {
			*err = fmt.Errorf("%s: %w", what, re)
		} else {
			*err = fmt.Errorf("%s: %v", what, r)
		}
	}
}

// Info implements sdk.Generator.
func (e *Engine) Info(ctx context.Context, modelDir string) (info sdk.ModelInfo, err error) {
	defer recoverTo(&err, "info")
	if err := sdk.ValidateModelDir(modelDir); err != nil {
		return sdk.ModelInfo{}, err
	}
	meta, err := readModelMeta(modelDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	info = sdk.ModelInfo{
		ModelDir: modelDir, Arch: meta.Arch, Width: meta.UNet.Width, Height: meta.UNet.Height,
		Backend: e.opts.Backend,
	}
	if b, err := e.getBackend(); err == nil {
		info.Backend = b.Name()
	}
	cfgJSON, _ := meta.UNet.MarshalIndent()
	info.ConfigJSON = string(cfgJSON)
	ck, err := loadCheckpoint(modelDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	info.Step, info.TotalSteps, info.DatasetSize = ck.Step, ck.Train.Steps, ck.DatasetSize
	info.Labels = ck.Classes
	info.Params = countParams(ck)
	return info, nil
}

// countParams counts the trained weights (the /model scope) of a checkpoint.
func countParams(ck *flow.Checkpoint) int64 {
	var n int64
	for _, t := range ck.Tensors {
		if strings.HasPrefix(t.Name, "/model/") {
			size := int64(1)
			for _, d := range t.Dims {
				size *= int64(d)
			}
			n += size
		}
	}
	return n
}

// loadCheckpoint loads a model directory's checkpoint, mapping a missing one
// to sdk.ErrNotFound.
func loadCheckpoint(modelDir string) (*flow.Checkpoint, error) {
	ck, err := flow.LoadCheckpoint(modelDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", sdk.ErrNotFound, err)
	}
	return ck, err
}

// Generate implements sdk.Generator. Images are integrated in chunks of at
// most Options.GenerateBatch; image i starts from noise that depends only on
// (Seed, i), so results do not depend on N or on the chunking (except for
// Interpolate, where the path between two seeds' noises is cut in N).
func (e *Engine) Generate(ctx context.Context, req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) (images []sdk.Image, err error) {
	defer recoverTo(&err, "generate")
	if err := req.Validate(); err != nil {
		return nil, err
	}
	method, err := flow.ParseMethod(orDefault(req.Sampler, sdk.SamplerEuler))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sdk.ErrInvalidRequest, err)
	}
	lm, err := e.loadModel(req.ModelDir)
	if err != nil {
		return nil, err
	}
	h, w, c := lm.model.ImageShape()
	if pixels := int64(req.N) * int64(h) * int64(w); pixels > e.opts.MaxGeneratePixels {
		return nil, &sdk.ValidationError{Field: "n", Problem: fmt.Sprintf(
			"%d images of %dx%d (%d pixels) exceed the plugin's memory budget of %d pixels per request; ask for at most %d",
			req.N, w, h, pixels, e.opts.MaxGeneratePixels, e.opts.MaxGeneratePixels/int64(h*w))}
	}
	if method == flow.Euler && lm.field.FlowMap() && len(req.InitPNG) == 0 {
		// A model trained with a few-step objective jumps each step with its
		// average velocity over the step (with many steps this tends to
		// Euler on its velocity).
		method = flow.FlowMap
	}
	var field flow.Field = lm.field
	if req.Label != "" {
		label, err := flow.ClassIndex(lm.ckpt.Classes, req.Label)
		if err != nil {
			return nil, &sdk.ValidationError{Field: "label", Problem: err.Error()}
		}
		scale := req.Guidance
		if scale == 0 {
			scale = 1
		}
		if field, err = lm.field.Guided(label, scale); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	dim := h * w * c
	var initImg []float32
	if len(req.InitPNG) > 0 {
		if initImg, err = decodeToModel(req.InitPNG, h, w); err != nil {
			return nil, &sdk.ValidationError{Field: "init", Problem: err.Error()}
		}
	}
	var pathA, pathB []float32
	if req.Interpolate {
		pathA, pathB = make([]float32, dim), make([]float32, dim)
		flow.GaussianNoise(req.Seed, 0, pathA)
		flow.GaussianNoise(req.InterpolateSeed, 0, pathB)
	}

	chunk := min(req.N, e.opts.GenerateBatch)
	chunks := (req.N + chunk - 1) / chunk
	images = make([]sdk.Image, 0, req.N)
	x := make([]float32, chunk*dim)
	for ci := range chunks {
		first := ci * chunk
		n := min(chunk, req.N-first)
		xs := x[:n*dim]
		for i := range n {
			row := xs[i*dim : (i+1)*dim]
			if req.Interpolate {
				frac := 0.0
				if req.N > 1 {
					frac = float64(first+i) / float64(req.N-1)
				}
				if err := flow.Slerp(pathA, pathB, frac, row); err != nil {
					return nil, err
				}
			} else {
				flow.GaussianNoise(req.Seed, first+i, row)
			}
		}
		chunkField := field
		var rec *velocityRecorder
		if req.PreviewEvery > 0 && progress != nil {
			rec = &velocityRecorder{Field: field}
			chunkField = rec
		}
		opts := flow.SampleOptions{Method: method, Steps: req.Steps, OnStep: func(step, steps int, t float32, x []float32) {
			if progress == nil {
				return
			}
			p := sdk.GenerateProgress{Step: ci*steps + step, TotalSteps: chunks * steps}
			if rec != nil && step%req.PreviewEvery == 0 && step < steps {
				previews, err := encodePreviews(x, rec.v, t, first, n, h, w)
				if err != nil {
					e.logger.Warn("generate: previews skipped", "step", p.Step, "error", err)
				}
				p.Previews = previews
			}
			progress(p)
		}}
		integrate := true
		if initImg != nil {
			t0, err := flow.MixWithImage(xs, initImg, req.Strength, xs)
			if err != nil {
				return nil, &sdk.ValidationError{Field: "strength", Problem: err.Error()}
			}
			opts.T0, opts.T1 = t0, 1
			integrate = t0 < 1 // strength 0: the image itself
		}
		if integrate {
			if err := flow.Integrate(ctx, chunkField, xs, n, opts); err != nil {
				return nil, fmt.Errorf("generate from %s: %w", req.ModelDir, err)
			}
		}
		for i := range n {
			png, err := encodePNG(xs[i*dim:(i+1)*dim], h, w)
			if err != nil {
				return nil, fmt.Errorf("generate: image %d: %w", first+i, err)
			}
			images = append(images, sdk.Image{Index: first + i, Width: w, Height: h, PNG: png})
		}
	}
	return images, nil
}

// velocityRecorder is a flow.Field that keeps a copy of the last velocity
// its field computed, for previews. It passes every call through unchanged,
// so the integration (and the final images) are the same with or without it.
type velocityRecorder struct {
	flow.Field
	v []float32 // the last velocity computed (nil before the first)
}

// Velocity implements flow.Field.
func (r *velocityRecorder) Velocity(ctx context.Context, x, t, dst []float32) error {
	if err := r.Field.Velocity(ctx, x, t, dst); err != nil {
		return err
	}
	r.v = append(r.v[:0], dst...)
	return nil
}

// AverageVelocity implements flow.StepField when the recorded field does
// (FlowMap sampling), recording the average velocity.
func (r *velocityRecorder) AverageVelocity(ctx context.Context, x, t, h, dst []float32) error {
	sf, ok := r.Field.(flow.StepField)
	if !ok {
		return errors.New("preview: the field has no average velocities")
	}
	if err := sf.AverageVelocity(ctx, x, t, h, dst); err != nil {
		return err
	}
	r.v = append(r.v[:0], dst...)
	return nil
}

// encodePreviews encodes previews of the first sdk.MaxPreviewImages of the
// n images in x (the state at time t, [n, h, w, 3]), the first of which is
// image number first of the request. Each shows the clean-image prediction
// x̂1 = x + (1 − t)·v with v the last velocity computed (in the last stage
// of the step just finished: exact for Euler, close for the other methods),
// or x itself when v does not match x. Images larger than
// sdk.MaxPreviewSide are downscaled by a whole factor.
func encodePreviews(x, v []float32, t float32, first, n, h, w int) ([]sdk.Image, error) {
	dim := h * w * 3
	if len(x) < n*dim {
		return nil, fmt.Errorf("preview: state has %d floats, want %d", len(x), n*dim)
	}
	if len(v) != len(x) {
		v = nil
	}
	factor := (max(h, w) + sdk.MaxPreviewSide - 1) / sdk.MaxPreviewSide
	ph, pw := max(1, h/factor), max(1, w/factor)
	est := make([]float32, dim)
	previews := make([]sdk.Image, 0, min(n, sdk.MaxPreviewImages))
	for i := range min(n, sdk.MaxPreviewImages) {
		row := x[i*dim : (i+1)*dim]
		if v != nil {
			vrow := v[i*dim : (i+1)*dim]
			for j := range est {
				est[j] = row[j] + (1-t)*vrow[j]
			}
		} else {
			copy(est, row)
		}
		img, err := flow.ToImage(est, h, w)
		if err != nil {
			return previews, fmt.Errorf("preview of image %d: %w", first+i, err)
		}
		if factor > 1 {
			img = imaging.Resize(img, pw, ph, imaging.Box)
		}
		data, err := encodeImagePNG(img)
		if err != nil {
			return previews, fmt.Errorf("preview of image %d: %w", first+i, err)
		}
		previews = append(previews, sdk.Image{Index: first + i, Width: pw, Height: ph, PNG: data})
	}
	return previews, nil
}

// decodeToModel decodes an encoded image and fits it to the model's size:
// [h, w, 3] floats in [-1, 1].
func decodeToModel(data []byte, h, w int) ([]float32, error) {
	img, err := flow.DecodeImage(bytes.NewReader(data), flow.DefaultMaxPixels)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	out := make([]float32, h*w*3)
	if err := flow.FromImage(img, h, w, color.White, out); err != nil {
		return nil, fmt.Errorf("fit image to %dx%d: %w", w, h, err)
	}
	return out, nil
}

// encodePNG encodes one [h, w, 3] image in [-1, 1] as PNG.
func encodePNG(hwc []float32, h, w int) ([]byte, error) {
	img, err := flow.ToImage(hwc, h, w)
	if err != nil {
		return nil, err
	}
	return encodeImagePNG(img)
}

// encodeImagePNG encodes img as PNG.
func encodeImagePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// Invert implements sdk.Inverter: it integrates from the image at t = 1 back
// to t = 0 (the noise), then forwards again to regenerate the image.
func (e *Engine) Invert(ctx context.Context, req sdk.InvertRequest) (res sdk.InvertResult, err error) {
	defer recoverTo(&err, "invert")
	if err := req.Validate(); err != nil {
		return sdk.InvertResult{}, err
	}
	method, err := flow.ParseMethod(orDefault(req.Sampler, sdk.SamplerEuler))
	if err != nil {
		return sdk.InvertResult{}, fmt.Errorf("%w: %w", sdk.ErrInvalidRequest, err)
	}
	lm, err := e.loadModel(req.ModelDir)
	if err != nil {
		return sdk.InvertResult{}, err
	}
	h, w, _ := lm.model.ImageShape()
	img, err := decodeToModel(req.ImagePNG, h, w)
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
	var mae, mean, sq float64
	for i, v := range x {
		mae += math.Abs(float64(max(-1, min(1, v)) - img[i]))
		mean += float64(noise[i])
	}
	mean /= float64(len(noise))
	for _, v := range noise {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	recon, err := encodePNG(x, h, w)
	if err != nil {
		return sdk.InvertResult{}, fmt.Errorf("invert: %w", err)
	}
	return sdk.InvertResult{
		Width: w, Height: h, Noise: noise, NoiseStd: math.Sqrt(sq / float64(len(noise))),
		Reconstruction: recon, RoundTripMAE: mae / float64(len(x)) / 2, // [-1, 1] spans the full range
	}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// loadModel returns the sampling field of a model directory, reusing the
// compiled one while the checkpoint file is unchanged.
func (e *Engine) loadModel(modelDir string) (*loadedModel, error) {
	abs, err := filepath.Abs(modelDir)
	if err != nil {
		return nil, fmt.Errorf("model directory %s: %w", modelDir, err)
	}
	stamp := checkpointStamp(abs)
	e.mu.Lock()
	lm := e.fields[abs]
	e.mu.Unlock()
	if lm != nil && lm.stamp == stamp {
		return lm, nil
	}
	meta, err := readModelMeta(modelDir)
	if err != nil {
		return nil, err
	}
	ck, err := loadCheckpoint(modelDir)
	if err != nil {
		return nil, err
	}
	backend, err := e.getBackend()
	if err != nil {
		return nil, err
	}
	model := unet.Model{Config: meta.UNet}
	field, err := flow.NewModelField(backend, model, ck, true)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", modelDir, err)
	}
	lm = &loadedModel{stamp: stamp, model: model, ckpt: ck, field: field}
	e.mu.Lock()
	e.fields[abs] = lm
	e.mu.Unlock()
	return lm, nil
}

// checkpointStamp identifies the current checkpoint file of a model directory.
func checkpointStamp(dir string) string {
	fi, err := os.Stat(filepath.Join(dir, flow.CheckpointFile))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
}
