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
// A new run refuses an existing, non-empty model directory, loads the data
// first (so a bad folder leaves nothing behind), then creates the model
// directory (its description and the lists of images trained on and held
// out) and trains. A resumed run continues the model with the settings and
// the images it began with (see sdk.TrainRequest.Resume). Either way the run
// holds the model directory's lock (modeldir.LockForTraining) from the
// moment the directory exists: one writer per model, across processes.
func (e *Engine) Train(ctx context.Context, req sdk.TrainRequest, progress func(sdk.TrainProgress)) (err error) {
	defer recoverTo(&err, "train")
	report := func(p sdk.TrainProgress) {
		if progress != nil {
			progress(p)
		}
	}
	if _, err := e.getBackend(); err != nil {
		return err
	}
	run, err := planRun(req, report)
	if err != nil {
		return err
	}
	defer func() { run.lock.Release() }() // a new run takes the lock when it creates the directory
	if err := run.loadData(ctx, req, report); err != nil {
		return err
	}
	e.logger.Info("training data", "images", run.data.Len(), "skipped", len(run.data.Skipped))
	tr, err := e.newTrainer(run, req, report)
	if err != nil {
		return err
	}
	if run.ckpt != nil && run.ckpt.Step >= tr.Config().Steps {
		report(sdk.TrainProgress{Step: run.ckpt.Step, TotalSteps: tr.Config().Steps, Message: fmt.Sprintf("the model is already at step %d of %d: nothing to do", run.ckpt.Step, tr.Config().Steps)})
		return nil
	}
	if err := run.writeModelDir(req); err != nil {
		return err
	}
	save := func(c *training.Checkpoint) (string, error) { return modeldir.SaveCheckpoint(req.ModelDir, c) }
	if err := tr.Run(ctx, run.data, training.RunOptions{
		Save: save, OnProgress: sdkProgress(req, report), OnBatch: e.batchObserver(run.data),
		Duration: req.Duration, MaxSteps: req.Steps,
	}); err != nil {
		return err
	}
	return e.fitTimeGrids(ctx, req.ModelDir, report)
}

// sdkProgress passes the trainer's reports on a run of req on as sdk
// progress.
func sdkProgress(req sdk.TrainRequest, report func(sdk.TrainProgress)) func(training.Progress) {
	return func(p training.Progress) {
		report(sdk.TrainProgress{
			Step: p.Step, TotalSteps: reportedTotal(req, p.TotalSteps), Loss: p.SmoothLoss, ImagesPerSec: p.ImagesPerSec,
			ETA: p.ETA, Checkpoint: p.Checkpoint, Message: p.Message,
		})
	}
}

// reportedTotal is the total that progress on a run of req reports for the
// trainer's total: 0 while a budgeted run is still timing its first steps,
// when the trainer heads for the placeholder sdk.MaxTrainSteps until it
// fits its total to the budget.
func reportedTotal(req sdk.TrainRequest, total int) int {
	if req.Duration > 0 && total >= sdk.MaxTrainSteps {
		return 0
	}
	return total
}

// batchObserver returns the training.RunOptions.OnBatch of a run on data:
// nil unless a test watches the images trained on (Engine.onBatch).
func (e *Engine) batchObserver(data *imageset.Dataset) func([]int) {
	if e.onBatch == nil {
		return nil
	}
	return func(idx []int) {
		files := make([]string, len(idx))
		for i, j := range idx {
			files[i] = data.Files[j]
		}
		e.onBatch(files)
	}
}

// trainRun is what a training request resolves to before it starts.
type trainRun struct {
	arch      string
	cfg       unet.Config
	objective training.Objective // of a new run
	// ckpt is the checkpoint a resumed run continues (nil for a new run),
	// meta the model's description.
	ckpt *training.Checkpoint
	meta modeldir.Meta
	// lock is the model directory's training lock (taken at once when
	// resuming, when the directory is created for a new run).
	lock *modeldir.Lock
	// data is the training set; holdout the images kept out (nil if none).
	data, holdout *imageset.Dataset
	// listsChanged is set when a resumed run changes the image lists.
	listsChanged bool
}

// planRun decides the model of a run: the saved one for a resumed run,
// whose directory it locks and whose settings the request must keep, else
// the requested preset at the requested size in a directory that does not
// exist yet.
func planRun(req sdk.TrainRequest, report func(sdk.TrainProgress)) (*trainRun, error) {
	if req.Resume {
		return planResume(req, report)
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
	objective := training.Objective(orDefault(req.Objective, defaultObjective(req.Labels)))
	cfg.StepInput = objective.FlowMap() // a few-step model also takes its step size
	if err := cfg.Validate(); err != nil {
		return nil, &sdk.ValidationError{Field: "size", Problem: fmt.Sprintf("%d does not suit model %q: %v", req.Size, arch, err)}
	}
	return &trainRun{arch: arch, cfg: cfg, objective: objective, meta: modeldir.Meta{Arch: arch, DataDir: req.DataDir, Holdout: req.Holdout, UNet: cfg}}, nil
}

// planResume locks a model directory, reads its model and checkpoint and
// checks that the request keeps the settings a resumed run cannot change.
func planResume(req sdk.TrainRequest, report func(sdk.TrainProgress)) (run *trainRun, err error) {
	meta, err := modeldir.ReadMeta(req.ModelDir)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	lock, err := modeldir.LockForTraining(req.ModelDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	ck, warning, err := modeldir.LoadCheckpoint(req.ModelDir)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	if warning != "" {
		report(sdk.TrainProgress{Message: "warning: " + warning})
	}
	if err := checkResume(req, meta, ck); err != nil {
		return nil, err
	}
	return &trainRun{arch: meta.Arch, cfg: meta.UNet, ckpt: ck, meta: meta, lock: lock}, nil
}

// checkResume refuses a resumed request that changes a setting the run must
// keep: zero fields keep the model's value, others must equal it.
func checkResume(req sdk.TrainRequest, meta modeldir.Meta, ck *training.Checkpoint) error {
	keep := func(field string, model any) error {
		return &sdk.ValidationError{Field: field, Problem: fmt.Sprintf(
			"the model in %s was trained with %v; a resumed run keeps it (leave the setting out, or train a new model)", req.ModelDir, model)}
	}
	cfg, tc := meta.UNet, ck.Train
	switch {
	case req.Arch != "" && req.Arch != meta.Arch:
		return keep("arch", fmt.Sprintf("the preset %q", meta.Arch))
	case req.Size != 0 && (req.Size != cfg.Height || req.Size != cfg.Width):
		return keep("size", fmt.Sprintf("%dx%d images", cfg.Width, cfg.Height))
	case req.Batch != 0 && req.Batch != tc.BatchSize:
		return keep("batch", fmt.Sprintf("batches of %d", tc.BatchSize))
	case req.LR != 0 && req.LR != tc.LearningRate:
		return keep("lr", fmt.Sprintf("a peak learning rate of %g", tc.LearningRate))
	case req.Seed != 0 && req.Seed != tc.Seed:
		return keep("seed", fmt.Sprintf("seed %d", tc.Seed))
	case req.Holdout != 0 && req.Holdout != meta.Holdout:
		return keep("holdout", fmt.Sprintf("a hold-out of %g", meta.Holdout))
	case req.Labels && cfg.NumClasses == 0:
		return keep("labels", "no labels")
	case req.Objective != "" && training.Objective(req.Objective) != tc.WithDefaults().Objective:
		return keep("objective", fmt.Sprintf("the %s objective", tc.WithDefaults().Objective))
	}
	return nil
}

// loadData loads the training images at the model's size, labels them by
// folder for a class-conditional model, and picks the training set: for a
// new run the folder minus a random hold-out, for a resumed one the images
// the run began with. It reports what was loaded and skipped.
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
	if r.ckpt != nil {
		if data, err = r.resumedSet(data, req, report); err != nil {
			return err
		}
	} else if req.Holdout > 0 {
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

// resumedSet picks out of the folder's images the training set a resumed run
// continues on: the images listed when the run began (those of a model made
// before the list existed: the folder minus the hold-out). Images added to
// the folder since are reported and left out unless req.AddNewImages;
// images that have gone are reported.
func (r *trainRun) resumedSet(data *imageset.Dataset, req sdk.TrainRequest, report func(sdk.TrainProgress)) (*imageset.Dataset, error) {
	trainList, err := modeldir.ReadTrainList(req.ModelDir, r.meta.DataDir)
	if err != nil {
		return nil, err
	}
	holdList, err := modeldir.ReadHoldout(req.ModelDir, r.meta.DataDir)
	if err != nil {
		return nil, err
	}
	listed := make(map[string]bool, len(trainList))
	for _, f := range trainList {
		listed[f] = true
	}
	held := make(map[string]bool, len(holdList))
	for _, f := range holdList {
		held[f] = true
	}
	var keep, added []int
	found := map[string]bool{}
	for i, f := range data.Files {
		rel, err := filepath.Rel(req.DataDir, f)
		if err != nil {
			return nil, fmt.Errorf("resume: image %s is outside %s", f, req.DataDir)
		}
		found[rel] = true
		switch {
		case held[rel]:
		case trainList == nil || listed[rel]:
			keep = append(keep, i)
		default:
			added = append(added, i)
		}
	}
	r.holdout, err = holdoutSet(data, req.DataDir, held)
	if err != nil {
		return nil, err
	}
	if len(added) > 0 {
		if req.AddNewImages {
			keep = append(keep, added...)
			slices.Sort(keep)
			r.listsChanged = true
			report(sdk.TrainProgress{Message: fmt.Sprintf("%d images added to %s since the run began are trained on from now on", len(added), req.DataDir)})
		} else {
			report(sdk.TrainProgress{Message: fmt.Sprintf("%d images added to %s since the run began are not trained on (the run continues on the images it began with; add-new would include them)", len(added), req.DataDir)})
		}
	}
	if missing := countMissing(trainList, found); missing > 0 {
		report(sdk.TrainProgress{Message: fmt.Sprintf("%d images the run began with are no longer in %s; it continues without them", missing, req.DataDir)})
	}
	if len(keep) == 0 {
		return nil, &sdk.ValidationError{Field: "data dir", Problem: fmt.Sprintf("%s holds none of the images the model in %s was trained on", req.DataDir, req.ModelDir)}
	}
	if filepath.Clean(req.DataDir) != filepath.Clean(r.meta.DataDir) {
		report(sdk.TrainProgress{Message: fmt.Sprintf("training images are now read from %s (the run began on %s)", req.DataDir, r.meta.DataDir)})
		r.meta.DataDir, r.listsChanged = req.DataDir, true
	}
	return data.Subset(keep)
}

// holdoutSet returns the images of data (loaded from dataDir) listed in held
// (nil if none).
func holdoutSet(data *imageset.Dataset, dataDir string, held map[string]bool) (*imageset.Dataset, error) {
	if len(held) == 0 {
		return nil, nil
	}
	var idx []int
	for i, f := range data.Files {
		if rel, err := filepath.Rel(dataDir, f); err == nil && held[rel] {
			idx = append(idx, i)
		}
	}
	return data.Subset(idx)
}

// countMissing counts the listed images not found.
func countMissing(list []string, found map[string]bool) int {
	n := 0
	for _, f := range list {
		if !found[f] {
			n++
		}
	}
	return n
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
	r.meta.UNet = r.cfg
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

// newTrainer builds the trainer of a run. A resumed run keeps its saved
// settings and state, and changes only its length and how often it saves,
// saying so.
func (e *Engine) newTrainer(r *trainRun, req sdk.TrainRequest, report func(sdk.TrainProgress)) (*training.Trainer, error) {
	b, err := e.getBackend()
	if err != nil {
		return nil, err
	}
	steps := req.Steps
	if steps == 0 { // a budget: any total until the run has timed its steps
		steps = sdk.MaxTrainSteps
	}
	tcfg := recipeConfig(req, r.objective, steps)
	if r.ckpt != nil {
		tcfg = r.ckpt.Train
		if req.CheckpointEvery != 0 && req.CheckpointEvery != tcfg.CheckpointEvery {
			report(sdk.TrainProgress{Message: fmt.Sprintf("checkpoints every %d steps (the run had %d)", req.CheckpointEvery, tcfg.CheckpointEvery)})
			tcfg.CheckpointEvery = req.CheckpointEvery
		}
	}
	tr, err := training.NewTrainer(b, unet.Model{Config: r.cfg}, tcfg)
	if err != nil {
		return nil, &sdk.ValidationError{Field: "train", Problem: err.Error()}
	}
	if r.ckpt == nil {
		return tr, nil
	}
	if err := tr.Restore(r.ckpt); err != nil {
		return nil, fmt.Errorf("resume from %s: %w", req.ModelDir, err)
	}
	old, target := tcfg.Steps, resumeTarget(req, r.ckpt)
	if r.ckpt.Step >= target {
		return tr, nil // nothing to do; Train says so
	}
	if err := tr.SetTotalSteps(target); err != nil {
		return nil, &sdk.ValidationError{Field: "steps", Problem: err.Error()}
	}
	msg := fmt.Sprintf("resuming at step %d of %d", r.ckpt.Step, target)
	c := tr.Config()
	switch {
	case req.Duration > 0:
		msg = fmt.Sprintf("resuming at step %d for %v more: the learning rate goes on from %.3g and decays over the steps that time allows",
			r.ckpt.Step, req.Duration, c.LearningRateAt(r.ckpt.Step))
	case target != old:
		msg += fmt.Sprintf(" (the run was set for %d): the learning rate goes on from %.3g and decays to %.3g at step %d",
			old, c.LearningRateAt(r.ckpt.Step), c.LearningRateAt(target-1), target)
	}
	report(sdk.TrainProgress{Step: r.ckpt.Step, TotalSteps: reportedTotal(req, target), Message: msg})
	return tr, nil
}

// resumeTarget is the total a resumed run heads for: the request's Steps;
// without them, the run's own total, or with a Duration any total beyond
// the current step until the budget is fitted (capped by Steps if given).
func resumeTarget(req sdk.TrainRequest, ck *training.Checkpoint) int {
	switch {
	case req.Duration > 0 && req.Steps > 0:
		return max(req.Steps, ck.Step+1)
	case req.Duration > 0:
		return sdk.MaxTrainSteps
	case req.Steps > 0:
		return req.Steps
	}
	return ck.Train.Steps
}

// writeModelDir creates a new run's model directory (refusing one that
// appeared meanwhile), locks it and writes the model's description and
// image lists; for a resumed run it rewrites what changed.
func (r *trainRun) writeModelDir(req sdk.TrainRequest) error {
	if r.ckpt == nil {
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(req.ModelDir)), 0o755); err != nil {
			return fmt.Errorf("create model directory: %w", err)
		}
		if err := os.Mkdir(req.ModelDir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				return fmt.Errorf("model directory %s appeared while the images were loading: %w", req.ModelDir, sdk.ErrAlreadyExists)
			}
			return fmt.Errorf("create model directory: %w", err)
		}
		lock, err := modeldir.LockForTraining(req.ModelDir)
		if err != nil {
			return err
		}
		r.lock = lock
	} else if !r.listsChanged {
		return nil
	}
	if err := modeldir.WriteMeta(req.ModelDir, r.meta); err != nil {
		return err
	}
	var holdout []string
	if r.holdout != nil {
		holdout = r.holdout.Files
	}
	return modeldir.WriteImageLists(req.ModelDir, r.meta.DataDir, r.data.Files, holdout)
}
