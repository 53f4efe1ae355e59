package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// Train implements sdk.Generator.
//
// A new run (Resume false) refuses an existing, non-empty model directory,
// loads the data first (so a bad folder leaves nothing behind), then writes
// model.json and trains. A resumed run takes the model and the training
// settings from the checkpoint, except Steps, the new total; Arch and Size,
// if given, must match the saved model.
func (e *Engine) Train(ctx context.Context, req sdk.TrainRequest, progress func(sdk.TrainProgress)) (err error) {
	defer recoverTo(&err, "train")
	if err := req.Validate(); err != nil {
		return err
	}
	report := func(p sdk.TrainProgress) {
		if progress != nil {
			progress(p)
		}
	}
	abs, err := filepath.Abs(req.ModelDir)
	if err != nil {
		return fmt.Errorf("model directory %s: %w", req.ModelDir, err)
	}
	e.mu.Lock()
	if e.training[abs] {
		e.mu.Unlock()
		return fmt.Errorf("model directory %s is already being trained: %w", req.ModelDir, sdk.ErrAlreadyExists)
	}
	e.training[abs] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.training, abs)
		e.mu.Unlock()
	}()

	var (
		cfg  unet.Config
		arch string
		ck   *training.Checkpoint
	)
	if req.Resume {
		meta, err := modeldir.ReadMeta(req.ModelDir)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if ck, err = modeldir.LoadCheckpoint(req.ModelDir); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		cfg, arch = meta.UNet, meta.Arch
		if req.Arch != "" && req.Arch != arch {
			return &sdk.ValidationError{Field: "arch", Problem: fmt.Sprintf("the model in %s is %q; a resumed run cannot change it to %q", req.ModelDir, arch, req.Arch)}
		}
		if req.Size != 0 && (req.Size != cfg.Height || req.Size != cfg.Width) {
			return &sdk.ValidationError{Field: "size", Problem: fmt.Sprintf("the model in %s is %dx%d; a resumed run cannot change it to %d", req.ModelDir, cfg.Width, cfg.Height, req.Size)}
		}
	} else {
		if err := modeldir.RefuseExisting(req.ModelDir); err != nil {
			return err
		}
		arch = orDefault(req.Arch, DefaultArch)
		if cfg, err = unet.Preset(arch); err != nil {
			return &sdk.ValidationError{Field: "arch", Problem: err.Error()}
		}
		if req.Size != 0 {
			cfg = cfg.WithSize(req.Size, req.Size)
		}
		if err := cfg.Validate(); err != nil {
			return &sdk.ValidationError{Field: "size", Problem: fmt.Sprintf("%d does not suit model %q: %v", req.Size, arch, err)}
		}
	}

	data, err := imageset.LoadFolder(ctx, req.DataDir, imageset.LoadOptions{Height: cfg.Height, Width: cfg.Width, FlipHorizontal: true})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %w", sdk.ErrNotFound, err)
		}
		return fmt.Errorf("load training images: %w", err)
	}
	if req.Labels && ck == nil || cfg.NumClasses > 0 {
		labelled, skipped, err := imageset.LabelByFolder(data, req.DataDir)
		if err != nil {
			return &sdk.ValidationError{Field: "labels", Problem: err.Error()}
		}
		if ck != nil && !slices.Equal(labelled.Classes, ck.Classes) {
			return &sdk.ValidationError{Field: "labels", Problem: fmt.Sprintf("the folder's classes %v differ from the model's %v", labelled.Classes, ck.Classes)}
		}
		for _, s := range skipped {
			report(sdk.TrainProgress{Message: "skipped " + s.String()})
		}
		data = labelled
		cfg.NumClasses = len(data.Classes)
		report(sdk.TrainProgress{Message: fmt.Sprintf("%d classes: %s", len(data.Classes), strings.Join(data.Classes, ", "))})
	}
	var holdout *imageset.Dataset
	if req.Holdout > 0 && ck == nil {
		if data, holdout, err = data.Split(req.Holdout, req.Seed); err != nil {
			return &sdk.ValidationError{Field: "holdout", Problem: err.Error()}
		}
		if data.Len() == 0 {
			return &sdk.ValidationError{Field: "holdout", Problem: fmt.Sprintf("%g leaves no image to train on", req.Holdout)}
		}
	}
	msg := fmt.Sprintf("loaded %d images from %s", data.Len(), req.DataDir)
	if holdout != nil {
		msg += fmt.Sprintf(" (%d more held out for evaluation)", holdout.Len())
	}
	if len(data.Skipped) > 0 {
		msg += fmt.Sprintf(", skipped %d", len(data.Skipped))
	}
	if data.Upscaled > 0 {
		msg += fmt.Sprintf(" (%d smaller than %dx%d were enlarged)", data.Upscaled, cfg.Width, cfg.Height)
	}
	report(sdk.TrainProgress{Message: msg})
	for _, s := range data.Skipped {
		report(sdk.TrainProgress{Message: "skipped " + s.String()})
	}
	e.logger.Info("training data", "images", data.Len(), "skipped", len(data.Skipped))

	backend, err := e.getBackend()
	if err != nil {
		return err
	}
	model := unet.Model{Config: cfg}
	var tcfg training.TrainConfig
	if ck != nil {
		tcfg = ck.Train
		tcfg.Steps = req.Steps
	} else {
		tcfg = training.TrainConfig{Steps: req.Steps, BatchSize: req.Batch, LearningRate: req.LR, Seed: req.Seed, CheckpointEvery: req.CheckpointEvery}
	}
	tr, err := training.NewTrainer(backend, model, tcfg)
	if err != nil {
		return &sdk.ValidationError{Field: "train", Problem: err.Error()}
	}
	if ck != nil {
		if err := tr.Restore(ck); err != nil {
			return fmt.Errorf("resume from %s: %w", req.ModelDir, err)
		}
		if ck.Step >= req.Steps {
			report(sdk.TrainProgress{Step: ck.Step, TotalSteps: req.Steps, Message: fmt.Sprintf("the model is already at step %d of %d: nothing to do", ck.Step, req.Steps)})
			return nil
		}
		report(sdk.TrainProgress{Step: ck.Step, TotalSteps: req.Steps, Message: fmt.Sprintf("resuming at step %d of %d", ck.Step, req.Steps)})
	} else {
		if err := os.MkdirAll(req.ModelDir, 0o755); err != nil {
			return fmt.Errorf("create model directory: %w", err)
		}
		if err := modeldir.WriteMeta(req.ModelDir, modeldir.Meta{Arch: arch, DataDir: req.DataDir, UNet: cfg}); err != nil {
			return err
		}
		if holdout != nil {
			if err := modeldir.WriteHoldout(req.ModelDir, holdout.Files); err != nil {
				return err
			}
		}
	}
	save := func(c *training.Checkpoint) (string, error) { return modeldir.SaveCheckpoint(req.ModelDir, c) }
	return tr.Run(ctx, data, training.RunOptions{Save: save, OnProgress: func(p training.Progress) {
		report(sdk.TrainProgress{
			Step: p.Step, TotalSteps: p.TotalSteps, Loss: p.SmoothLoss, ImagesPerSec: p.ImagesPerSec,
			ETA: p.ETA, Checkpoint: p.Checkpoint,
		})
	}})
}
