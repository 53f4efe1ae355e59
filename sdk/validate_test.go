package sdk

import (
	"errors"
	"strings"
	"testing"
)

func TestTrainRequestValidate(t *testing.T) {
	ok := TrainRequest{DataDir: "data", ModelDir: "model", Steps: 100}
	tests := []struct {
		name    string
		mutate  func(*TrainRequest)
		wantErr string // substring; "" = valid
	}{
		{"valid", func(*TrainRequest) {}, ""},
		{"all set", func(r *TrainRequest) { r.Size, r.Batch, r.LR, r.CheckpointEvery = 64, 32, 1e-3, 50 }, ""},
		{"max steps", func(r *TrainRequest) { r.Steps = MaxTrainSteps }, ""},
		{"no data", func(r *TrainRequest) { r.DataDir = " " }, "invalid data dir"},
		{"no model", func(r *TrainRequest) { r.ModelDir = "" }, "invalid model"},
		{"zero steps", func(r *TrainRequest) { r.Steps = 0 }, "invalid steps: must be in 1..10000000, got 0"},
		{"too many steps", func(r *TrainRequest) { r.Steps = MaxTrainSteps + 1 }, "invalid steps"},
		{"size not multiple of 8", func(r *TrainRequest) { r.Size = 30 }, "invalid size: must be a multiple of 8 in 8..512"},
		{"size too big", func(r *TrainRequest) { r.Size = 520 }, "invalid size"},
		{"negative size", func(r *TrainRequest) { r.Size = -8 }, "invalid size"},
		{"negative batch", func(r *TrainRequest) { r.Batch = -1 }, "invalid batch: must be in 1..4096, got -1"},
		{"negative lr", func(r *TrainRequest) { r.LR = -0.1 }, "invalid lr"},
		{"lr too big", func(r *TrainRequest) { r.LR = 2 }, "invalid lr"},
		{"negative checkpoint", func(r *TrainRequest) { r.CheckpointEvery = -5 }, "invalid checkpoint-every"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.mutate(&r)
			checkValidation(t, r.Validate(), tc.wantErr)
		})
	}
}

func TestGenerateRequestValidate(t *testing.T) {
	ok := GenerateRequest{ModelDir: "m", N: 4, Steps: 10}
	tests := []struct {
		name    string
		mutate  func(*GenerateRequest)
		wantErr string
	}{
		{"valid", func(*GenerateRequest) {}, ""},
		{"each sampler", func(r *GenerateRequest) { r.Sampler = SamplerRK4 }, ""},
		{"limits", func(r *GenerateRequest) { r.N, r.Steps = MaxImages, MaxGenerateSteps }, ""},
		{"no model", func(r *GenerateRequest) { r.ModelDir = "" }, "invalid model"},
		{"n zero", func(r *GenerateRequest) { r.N = 0 }, "invalid n: must be in 1..1024, got 0"},
		{"n too big", func(r *GenerateRequest) { r.N = 1025 }, "invalid n: must be in 1..1024, got 1025"},
		{"steps zero", func(r *GenerateRequest) { r.Steps = 0 }, "invalid steps: must be in 1..10000, got 0"},
		{"steps too big", func(r *GenerateRequest) { r.Steps = 10001 }, "invalid steps"},
		{"bad sampler", func(r *GenerateRequest) { r.Sampler = "ddim" }, `invalid sampler: must be one of euler, heun, midpoint, rk4, flowmap, got "ddim"`},
		{"previews every step", func(r *GenerateRequest) { r.PreviewEvery = 1 }, ""},
		{"previews at the cap", func(r *GenerateRequest) { r.PreviewEvery = MaxPreviewEvery }, ""},
		{"negative preview-every", func(r *GenerateRequest) { r.PreviewEvery = -1 },
			"invalid preview-every: must be in 0..10000, got -1 (0 = no previews)"},
		{"preview-every too big", func(r *GenerateRequest) { r.PreviewEvery = MaxPreviewEvery + 1 },
			"invalid preview-every: must be in 0..10000, got 10001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.mutate(&r)
			checkValidation(t, r.Validate(), tc.wantErr)
		})
	}
}

func checkValidation(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate() = %v, want error containing %q", err, want)
	}
	if !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("errors.Is(%v, ErrInvalidRequest) = false", err)
	}
}

func TestOptionsNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      Options
		wantErr string
	}{
		{"zero", Options{}, ""},
		{"good sum", Options{SHA256: strings.Repeat("aB", 32)}, ""},
		{"short sum", Options{SHA256: "abcd"}, "want 64 hex digits"},
		{"not hex", Options{SHA256: strings.Repeat("zz", 32)}, "want 64 hex digits"},
		{"negative start", Options{StartTimeout: -1}, "start timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.normalize()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.StartTimeout != DefaultStartTimeout || got.DrainTimeout != DefaultDrainTimeout || got.Logger == nil {
					t.Errorf("defaults not filled: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("normalize() = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
