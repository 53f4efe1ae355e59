package engine

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
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

// FlowMap sampling from noise uses the model's time grid (a shift at 4
// steps and more for a shortcut model); the velocity samplers and
// image-to-image keep the uniform grid.
func TestFlowMapSamplingUsesTheModelsGrid(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := filepath.Join(t.TempDir(), "m")
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: writeImages(t, 4), ModelDir: model, Arch: "tiny", Size: 16,
		Steps: 2, Batch: 4, Objective: sdk.ObjectiveShortcut}, nil); err != nil {
		t.Fatal(err)
	}
	want := training.TrainConfig{Objective: training.ObjectiveShortcut}.FlowMapShift(4)
	if want == 0 {
		t.Fatal("a shortcut model has no shifted grid at 4 steps")
	}
	for _, tc := range []struct {
		name string
		req  sdk.GenerateRequest
		want float64
	}{
		{"flowmap, 4 steps", sdk.GenerateRequest{Steps: 4}, want},
		{"flowmap, 2 steps", sdk.GenerateRequest{Steps: 2}, 0},
		{"euler, 4 steps", sdk.GenerateRequest{Steps: 4, Sampler: sdk.SamplerEuler}, 0},
		{"image-to-image, 4 steps", sdk.GenerateRequest{Steps: 4, InitPNG: pngOf(t, 10, 20, 30), Strength: 0.5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.ModelDir, req.N, req.Seed = model, 1, 1
			j, err := e.newGenerateJob(req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if j.shift != tc.want {
				t.Errorf("time-grid shift %g, want %g", j.shift, tc.want)
			}
		})
	}
}
