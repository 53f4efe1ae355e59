package sdk_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// FuzzTrainRequestValidate checks that validation never panics and that
// every request it accepts is within the documented limits.
func FuzzTrainRequestValidate(f *testing.F) {
	f.Add("data", "model", "tiny", 32, int64(100), 16, 2e-4, int64(1), false, int64(0), 0.1, int64(0))
	f.Add("", "", "", -1, int64(0), -5, math.NaN(), int64(-1), true, int64(-3), -0.5, int64(-1))
	f.Add("d", "m", "ref-unet-32", 512, int64(10_000_000), 4096, 1.0, int64(0), true, int64(1), 0.9, int64(0))
	f.Add("d", "m", "", 0, int64(0), 0, 0.0, int64(0), false, int64(0), 0.0, int64(20*time.Minute))
	f.Add("d", "m", "", 0, int64(0), 0, 0.0, int64(0), true, int64(0), 0.0, int64(0))
	f.Fuzz(func(t *testing.T, data, model, arch string, size int, steps int64, batch int, lr float64, seed int64, resume bool, every int64, holdout float64, duration int64) {
		r := sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: arch, Size: size, Steps: int(steps), Batch: batch,
			LR: lr, Seed: seed, Resume: resume, CheckpointEvery: int(every), Holdout: holdout, Duration: time.Duration(duration)}
		// Steps may be 0 ("as many as the budget allows" or "finish the
		// planned total") only with a duration or when resuming.
		stepsMayBeZero := r.Duration != 0 || r.Resume
		if err := r.Validate(); err != nil {
			return
		}
		switch {
		case r.DataDir == "" || r.ModelDir == "":
			t.Errorf("accepted empty directories: %+v", r)
		case r.Size != 0 && (r.Size < sdk.MinSize || r.Size > sdk.MaxSize || r.Size%sdk.SizeMultiple != 0):
			t.Errorf("accepted size %d", r.Size)
		case r.Duration != 0 && (r.Duration < sdk.MinTrainDuration || r.Duration > sdk.MaxTrainDuration):
			t.Errorf("accepted duration %v", r.Duration)
		case r.Steps == 0 && !stepsMayBeZero,
			r.Steps != 0 && (r.Steps < sdk.MinTrainSteps || r.Steps > sdk.MaxTrainSteps):
			t.Errorf("accepted steps %d", r.Steps)
		case r.Batch < 0 || r.Batch > sdk.MaxBatch:
			t.Errorf("accepted batch %d", r.Batch)
		case !(r.LR >= 0 && r.LR <= sdk.MaxLR):
			t.Errorf("accepted lr %v", r.LR)
		case !(r.Holdout >= 0 && r.Holdout <= sdk.MaxHoldout):
			t.Errorf("accepted holdout %v", r.Holdout)
		case r.CheckpointEvery < 0:
			t.Errorf("accepted checkpoint-every %d", r.CheckpointEvery)
		}
	})
}

// FuzzGenerateRequestValidate does the same for generation requests.
func FuzzGenerateRequestValidate(f *testing.F) {
	f.Add("model", 4, 20, int64(1), "heun")
	f.Add("", 0, 0, int64(-1), "RK4 ")
	f.Add("m", 1025, 10001, int64(0), "euler\x00")
	f.Fuzz(func(t *testing.T, model string, n, steps int, seed int64, sampler string) {
		r := sdk.GenerateRequest{ModelDir: model, N: n, Steps: steps, Seed: seed, Sampler: sampler}
		if err := r.Validate(); err != nil {
			return
		}
		switch {
		case r.ModelDir == "":
			t.Errorf("accepted an empty model directory")
		case r.N < sdk.MinImages || r.N > sdk.MaxImages:
			t.Errorf("accepted n %d", r.N)
		case r.Steps < sdk.MinGenerateSteps || r.Steps > sdk.MaxGenerateSteps:
			t.Errorf("accepted steps %d", r.Steps)
		case r.Sampler != "" && !slices.Contains(sdk.Samplers(), r.Sampler):
			t.Errorf("accepted sampler %q", r.Sampler)
		}
	})
}
