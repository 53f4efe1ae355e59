// Package evaluate measures how close a model's samples are to real images,
// for several samplers and step counts, through any sdk.Generator: it asks
// the generator for images and compares them with a reference set using the
// measures of package quality (sliced Wasserstein distance on
// Laplacian-pyramid patches, and the nearest-neighbour ratio that tells
// copying from generalising).
//
// Everything it needs from the model comes from sdk.ModelInfo (its image
// size, its training folder, the images it held out), so it runs the same
// against the plugin, a fake, or another implementation of the contract.
package evaluate

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/quality"
	"github.com/fm-image/fm-image/sdk"
)

// Config is one sampler and step count to evaluate.
type Config struct {
	// Sampler is one of sdk.Samplers().
	Sampler string
	// Steps is the number of integration steps.
	Steps int
}

// Options configure Run. ModelDir, Images and Configs are required.
type Options struct {
	// ModelDir is the model to evaluate.
	ModelDir string
	// Reference names the reference images: a folder, or a file listing image
	// paths one per line. "" means the images the model held out of training
	// (sdk.ModelInfo.HoldoutFiles).
	Reference string
	// Train is the folder of training images for the nearest-neighbour check,
	// reference files excluded. "" means the model's data folder
	// (sdk.ModelInfo.DataDir).
	Train string
	// Images is the number of images generated per configuration (and the
	// size of the real-vs-real floor's sample).
	Images int
	// Configs are the configurations to evaluate, in order.
	Configs []Config
	// Seed seeds the initial noise, the SWD draws and the floor's sample.
	Seed int64
	// Patches and Projections are the SWD settings (0: quality's defaults).
	Patches, Projections int
	// OnStart, if set, is called once the model, the reference and the
	// training set are loaded, with the result so far (no rows).
	OnStart func(Result)
	// OnRow, if set, is called with each row as soon as it is measured.
	OnRow func(Row)
	// OnProgress, if set, receives the generation progress of each configuration.
	OnProgress func(Config, sdk.GenerateProgress)
	// OnWarning, if set, is told about checks that could not run (for
	// example no training set for the nearest-neighbour ratio).
	OnWarning func(error)
}

// Row is one line of the results.
type Row struct {
	// Sampler is the integrator, or "real" for the real-vs-real floor.
	Sampler string `json:"sampler"`
	// Steps is the number of integration steps (0 for "real").
	Steps int `json:"steps"`
	// Evaluations is the number of model evaluations per image (0 for "real").
	Evaluations int `json:"evaluations"`
	// Images is the number of images compared with the reference.
	Images int `json:"images"`
	// SWD holds the SWD (x10^3) per pyramid level, finest first (see
	// Result.Levels), and SWDAverage their mean.
	SWD        []float64 `json:"swd"`
	SWDAverage float64   `json:"swd_average"`
	// NNRatio is the nearest-neighbour ratio (generated images' mean
	// distance to the training set over the reference images'); absent for
	// "real" and when no training set was available.
	NNRatio *float64 `json:"nn_ratio,omitempty"`
	// NNMean is the generated images' mean nearest-training-image distance.
	NNMean *float64 `json:"nn_mean,omitempty"`
}

// Result is an evaluation's outcome.
type Result struct {
	// Model is the model directory evaluated, Info what the generator said of it.
	Model string        `json:"model"`
	Info  sdk.ModelInfo `json:"-"`
	// Reference names the reference images and RefImages counts them.
	Reference string `json:"reference"`
	RefImages int    `json:"ref_images"`
	// TrainImages is the size of the training set of the nearest-neighbour
	// check (0 if none was available) and TrainSource where it came from.
	TrainImages int    `json:"train_images"`
	TrainSource string `json:"train_source,omitempty"`
	// RefNNMean is the reference images' mean distance to their nearest
	// training image, the ratio's denominator.
	RefNNMean *float64 `json:"ref_nn_mean,omitempty"`
	// Levels are the pyramid level sizes (side in pixels), finest first.
	Levels []int `json:"levels"`
	// Seed, Patches and Projections are the settings used.
	Seed        int64 `json:"seed"`
	Patches     int   `json:"patches"`
	Projections int   `json:"projections"`
	// Rows are the real-vs-real floor (when a training set was available),
	// then one row per configuration.
	Rows []Row `json:"rows"`
}

// HoldoutReference is Result.Reference when the reference is the model's
// own hold-out.
const HoldoutReference = "the model's hold-out"

// Run evaluates the model opts.ModelDir of gen. Problems with the options or
// the reference images are errors matching sdk.ErrInvalidRequest (a
// *sdk.ValidationError naming "ref", "train", "n", "steps" or "sampler").
func Run(ctx context.Context, gen sdk.Generator, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	swdOpts := quality.SWDOptions{PatchesPerImage: opts.Patches, Projections: opts.Projections, Seed: opts.Seed}
	info, err := gen.Info(ctx, opts.ModelDir)
	if err != nil {
		return nil, fmt.Errorf("evaluate: read model: %w", err)
	}
	h, w := info.Height, info.Width
	ref, refFiles, refName, err := loadReference(ctx, opts.Reference, info)
	if err != nil {
		return nil, err
	}
	refDesc, err := quality.Describe(ctx, ref, swdOpts)
	if err != nil {
		return nil, fmt.Errorf("evaluate: reference images: %w", err)
	}
	res := &Result{Model: opts.ModelDir, Info: info, Reference: refName, RefImages: len(ref.Images),
		Seed: opts.Seed, Patches: refDesc.Options().PatchesPerImage, Projections: refDesc.Options().Projections}
	for _, l := range refDesc.Levels() {
		res.Levels = append(res.Levels, l[1])
	}
	train, err := loadTraining(ctx, opts.Train, info, refFiles, h, w)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if opts.OnWarning != nil {
			opts.OnWarning(fmt.Errorf("no nearest-neighbour check: %w", err))
		}
	}
	var refNN float64
	if train != nil {
		res.TrainImages, res.TrainSource = len(train.set.Images), train.source
		nn, err := quality.NearestNeighbours(ctx, ref, train.set, 0)
		if err != nil {
			return nil, fmt.Errorf("evaluate: nearest training images of the reference: %w", err)
		}
		refNN = quality.MeanDistance(nn)
		res.RefNNMean = &refNN
	}
	if opts.OnStart != nil {
		opts.OnStart(*res)
	}
	addRow := func(r Row) {
		res.Rows = append(res.Rows, r)
		if opts.OnRow != nil {
			opts.OnRow(r)
		}
	}
	if train != nil {
		floor, err := realFloor(ctx, train.set, refDesc, opts.Images, opts.Seed)
		if err != nil {
			return nil, err
		}
		addRow(floor)
	}
	for _, c := range opts.Configs {
		row, err := measure(ctx, gen, opts, c, info, refDesc, train, refNN)
		if err != nil {
			return nil, err
		}
		addRow(row)
	}
	return res, nil
}

// check validates the options that need no model.
func (o Options) check() error {
	if o.ModelDir == "" {
		return &sdk.ValidationError{Field: "model", Problem: "model directory must not be empty"}
	}
	if o.Images < sdk.MinImages || o.Images > sdk.MaxImages {
		return &sdk.ValidationError{Field: "n", Problem: fmt.Sprintf("%d is not in %d..%d", o.Images, sdk.MinImages, sdk.MaxImages)}
	}
	if len(o.Configs) == 0 {
		return &sdk.ValidationError{Field: "steps", Problem: "no sampler and step count to evaluate"}
	}
	for _, c := range o.Configs {
		if _, err := flow.ParseMethod(c.Sampler); err != nil {
			return &sdk.ValidationError{Field: "sampler", Problem: err.Error()}
		}
		if c.Steps < sdk.MinGenerateSteps || c.Steps > sdk.MaxGenerateSteps {
			return &sdk.ValidationError{Field: "steps", Problem: fmt.Sprintf("%d is not a step count in %d..%d", c.Steps, sdk.MinGenerateSteps, sdk.MaxGenerateSteps)}
		}
	}
	if o.Patches < 0 || o.Projections < 0 {
		return &sdk.ValidationError{Field: "patches", Problem: "SWD settings must not be negative"}
	}
	return nil
}

// realFloor returns the SWD between min(n, len(train.Images)) training
// images, picked by a permutation seeded with seed, and the reference: what
// a perfect generator of n images would score.
func realFloor(ctx context.Context, train quality.Set, refDesc *quality.Descriptors, n int, seed int64) (Row, error) {
	perm := rand.New(rand.NewPCG(uint64(seed), 0xf100)).Perm(len(train.Images))
	sub := quality.Set{Height: train.Height, Width: train.Width}
	for _, i := range perm[:min(n, len(perm))] {
		sub.Images = append(sub.Images, train.Images[i])
	}
	desc, err := quality.Describe(ctx, sub, refDesc.Options())
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: real-vs-real SWD: %w", err)
	}
	r, err := quality.Distance(ctx, desc, refDesc)
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: real-vs-real SWD: %w", err)
	}
	return Row{Sampler: "real", Images: len(sub.Images), SWD: levelValues(r), SWDAverage: r.Average}, nil
}

// measure generates the images of one configuration and measures them.
func measure(ctx context.Context, gen sdk.Generator, opts Options, c Config, info sdk.ModelInfo,
	refDesc *quality.Descriptors, train *trainingSet, refNN float64) (Row, error) {
	method, err := flow.ParseMethod(c.Sampler)
	if err != nil {
		return Row{}, &sdk.ValidationError{Field: "sampler", Problem: err.Error()}
	}
	req := sdk.GenerateRequest{ModelDir: opts.ModelDir, N: opts.Images, Steps: c.Steps, Seed: opts.Seed, Sampler: c.Sampler}
	images, err := gen.Generate(ctx, req, func(p sdk.GenerateProgress) {
		if opts.OnProgress != nil {
			opts.OnProgress(c, p)
		}
	})
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: generate with %s in %d steps: %w", c.Sampler, c.Steps, err)
	}
	generated, err := decodeGenerated(images, info.Height, info.Width)
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: %s in %d steps: %w", c.Sampler, c.Steps, err)
	}
	desc, err := quality.Describe(ctx, generated, refDesc.Options())
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: describe %s/%d samples: %w", c.Sampler, c.Steps, err)
	}
	r, err := quality.Distance(ctx, desc, refDesc)
	if err != nil {
		return Row{}, fmt.Errorf("evaluate: SWD of %s/%d samples: %w", c.Sampler, c.Steps, err)
	}
	row := Row{Sampler: c.Sampler, Steps: c.Steps, Evaluations: method.Evaluations(c.Steps), Images: len(generated.Images),
		SWD: levelValues(r), SWDAverage: r.Average}
	if train != nil {
		nn, err := quality.NearestNeighbours(ctx, generated, train.set, 0)
		if err != nil {
			return Row{}, fmt.Errorf("evaluate: nearest training images of %s/%d samples: %w", c.Sampler, c.Steps, err)
		}
		mean := quality.MeanDistance(nn)
		row.NNMean = &mean
		if refNN > 0 {
			ratio := mean / refNN
			row.NNRatio = &ratio
		}
	}
	return row, nil
}

// levelValues returns the per-level SWD values of r.
func levelValues(r quality.SWDResult) []float64 {
	out := make([]float64, len(r.Levels))
	for i, l := range r.Levels {
		out[i] = l.SWD
	}
	return out
}

// decodeGenerated converts the generated PNGs into a quality.Set.
func decodeGenerated(images []sdk.Image, h, w int) (quality.Set, error) {
	s := quality.Set{Height: h, Width: w}
	for _, im := range images {
		m, err := imageset.DecodePNGs([][]byte{im.PNG})
		if err != nil {
			return s, fmt.Errorf("generated image %d: %w", im.Index, err)
		}
		dst := make([]float32, h*w*3)
		if err := imageset.FromImage(m[0], h, w, nil, dst); err != nil {
			return s, fmt.Errorf("convert generated image %d: %w", im.Index, err)
		}
		s.Images = append(s.Images, dst)
	}
	return s, nil
}
