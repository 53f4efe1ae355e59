package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
)

// A model trained with a few-step objective says so, samples with the
// few-step sampler by default, and still samples with the velocity
// integrators; a plain model refuses the few-step sampler.
func TestFewStepModelThroughTheEngine(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	data := writeImages(t, 4)
	model := filepath.Join(t.TempDir(), "m")
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16,
		Steps: 20, Batch: 4, Objective: sdk.ObjectiveShortcut}, nil); err != nil {
		t.Fatal(err)
	}
	info, err := e.Info(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	if info.Objective != sdk.ObjectiveShortcut || info.Sampler != sdk.SamplerFlowMap || len(info.StepCounts) == 0 || info.StepCounts[0] != 1 {
		t.Errorf("Info: objective %q, sampler %q, step counts %v; want shortcut, flowmap and 1, 2, 4, ...", info.Objective, info.Sampler, info.StepCounts)
	}
	req := sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 2, Seed: 4}
	byDefault := generate(t, e, req)
	req.Sampler = sdk.SamplerFlowMap
	flowMap := generate(t, e, req)
	for i := range byDefault {
		if !bytes.Equal(byDefault[i].PNG, flowMap[i].PNG) {
			t.Errorf("image %d: the default sampler of a few-step model is not flowmap", i)
		}
	}
	for _, s := range sdk.VelocitySamplers() {
		req.Sampler = s
		generate(t, e, req)
	}

	// Resuming keeps the objective.
	err = e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 30, Resume: true, Objective: sdk.ObjectiveMeanFlow}, nil)
	var ve *sdk.ValidationError
	if !errors.As(err, &ve) || ve.Field != "objective" {
		t.Errorf("resume changing the objective: %v, want a validation error of objective", err)
	}

	// A plain model has no few-step sampler.
	plain := trained(t, e)
	if pi, err := e.Info(context.Background(), plain); err != nil || pi.Sampler != sdk.SamplerEuler || pi.Objective != sdk.ObjectiveFlowMatching {
		t.Errorf("plain model Info: %+v, %v; want euler and flow-matching", pi, err)
	}
	_, err = e.Generate(context.Background(), sdk.GenerateRequest{ModelDir: plain, N: 1, Steps: 2, Sampler: sdk.SamplerFlowMap}, nil)
	if !errors.As(err, &ve) || ve.Field != "sampler" || !strings.Contains(ve.Problem, "few-step objective") {
		t.Errorf("flowmap on a plain model: %v, want a validation error of sampler", err)
	}
}

// trainPowersOfTwoModel trains a shortcut model at the powers of two only,
// as the recipe did before it trained every step size: a 3-step model of
// the current recipe, its checkpoint's setting turned back, resumed to 6
// steps through Train with report (so the resumed run ends as such a
// model's run does). It returns the model directory and Train's error.
func trainPowersOfTwoModel(t *testing.T, ctx context.Context, e *Engine, report func(sdk.TrainProgress)) (string, error) {
	t.Helper()
	data := writeImages(t, 4)
	model := filepath.Join(t.TempDir(), "m")
	req := sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16, Steps: 3, Batch: 4, Objective: sdk.ObjectiveShortcut}
	if err := e.Train(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(model, modeldir.TimeGridsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a model trained at every step size got fitted grids (stat err %v)", err)
	}
	ck, _, err := modeldir.LoadCheckpoint(model)
	if err != nil {
		t.Fatal(err)
	}
	ck.Train.ShortcutContinuous = false
	if _, err := modeldir.SaveCheckpoint(model, ck); err != nil {
		t.Fatal(err)
	}
	req.Steps, req.Resume = 6, true
	return model, e.Train(ctx, req, report)
}

// Training a shortcut model at the powers of two ends by fitting its
// FlowMap time grids to its checkpoint: FlowMap sampling from noise at
// those step counts uses them, other step counts, samplers and
// image-to-image sample the uniform grid, and a checkpoint trained further
// (a resumed run, until it fits its own) no longer uses them.
func TestFittedTimeGrids(t *testing.T) {
	e := NewWithOptions(nil, Options{GridFitSamples: 8, GridFitMinSteps: 1})
	var messages []string
	model, err := trainPowersOfTwoModel(t, context.Background(), e, func(p sdk.TrainProgress) { messages = append(messages, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	grids, err := modeldir.ReadTimeGrids(model)
	if err != nil {
		t.Fatal(err)
	}
	if grids.Step != 6 || grids.Method != flow.FlowMap || !slices.Equal(grids.StepCounts(), gridFitCounts()) {
		t.Fatalf("fitted grids: step %d, method %q, counts %v; want 6, flowmap, %v", grids.Step, grids.Method, grids.StepCounts(), gridFitCounts())
	}
	if !slices.ContainsFunc(messages, func(m string) bool { return strings.HasPrefix(m, "fitted the few-step time grids") }) {
		t.Errorf("no progress message about the fitted grids in %q", messages)
	}
	for _, tc := range []struct {
		name     string
		req      sdk.GenerateRequest
		wantGrid []float64
	}{
		{"flowmap, 4 steps", sdk.GenerateRequest{Steps: 4}, grids.Grids[4]},
		{"flowmap, 2 steps", sdk.GenerateRequest{Steps: 2}, grids.Grids[2]},
		{"flowmap, 16 steps (no fitted grid)", sdk.GenerateRequest{Steps: 16}, nil},
		{"euler, 4 steps", sdk.GenerateRequest{Steps: 4, Sampler: sdk.SamplerEuler}, nil},
		{"image-to-image, 4 steps", sdk.GenerateRequest{Steps: 4, InitPNG: pngOf(t, 10, 20, 30), Strength: 0.5}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.ModelDir, req.N, req.Seed = model, 1, 1
			j, err := e.newGenerateJob(req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(j.grid, tc.wantGrid) {
				t.Errorf("grid %v, want %v", j.grid, tc.wantGrid)
			}
		})
	}
	// Generating on the fitted grid runs end to end.
	fitted := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 4, Seed: 3})
	if len(fitted) != 2 {
		t.Fatalf("%d images, want 2", len(fitted))
	}

	// A grids file left from an earlier checkpoint does not apply.
	grids.Step = 5
	if err := modeldir.WriteTimeGrids(model, grids); err != nil {
		t.Fatal(err)
	}
	j, err := e.newGenerateJob(sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 4, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.grid != nil {
		t.Errorf("grids of another checkpoint: grid %v, want none (uniform)", j.grid)
	}
}

// A model of the default recipe (trained at every step size) gets no fitted
// grids, nor does a powers-of-two shortcut model trained for fewer than
// GridFitMinSteps steps, nor a plain flow-matching model.
func TestNoTimeGridsFitted(t *testing.T) {
	data := writeImages(t, 4)
	for _, tc := range []struct {
		name      string
		objective string
		minSteps  int
	}{
		{"shortcut at every step size (the recipe)", sdk.ObjectiveShortcut, 1},
		{"flow matching", sdk.ObjectiveFlowMatching, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewWithOptions(nil, Options{GridFitSamples: 8, GridFitMinSteps: tc.minSteps})
			model := filepath.Join(t.TempDir(), "m")
			if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16,
				Steps: 3, Batch: 4, Objective: tc.objective}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(model, modeldir.TimeGridsFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: stat err %v, want not exist", modeldir.TimeGridsFile, err)
			}
		})
	}
	t.Run("powers of two, under the minimum", func(t *testing.T) {
		model, err := trainPowersOfTwoModel(t, context.Background(), NewWithOptions(nil, Options{GridFitSamples: 8, GridFitMinSteps: 7}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(model, modeldir.TimeGridsFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: stat err %v, want not exist", modeldir.TimeGridsFile, err)
		}
	})
}

// Cancelling while the grids are fitted stops the fit: Train says that the
// trained checkpoint is saved, the checkpoint loads, and no grids file is
// left behind.
func TestCancelWhileFittingTimeGrids(t *testing.T) {
	e := NewWithOptions(nil, Options{GridFitSamples: 8, GridFitMinSteps: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	model, err := trainPowersOfTwoModel(t, ctx, e, func(p sdk.TrainProgress) {
		if strings.HasPrefix(p.Message, "fitting the 4-step") {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "training finished and saved") {
		t.Fatalf("Train: %v; want context.Canceled, saying the training is saved", err)
	}
	if _, err := os.Stat(filepath.Join(model, modeldir.TimeGridsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: stat err %v, want not exist", modeldir.TimeGridsFile, err)
	}
	if _, err := e.newGenerateJob(sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 4, Seed: 1}, nil); err != nil {
		t.Errorf("the saved checkpoint does not load: %v", err)
	}
}
