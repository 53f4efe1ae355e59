package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/disintegration/imaging"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
)

// Generate implements sdk.Generator. Images are integrated in chunks of at
// most Options.GenerateBatch; image i starts from noise that depends only on
// (Seed, i), so results do not depend on N or on the chunking (except for
// Interpolate, where the path between two seeds' noises is cut in N).
func (e *Engine) Generate(ctx context.Context, req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) (images []sdk.Image, err error) {
	defer recoverTo(&err, "generate")
	job, err := e.newGenerateJob(req, progress)
	if err != nil {
		return nil, err
	}
	images = make([]sdk.Image, 0, req.N)
	for ci := range job.chunks {
		imgs, err := job.runChunk(ctx, ci)
		if err != nil {
			return nil, err
		}
		images = append(images, imgs...)
	}
	return images, nil
}

// generateJob is one Generate request made ready to run: its model, field,
// sampler and starting points, cut in chunks of at most chunk images.
type generateJob struct {
	e        *Engine
	req      sdk.GenerateRequest
	progress func(sdk.GenerateProgress)
	method   flow.Method
	// grid is the time grid fitted to the model for FlowMap sampling from
	// noise at this step count (modeldir.TimeGrids), if any; nil samples
	// the uniform grid.
	grid  []float64
	field flow.Field
	// batch, if set, gathers this job's velocity requests with those of
	// other Generate calls on the model (unguided requests only).
	batch *batcher
	h, w  int
	dim   int
	// initImg is the image-to-image start ([h, w, 3]), nil without one.
	initImg []float32
	// pathA and pathB are the two noises an interpolation walks between.
	pathA, pathB []float32
	chunk        int
	chunks       int
	x            []float32 // the state of one chunk, reused
}

// newGenerateJob loads the model and checks what only the model can tell:
// the memory budget, the label, the init image.
func (e *Engine) newGenerateJob(req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) (*generateJob, error) {
	if _, err := e.getBackend(); err != nil {
		return nil, err
	}
	lm, err := e.loadModel(req.ModelDir)
	if err != nil {
		return nil, err
	}
	method, err := samplingMethod(lm, req)
	if err != nil {
		return nil, err
	}
	h, w, c := lm.model.ImageShape()
	if pixels := int64(req.N) * int64(h) * int64(w); pixels > e.opts.MaxGeneratePixels {
		return nil, &sdk.ValidationError{Field: "n", Problem: fmt.Sprintf(
			"%d images of %dx%d (%d pixels) exceed the plugin's memory budget of %d pixels per request; ask for at most %d",
			req.N, w, h, pixels, e.opts.MaxGeneratePixels, e.opts.MaxGeneratePixels/int64(h*w))}
	}
	j := &generateJob{e: e, req: req, progress: progress, method: method, h: h, w: w, dim: h * w * c}
	if j.field, err = guidedField(lm, req); err != nil {
		return nil, err
	}
	if req.Label == "" {
		j.batch = lm.batch
	}
	if len(req.InitPNG) > 0 {
		if j.initImg, err = imageset.DecodeTensor(req.InitPNG, h, w); err != nil {
			return nil, &sdk.ValidationError{Field: "init", Problem: err.Error()}
		}
	}
	if method == flow.FlowMap && j.initImg == nil {
		j.grid = lm.grids.For(method, req.Steps, lm.ckpt.Step)
	}
	if req.Interpolate {
		j.pathA, j.pathB = make([]float32, j.dim), make([]float32, j.dim)
		flow.GaussianNoise(req.Seed, 0, j.pathA)
		flow.GaussianNoise(req.InterpolateSeed, 0, j.pathB)
	}
	j.chunk = min(req.N, e.opts.GenerateBatch)
	j.chunks = (req.N + j.chunk - 1) / j.chunk
	j.x = make([]float32, j.chunk*j.dim)
	return j, nil
}

// samplingMethod is the request's sampler, or the model's default
// (defaultSampler); the few-step sampler needs a model trained for it and
// no guidance.
func samplingMethod(lm *loadedModel, req sdk.GenerateRequest) (flow.Method, error) {
	name := req.Sampler
	if name == "" {
		name = defaultSampler(lm.field, req.Label != "")
	}
	method, err := flow.ParseMethod(name)
	if err != nil {
		return "", &sdk.ValidationError{Field: "sampler", Problem: err.Error()}
	}
	if method == flow.FlowMap {
		switch {
		case !lm.field.FlowMap():
			return "", &sdk.ValidationError{Field: "sampler", Problem: fmt.Sprintf(
				"%s needs a model trained with a few-step objective; %s was trained by plain flow matching: use euler, heun, midpoint or rk4", sdk.SamplerFlowMap, req.ModelDir)}
		case req.Label != "":
			return "", &sdk.ValidationError{Field: "sampler", Problem: fmt.Sprintf("%s does not take a label: use euler, heun, midpoint or rk4 with guidance", sdk.SamplerFlowMap)}
		}
	}
	return method, nil
}

// defaultSampler is the sampler of requests that name none: the few-step
// sampler for a model trained for it (unless guided), else Euler.
func defaultSampler(field *training.ModelField, guided bool) string {
	if field.FlowMap() && !guided {
		return sdk.SamplerFlowMap
	}
	return sdk.SamplerEuler
}

// guidedField returns the field to integrate: the model's, or its
// classifier-free-guided version when the request names a label.
func guidedField(lm *loadedModel, req sdk.GenerateRequest) (flow.Field, error) {
	if req.Label == "" {
		return lm.field, nil
	}
	label, err := imageset.ClassIndex(lm.ckpt.Classes, req.Label)
	if err != nil {
		return nil, &sdk.ValidationError{Field: "label", Problem: err.Error()}
	}
	scale := req.Guidance
	if scale == 0 {
		scale = 1
	}
	field, err := lm.field.Guided(label, scale)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return field, nil
}

// runChunk integrates chunk ci and returns its images.
func (j *generateJob) runChunk(ctx context.Context, ci int) ([]sdk.Image, error) {
	first := ci * j.chunk
	n := min(j.chunk, j.req.N-first)
	xs := j.x[:n*j.dim]
	if err := j.startingPoints(first, n, xs); err != nil {
		return nil, err
	}
	field, rec := j.field, (*velocityRecorder)(nil)
	if j.batch != nil {
		batched, end := j.batch.begin()
		defer end()
		field = batched
	}
	if j.req.PreviewEvery > 0 && j.progress != nil {
		rec = &velocityRecorder{Field: field}
		field = rec
	}
	opts := flow.SampleOptions{Method: j.method, Steps: j.req.Steps, Grid: j.grid, OnStep: j.onStep(ci, first, n, rec)}
	if j.initImg != nil {
		t0, err := flow.MixWithImage(xs, j.initImg, j.req.Strength, xs)
		if err != nil {
			return nil, &sdk.ValidationError{Field: "strength", Problem: err.Error()}
		}
		opts.T0, opts.T1 = t0, 1
		if t0 >= 1 { // strength 0: the image itself
			return j.encode(first, n, xs)
		}
	}
	if err := flow.Integrate(ctx, field, xs, n, opts); err != nil {
		return nil, fmt.Errorf("generate from %s: %w", j.req.ModelDir, err)
	}
	return j.encode(first, n, xs)
}

// startingPoints writes the noise of images first..first+n-1 into xs: each
// image's own seeded noise, or its point on the interpolation path.
func (j *generateJob) startingPoints(first, n int, xs []float32) error {
	for i := range n {
		row := xs[i*j.dim : (i+1)*j.dim]
		if !j.req.Interpolate {
			flow.GaussianNoise(j.req.Seed, first+i, row)
			continue
		}
		frac := 0.0
		if j.req.N > 1 {
			frac = float64(first+i) / float64(j.req.N-1)
		}
		if err := flow.Slerp(j.pathA, j.pathB, frac, row); err != nil {
			return err
		}
	}
	return nil
}

// onStep returns the sampler's step callback for chunk ci: progress across
// all chunks, with previews when asked for.
func (j *generateJob) onStep(ci, first, n int, rec *velocityRecorder) func(step, steps int, t float32, x []float32) {
	return func(step, steps int, t float32, x []float32) {
		if j.progress == nil {
			return
		}
		p := sdk.GenerateProgress{Step: ci*steps + step, TotalSteps: j.chunks * steps}
		if rec != nil && step%j.req.PreviewEvery == 0 && step < steps {
			previews, err := encodePreviews(x, rec.v, t, first, n, j.h, j.w)
			if err != nil {
				j.e.logger.Warn("generate: previews skipped", "step", p.Step, "error", err)
			}
			p.Previews = previews
		}
		j.progress(p)
	}
}

// encode returns the n images of xs as PNGs, numbered from first.
func (j *generateJob) encode(first, n int, xs []float32) ([]sdk.Image, error) {
	out := make([]sdk.Image, 0, n)
	for i := range n {
		data, err := imageset.TensorPNG(xs[i*j.dim:(i+1)*j.dim], j.h, j.w)
		if err != nil {
			return nil, fmt.Errorf("generate: image %d: %w", first+i, err)
		}
		out = append(out, sdk.Image{Index: first + i, Width: j.w, Height: j.h, PNG: data})
	}
	return out, nil
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
// (few-step sampling), recording the average velocity: the previews then
// show x + (1 − t)·u, the jump to the end of the path.
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
		img, err := imageset.ToImage(est, h, w)
		if err != nil {
			return previews, fmt.Errorf("preview of image %d: %w", first+i, err)
		}
		if factor > 1 {
			img = imaging.Resize(img, pw, ph, imaging.Box)
		}
		data, err := imageset.EncodePNG(img)
		if err != nil {
			return previews, fmt.Errorf("preview of image %d: %w", first+i, err)
		}
		previews = append(previews, sdk.Image{Index: first + i, Width: pw, Height: ph, PNG: data})
	}
	return previews, nil
}
