package engine

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
)

// A new run that leaves its settings out trains with the default recipe
// (recorded in the checkpoint), makes a few-step model whose default sampler
// is flowmap, and still does image-to-image; settings the request gives win.
func TestNewRunUsesTheDefaultRecipe(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	data := writeImages(t, 4)
	for _, tc := range []struct {
		name      string
		req       sdk.TrainRequest
		batch     int
		lr        float64
		objective training.Objective
		sampler   string
	}{
		{"defaults", sdk.TrainRequest{}, DefaultBatch, DefaultLR, training.Objective(DefaultObjective), sdk.SamplerFlowMap},
		{"given", sdk.TrainRequest{Batch: 4, LR: 1e-3, Objective: sdk.ObjectiveFlowMatching}, 4, 1e-3, training.ObjectiveFlowMatching, sdk.SamplerEuler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.DataDir, req.ModelDir, req.Arch, req.Size, req.Steps = data, filepath.Join(t.TempDir(), "m"), "tiny", 16, 2
			if err := e.Train(context.Background(), req, nil); err != nil {
				t.Fatal(err)
			}
			ck, _, err := modeldir.LoadCheckpoint(req.ModelDir)
			if err != nil {
				t.Fatal(err)
			}
			got := ck.Train
			if tc.objective == training.ObjectiveShortcut && (got.ShortcutLevels != DefaultShortcutLevels || got.ShortcutContinuous != DefaultShortcutContinuous) {
				t.Errorf("shortcut model trained with %d levels, continuous step sizes %v; want the recipe's %d, %v",
					got.ShortcutLevels, got.ShortcutContinuous, DefaultShortcutLevels, DefaultShortcutContinuous)
			}
			if got.BatchSize != tc.batch || got.LearningRate != tc.lr || got.Objective != tc.objective || got.TimeSampling != DefaultTimeSampling {
				t.Errorf("trained with batch %d, lr %g, objective %q, time sampling %q; want %d, %g, %q, %q",
					got.BatchSize, got.LearningRate, got.Objective, got.TimeSampling, tc.batch, tc.lr, tc.objective, DefaultTimeSampling)
			}
			info, err := e.Info(context.Background(), req.ModelDir)
			if err != nil {
				t.Fatal(err)
			}
			if info.Sampler != tc.sampler {
				t.Errorf("default sampler %q, want %q", info.Sampler, tc.sampler)
			}
			init := pngOf(t, 200, 30, 60)
			zero := generate(t, e, sdk.GenerateRequest{ModelDir: req.ModelDir, N: 1, Steps: 4, Seed: 5, InitPNG: init})
			if !bytes.Equal(zero[0].PNG, init) && maxPixelDiff(t, zero[0].PNG, init) > 1 {
				t.Errorf("image-to-image at strength 0 changed the input by %d levels", maxPixelDiff(t, zero[0].PNG, init))
			}
		})
	}
}

// A shortcut run learns every step size when it is short and the powers of
// two when it is long, by its budget or, without one, by its steps.
func TestRecipeStepSizesByRunLength(t *testing.T) {
	for _, tc := range []struct {
		name       string
		req        sdk.TrainRequest
		steps      int
		continuous bool
	}{
		{"make demo's 1000 steps", sdk.TrainRequest{}, 1000, true},
		{"just under the long steps", sdk.TrainRequest{}, longRunSteps - 1, true},
		{"long by steps", sdk.TrainRequest{}, longRunSteps, false},
		{"20 minutes", sdk.TrainRequest{Duration: 20 * time.Minute}, sdk.MaxTrainSteps, true},
		{"just under the long budget", sdk.TrainRequest{Duration: longRunDuration - time.Second}, sdk.MaxTrainSteps, true},
		{"60 minutes", sdk.TrainRequest{Duration: time.Hour}, sdk.MaxTrainSteps, false},
		{"a short budget decides, not a large step cap", sdk.TrainRequest{Duration: 5 * time.Minute, Steps: 50_000}, 50_000, true},
	} {
		got := recipeConfig(tc.req, training.ObjectiveShortcut, tc.steps)
		if got.ShortcutContinuous != tc.continuous || got.ShortcutLevels != DefaultShortcutLevels {
			t.Errorf("%s: continuous step sizes %v with %d levels, want %v with %d",
				tc.name, got.ShortcutContinuous, got.ShortcutLevels, tc.continuous, DefaultShortcutLevels)
		}
	}
	if got := recipeConfig(sdk.TrainRequest{Duration: time.Hour}, training.ObjectiveFlowMatching, sdk.MaxTrainSteps); got.ShortcutContinuous || got.ShortcutLevels != 0 {
		t.Errorf("flow matching run got shortcut settings: continuous %v, %d levels", got.ShortcutContinuous, got.ShortcutLevels)
	}
}
