// Package engine is the fm-image model engine that the plugin serves: it
// implements sdk.Generator with the U-Net of package unet, the flow-matching
// trainer of package training, the samplers of package flow and a GoMLX
// backend chosen by package backend. Model directories are read and written
// through package modeldir. Generation samples with the EMA weights.
//
// Requests reach the engine through the plugin's gRPC server adapter
// (sdk.GRPCServer), which has validated them (sdk's Validate methods): the
// engine checks only what needs the model (sizes against its memory budget,
// labels against its classes, preset names).
package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/hashicorp/go-hclog"

	"github.com/fm-image/fm-image/internal/backend"
	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// Options configure an Engine. Zero fields take the defaults given.
type Options struct {
	// Backend is the GoMLX backend spec passed to backend.Select ("" =
	// $GOMLX_BACKEND, else the project's CPU backend).
	Backend string
	// MaxGeneratePixels bounds N·H·W of one Generate request (default
	// 64·256·256, about 4.2 million pixels): larger requests are refused up
	// front rather than risking the plugin's memory.
	MaxGeneratePixels int64
	// GenerateBatch is the largest number of images integrated at once
	// (default 32); larger requests are processed in chunks of this size.
	// It also bounds the batches that concurrent requests are gathered into.
	GenerateBatch int
	// BatchWindow is how long a velocity request of one Generate call waits
	// for those of the other calls in flight on the same model, to be
	// evaluated with them in one batch (default 10ms; negative: never
	// batch). A call alone never waits.
	BatchWindow time.Duration
	// GridFitSamples is the number of noise samples that the time grids of
	// a few-step model are fitted on at the end of training (see
	// fitTimeGrids; default 64, negative: fit none).
	GridFitSamples int
	// GridFitMinSteps is the number of training steps a checkpoint needs
	// before its time grids are fitted (default 200): a model trained for
	// fewer makes noise at any grid, and the fit would only cost time.
	GridFitMinSteps int
}

func (o Options) withDefaults() Options {
	if o.MaxGeneratePixels == 0 {
		o.MaxGeneratePixels = 64 * 256 * 256
	}
	if o.GenerateBatch == 0 {
		o.GenerateBatch = 32
	}
	if o.BatchWindow == 0 {
		o.BatchWindow = 10 * time.Millisecond
	}
	if o.GridFitSamples == 0 {
		o.GridFitSamples = 64
	}
	if o.GridFitMinSteps <= 0 {
		o.GridFitMinSteps = 200
	}
	return o
}

// Engine implements sdk.Generator. It is safe for concurrent use: several
// Generate calls may run at once; two Train calls on the same model
// directory may not, in this process or across processes (the second is
// refused, see modeldir.LockForTraining).
type Engine struct {
	logger hclog.Logger
	opts   Options

	backendOnce sync.Once
	backend     backends.Backend
	backendErr  error

	mu     sync.Mutex
	fields map[string]*loadedModel // sampling fields by model dir

	// onBatch, if set (by tests), receives the files of every training batch.
	onBatch func(files []string)
}

var (
	_ sdk.Generator = (*Engine)(nil)
	_ sdk.Inverter  = (*Engine)(nil)
)

// loadedModel is a model directory's sampling field, valid while the
// checkpoint file is unchanged.
type loadedModel struct {
	stamp string // modeldir.CheckpointStamp when loaded
	model unet.Model
	ckpt  *training.Checkpoint
	field *training.ModelField
	// grids are the few-step time grids fitted to the checkpoint, if any.
	grids modeldir.TimeGrids
	// batch gathers the unguided requests of concurrent Generate calls
	// (nil when Options.BatchWindow is negative).
	batch *batcher
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
		logger: logger,
		opts:   opts.withDefaults(),
		fields: map[string]*loadedModel{},
	}
}

// getBackend creates the GoMLX backend once. A backend that cannot be had
// (an unknown name, a PJRT plugin that is not installed) is a
// ValidationError of the field "backend": calls check it before any work.
func (e *Engine) getBackend() (backends.Backend, error) {
	e.backendOnce.Do(func() {
		e.backend, e.backendErr = backend.Select(e.opts.Backend)
		if e.backendErr != nil {
			e.backendErr = &sdk.ValidationError{Field: "backend", Problem: e.backendErr.Error()}
			return
		}
		e.logger.Info("backend ready", "backend", e.backend.Name(), "device", e.backend.Description())
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

// Presets implements sdk.Generator: the presets of package unet.
func (e *Engine) Presets(context.Context) ([]sdk.Preset, error) {
	var out []sdk.Preset
	for _, name := range unet.PresetNames() {
		cfg, err := unet.Preset(name)
		if err != nil {
			return nil, fmt.Errorf("presets: %w", err)
		}
		out = append(out, sdk.Preset{
			Name: name, Description: unet.DescribePreset(name), Width: cfg.Width, Height: cfg.Height,
			Default: name == DefaultArch,
		})
	}
	return out, nil
}

// Info implements sdk.Generator.
func (e *Engine) Info(ctx context.Context, modelDir string) (info sdk.ModelInfo, err error) {
	defer recoverTo(&err, "info")
	meta, err := modeldir.ReadMeta(modelDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	ck, warning, err := modeldir.LoadCheckpoint(modelDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	holdout, err := modeldir.ReadHoldout(modelDir, meta.DataDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	for i, f := range holdout {
		holdout[i] = filepath.Join(meta.DataDir, f)
	}
	info = sdk.ModelInfo{
		ModelDir: modelDir, Arch: meta.Arch, Width: meta.UNet.Width, Height: meta.UNet.Height,
		Step: ck.Step, TotalSteps: ck.Train.Steps, DatasetSize: ck.DatasetSize,
		DataDir: meta.DataDir, HoldoutFiles: holdout, Warning: warning,
		Backend: e.opts.Backend, Params: countParams(ck), Labels: ck.Classes, TrainedOn: ck.TrainedOn,
		Objective: string(ck.Train.WithDefaults().Objective), Sampler: sdk.SamplerEuler,
	}
	if meta.UNet.StepInput { // as ModelField.FlowMap: the model takes a step size
		info.Sampler, info.StepCounts = sdk.SamplerFlowMap, ck.Train.WithDefaults().StepCounts()
	}
	if b, err := e.getBackend(); err == nil {
		info.Backend = b.Name()
	} else {
		info.Backend = "unavailable: " + err.Error()
	}
	cfgJSON, _ := meta.UNet.MarshalIndent()
	info.ConfigJSON = string(cfgJSON)
	return info, nil
}

// countParams counts the trained weights (the /model scope) of a checkpoint.
func countParams(ck *training.Checkpoint) int64 {
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

// loadModel returns the sampling field of a model directory, reusing the
// compiled one while the checkpoint file is unchanged.
func (e *Engine) loadModel(modelDir string) (*loadedModel, error) {
	abs, err := filepath.Abs(modelDir)
	if err != nil {
		return nil, fmt.Errorf("model directory %s: %w", modelDir, err)
	}
	stamp := modeldir.CheckpointStamp(abs)
	e.mu.Lock()
	lm := e.fields[abs]
	e.mu.Unlock()
	if lm != nil && lm.stamp == stamp {
		return lm, nil
	}
	meta, err := modeldir.ReadMeta(modelDir)
	if err != nil {
		return nil, err
	}
	ck, warning, err := modeldir.LoadCheckpoint(modelDir)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		e.logger.Warn("load model: " + warning)
	}
	b, err := e.getBackend()
	if err != nil {
		return nil, err
	}
	model := unet.Model{Config: meta.UNet}
	field, err := training.NewModelField(b, model, ck, true)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", modelDir, err)
	}
	lm = &loadedModel{stamp: stamp, model: model, ckpt: ck, field: field}
	if lm.grids, err = modeldir.ReadTimeGrids(modelDir); err != nil {
		// The grids only refine few-step sampling: without them the model
		// samples on its default grid.
		e.logger.Warn("load model: ignoring its fitted time grids: " + err.Error())
	}
	if e.opts.BatchWindow > 0 {
		h, w, c := model.ImageShape()
		lm.batch = newBatcher(field, h*w*c, e.opts.BatchWindow, e.opts.GenerateBatch)
	}
	e.mu.Lock()
	e.fields[abs] = lm
	e.mu.Unlock()
	return lm, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
