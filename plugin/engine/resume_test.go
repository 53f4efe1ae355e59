package engine

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
)

// recordBatches makes e record the files of every training batch.
func recordBatches(e *Engine) (seen func() map[string]bool) {
	var mu sync.Mutex
	files := map[string]bool{}
	e.onBatch = func(batch []string) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range batch {
			files[f] = true
		}
	}
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(files)
	}
}

// A run with a hold-out, interrupted and resumed, trains on the images of
// its first run only (not the held-out ones, not images added meanwhile),
// and ends with the same weights as an uninterrupted run.
func TestResumeTrainsOnTheSameImages(t *testing.T) {
	data := writeImages(t, 10)
	copyOfData := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(copyOfData, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	req := sdk.TrainRequest{DataDir: data, ModelDir: filepath.Join(t.TempDir(), "m"), Arch: "tiny", Size: 16,
		Steps: 12, Batch: 4, Seed: 3, Holdout: 0.2, CheckpointEvery: 100}

	e := NewWithOptions(nil, Options{})
	seen := recordBatches(e)
	ctx, cancel := context.WithCancel(context.Background())
	err := e.Train(ctx, req, func(p sdk.TrainProgress) {
		if p.Step == 5 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v, want context.Canceled", err)
	}
	first := seen()
	before, err := e.Info(context.Background(), req.ModelDir)
	if err != nil || before.Step != 5 {
		t.Fatalf("after the interruption: %+v, %v", before, err)
	}

	// An image added to the folder meanwhile is reported and left out.
	added := filepath.Join(data, "zz-new.png")
	if err := os.WriteFile(added, pngOf(t, 9, 9, 9), 0o644); err != nil {
		t.Fatal(err)
	}
	resumed := req
	resumed.Resume, resumed.Holdout, resumed.Seed = true, 0, 0
	var msgs []string
	if err := e.Train(context.Background(), resumed, func(p sdk.TrainProgress) { msgs = append(msgs, p.Message) }); err != nil {
		t.Fatal(err)
	}
	all := seen()
	if !strings.Contains(strings.Join(msgs, "\n"), "1 images added to "+data+" since the run began are not trained on") {
		t.Errorf("messages %q do not report the added image", msgs)
	}
	after, err := e.Info(context.Background(), req.ModelDir)
	if err != nil || after.Step != 12 || after.DatasetSize != before.DatasetSize || after.DatasetSize != 8 || len(after.HoldoutFiles) != 2 {
		t.Fatalf("after resuming: %+v, %v; want step 12, 8 images trained on and 2 held out", after, err)
	}
	trainList, err := modeldir.ReadTrainList(req.ModelDir, data)
	if err != nil || len(trainList) != 8 {
		t.Fatalf("train list %q, %v", trainList, err)
	}
	for f := range all {
		rel, _ := filepath.Rel(data, f)
		if !slices.Contains(trainList, rel) {
			t.Errorf("trained on %s, which is not in the training list (held out or added)", f)
		}
	}
	for f := range first {
		if !all[f] {
			t.Errorf("%s was seen before the interruption and not recorded after", f)
		}
	}

	// The same run without the interruption ends bit-identical.
	whole := req
	whole.DataDir, whole.ModelDir = copyOfData, filepath.Join(t.TempDir(), "whole")
	if err := NewWithOptions(nil, Options{}).Train(context.Background(), whole, nil); err != nil {
		t.Fatal(err)
	}
	a, _, err := modeldir.LoadCheckpoint(whole.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := modeldir.LoadCheckpoint(req.ModelDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors vs %d", len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		if a.Tensors[i].Name != b.Tensors[i].Name || string(a.Tensors[i].Data) != string(b.Tensors[i].Data) {
			t.Errorf("tensor %s differs between the uninterrupted and the resumed run", a.Tensors[i].Name)
		}
	}

	// With add-new the new image joins the training set.
	more := resumed
	more.Steps, more.AddNewImages = 14, true
	if err := e.Train(context.Background(), more, nil); err != nil {
		t.Fatal(err)
	}
	if info, err := e.Info(context.Background(), req.ModelDir); err != nil || info.DatasetSize != 9 {
		t.Errorf("after add-new: %+v, %v; want 9 images trained on", info, err)
	}
}

// A resumed run refuses settings it cannot change, naming them, and says
// what it changes.
func TestResumeSettings(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	data := writeImages(t, 4)
	model := filepath.Join(t.TempDir(), "m")
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16,
		Steps: 40, Batch: 2, Seed: 4, LR: 1e-3, CheckpointEvery: 20}, nil); err != nil {
		t.Fatal(err)
	}
	base := sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 40, Resume: true}
	for _, tc := range []struct {
		field  string
		change func(*sdk.TrainRequest)
		want   string
	}{
		{"arch", func(r *sdk.TrainRequest) { r.Arch = "small" }, `the preset "tiny"`},
		{"size", func(r *sdk.TrainRequest) { r.Size = 32 }, "16x16 images"},
		{"batch", func(r *sdk.TrainRequest) { r.Batch = 8 }, "batches of 2"},
		{"lr", func(r *sdk.TrainRequest) { r.LR = 5e-4 }, "a peak learning rate of 0.001"},
		{"seed", func(r *sdk.TrainRequest) { r.Seed = 9 }, "seed 4"},
		{"holdout", func(r *sdk.TrainRequest) { r.Holdout = 0.2 }, "a hold-out of 0"},
		{"labels", func(r *sdk.TrainRequest) { r.Labels = true }, "no labels"},
	} {
		req := base
		tc.change(&req)
		err := e.Train(context.Background(), req, nil)
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Problem, tc.want) {
			t.Errorf("resume changing %s: %v; want a validation error of %s naming %q", tc.field, err, tc.field, tc.want)
		}
	}
	// The same values as the model's are accepted; the length and the
	// checkpoint interval may change, and the run says so.
	req := base
	req.Batch, req.Seed, req.LR, req.Steps, req.CheckpointEvery = 2, 4, 1e-3, 60, 10
	var msgs []string
	if err := e.Train(context.Background(), req, func(p sdk.TrainProgress) { msgs = append(msgs, p.Message) }); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(msgs, "\n")
	for _, want := range []string{"checkpoints every 10 steps (the run had 20)", "resuming at step 40 of 60 (the run was set for 40): the learning rate goes on from"} {
		if !strings.Contains(text, want) {
			t.Errorf("messages %q lack %q", text, want)
		}
	}
}

// While one run trains a model, a second one is refused, naming the holder
// of the lock; once the first ends, resuming works.
func TestOneTrainerPerModel(t *testing.T) {
	data := writeImages(t, 4)
	model := filepath.Join(t.TempDir(), "m")
	first, second := NewWithOptions(nil, Options{}), NewWithOptions(nil, Options{})
	var refused error
	err := first.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16, Steps: 6, Batch: 2},
		func(p sdk.TrainProgress) {
			if p.Step == 3 && refused == nil {
				refused = second.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 6, Resume: true}, nil)
				if refused == nil {
					refused = errors.New("no error")
				}
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(refused, sdk.ErrAlreadyExists) || !strings.Contains(refused.Error(), "is being trained by process") {
		t.Errorf("second trainer: %v; want ErrAlreadyExists naming the holder", refused)
	}
	if err := second.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 8, Resume: true}, nil); err != nil {
		t.Errorf("resume after the first run ended: %v", err)
	}
}
