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
// loads the data first (so a bad folder leaves nothing behind), then creates
// the model directory and trains. A resumed run takes the model and the training
// settings from the checkpoint, except Steps, the new total; Arch and Size,
// if given, must match the saved model.
func (e *Engine) Train(ctx context.Context, req sdk.TrainRequest, progress func(sdk.TrainProgress)) (err error) {
	defer recoverTo(&err, "train")
	report := func(p sdk.TrainProgress) {
		if progress != nil {
			progress(p)
		}
	}
	release, err := e.claimModelDir(req.ModelDir)
	if err != nil {
		return err
	}
	defer release()
	run, err := planRun(req)
	if err != nil {
		return err
	}
	if err := run.loadData(ctx, req, report); err != nil {
		return err
	}
	e.logger.Info("training data", "images", run.data.Len(), "skipped", len(run.data.Skipped))
	tr, err := e.newTrainer(run, req)
	if err != nil {
		return err
	}
	if run.ckpt != nil {
		if run.ckpt.Step >= req.Steps {
			report(sdk.TrainProgress{Step: run.ckpt.Step, TotalSteps: req.Steps, Message: fmt.Sprintf("the model is already at step %d of %d: nothing to do", run.ckpt.Step, req.Steps)})
			return nil
		}
		report(sdk.TrainProgress{Step: run.ckpt.Step, TotalSteps: req.Steps, Message: fmt.Sprintf("resuming at step %d of %d", run.ckpt.Step, req.Steps)})
	} else if err := run.createModelDir(req); err != nil {
		return err
	}
	save := func(c *training.Checkpoint) (string, error) { return modeldir.SaveCheckpoint(req.ModelDir, c) }
	return tr.Run(ctx, run.data, training.RunOptions{Save: save, OnProgress: func(p training.Progress) {
		report(sdk.TrainProgress{
			Step: p.Step, TotalSteps: p.TotalSteps, Loss: p.SmoothLoss, ImagesPerSec: p.ImagesPerSec,
			ETA: p.ETA, Checkpoint: p.Checkpoint,
		})
	}})
}

// claimModelDir marks dir as being trained by this engine, refusing a second
// claim while the first holds; release gives it back.
func (e *Engine) claimModelDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("model directory %s: %w", dir, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.training[abs] {
		return nil, fmt.Errorf("model directory %s is already being trained: %w", dir, sdk.ErrAlreadyExists)
	}
	e.training[abs] = true
	return func() {
		e.mu.Lock()
		delete(e.training, abs)
		e.mu.Unlock()
	}, nil
}

// trainRun is what a training request resolves to before it starts.
type trainRun struct {
	arch string
	cfg  unet.Config
	// ckpt is the checkpoint a resumed run continues (nil for a new run).
	ckpt *training.Checkpoint
	// data is the training set; holdout the images kept out (nil if none).
	data, holdout *imageset.Dataset
}

// planRun decides the model of a run: the saved one for a resumed run
// (Arch and Size, if given, must match it), else the requested preset at the
// requested size in a directory that does not exist yet.
func planRun(req sdk.TrainRequest) (*trainRun, error) {
	if req.Resume {
		meta, err := modeldir.ReadMeta(req.ModelDir)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		ck, err := modeldir.LoadCheckpoint(req.ModelDir)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		cfg := meta.UNet
		if req.Arch != "" && req.Arch != meta.Arch {
			return nil, &sdk.ValidationError{Field: "arch", Problem: fmt.Sprintf("the model in %s is %q; a resumed run cannot change it to %q", req.ModelDir, meta.Arch, req.Arch)}
		}
		if req.Size != 0 && (req.Size != cfg.Height || req.Size != cfg.Width) {
			return nil, &sdk.ValidationError{Field: "size", Problem: fmt.Sprintf("the model in %s is %dx%d; a resumed run cannot change it to %d", req.ModelDir, cfg.Width, cfg.Height, req.Size)}
		}
		return &trainRun{arch: meta.Arch, cfg: cfg, ckpt: ck}, nil
	}
	if err := modeldir.RefuseExisting(req.ModelDir); err != nil {
		return nil, err
	}
	arch := orDefault(req.Arch, DefaultArch)
	cfg, err := unet.Preset(arch)
	if err != nil {
		return nil, &sdk.ValidationError{Field: "arch", Problem: err.Error()}
	}
	if req.Size != 0 {
		cfg = cfg.WithSize(req.Size, req.Size)
	}
	if err := cfg.Validate(); err != nil {
		return nil, &sdk.ValidationError{Field: "size", Problem: fmt.Sprintf("%d does not suit model %q: %v", req.Size, arch, err)}
	}
	return &trainRun{arch: arch, cfg: cfg}, nil
}

// loadData loads the training images at the model's size, labels them by
// folder for a class-conditional model, splits off the hold-out of a new run
// and reports what was loaded and skipped.
func (r *trainRun) loadData(ctx context.Context, req sdk.TrainRequest, report func(sdk.TrainProgress)) error {
	data, err := imageset.LoadFolder(ctx, req.DataDir, imageset.LoadOptions{Height: r.cfg.Height, Width: r.cfg.Width, FlipHorizontal: true})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %w", sdk.ErrNotFound, err)
		}
		return fmt.Errorf("load training images: %w", err)
	}
	if req.Labels && r.ckpt == nil || r.cfg.NumClasses > 0 {
		if data, err = r.label(data, req.DataDir, report); err != nil {
			return err
		}
	}
	if req.Holdout > 0 && r.ckpt == nil {
		if data, r.holdout, err = data.Split(req.Holdout, req.Seed); err != nil {
			return &sdk.ValidationError{Field: "holdout", Problem: err.Error()}
		}
		if data.Len() == 0 {
			return &sdk.ValidationError{Field: "holdout", Problem: fmt.Sprintf("%g leaves no image to train on", req.Holdout)}
		}
	}
	r.data = data
	report(sdk.TrainProgress{Message: r.loadedMessage(req.DataDir)})
	for _, s := range data.Skipped {
		report(sdk.TrainProgress{Message: "skipped " + s.String()})
	}
	return nil
}

// label labels data by sub-folder of root; a resumed run's classes must be
// the model's.
func (r *trainRun) label(data *imageset.Dataset, root string, report func(sdk.TrainProgress)) (*imageset.Dataset, error) {
	labelled, skipped, err := imageset.LabelByFolder(data, root)
	if err != nil {
		return nil, &sdk.ValidationError{Field: "labels", Problem: err.Error()}
	}
	if r.ckpt != nil && !slices.Equal(labelled.Classes, r.ckpt.Classes) {
		return nil, &sdk.ValidationError{Field: "labels", Problem: fmt.Sprintf("the folder's classes %v differ from the model's %v", labelled.Classes, r.ckpt.Classes)}
	}
	for _, s := range skipped {
		report(sdk.TrainProgress{Message: "skipped " + s.String()})
	}
	r.cfg.NumClasses = len(labelled.Classes)
	report(sdk.TrainProgress{Message: fmt.Sprintf("%d classes: %s", len(labelled.Classes), strings.Join(labelled.Classes, ", "))})
	return labelled, nil
}

// loadedMessage says how many images were loaded, held out, skipped and enlarged.
func (r *trainRun) loadedMessage(dataDir string) string {
	msg := fmt.Sprintf("loaded %d images from %s", r.data.Len(), dataDir)
	if r.holdout != nil {
		msg += fmt.Sprintf(" (%d more held out for evaluation)", r.holdout.Len())
	}
	if len(r.data.Skipped) > 0 {
		msg += fmt.Sprintf(", skipped %d", len(r.data.Skipped))
	}
	if r.data.Upscaled > 0 {
		msg += fmt.Sprintf(" (%d smaller than %dx%d were enlarged)", r.data.Upscaled, r.cfg.Width, r.cfg.Height)
	}
	return msg
}

// newTrainer builds the trainer of a run: a resumed run keeps its saved
// settings (with the new total of steps) and state.
func (e *Engine) newTrainer(r *trainRun, req sdk.TrainRequest) (*training.Trainer, error) {
	b, err := e.getBackend()
	if err != nil {
		return nil, err
	}
	tcfg := training.TrainConfig{Steps: req.Steps, BatchSize: req.Batch, LearningRate: req.LR, Seed: req.Seed, CheckpointEvery: req.CheckpointEvery}
	if r.ckpt != nil {
		tcfg = r.ckpt.Train
		tcfg.Steps = req.Steps
	}
	tr, err := training.NewTrainer(b, unet.Model{Config: r.cfg}, tcfg)
	if err != nil {
		return nil, &sdk.ValidationError{Field: "train", Problem: err.Error()}
	}
	if r.ckpt != nil {
		if err := tr.Restore(r.ckpt); err != nil {
			return nil, fmt.Errorf("resume from %s: %w", req.ModelDir, err)
		}
	}
	return tr, nil
}

// createModelDir creates a new run's model directory with its description
// and hold-out list.
func (r *trainRun) createModelDir(req sdk.TrainRequest) error {
	if err := os.MkdirAll(req.ModelDir, 0o755); err != nil {
		return fmt.Errorf("create model directory: %w", err)
	}
	if err := modeldir.WriteMeta(req.ModelDir, modeldir.Meta{Arch: r.arch, DataDir: req.DataDir, UNet: r.cfg}); err != nil {
		return err
	}
	if r.holdout != nil {
		return modeldir.WriteHoldout(req.ModelDir, r.holdout.Files)
	}
	return nil
}
