package engine

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/sdk"
)

var (
	responsiveOnce  sync.Once
	responsiveDir   string // removed by TestMain
	responsiveModel string
	responsiveErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if responsiveDir != "" {
		_ = os.RemoveAll(responsiveDir)
	}
	os.Exit(code)
}

// responsive returns a model trained long enough that its velocity depends
// on its input (the few-step models of the other tests have an output layer
// still near its zero initialisation, which makes round trips exact by
// construction). It is trained once per test binary.
func responsive(t testing.TB) (*Engine, string) {
	t.Helper()
	e := NewWithOptions(nil, Options{})
	responsiveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fm-image-responsive")
		if err != nil {
			responsiveErr = err
			return
		}
		responsiveDir = dir
		data := filepath.Join(dir, "data")
		if responsiveErr = os.Mkdir(data, 0o755); responsiveErr != nil {
			return
		}
		for i, c := range [][3]uint8{{200, 30, 60}, {20, 160, 90}, {90, 40, 200}, {230, 220, 40}} {
			if responsiveErr = os.WriteFile(filepath.Join(data, string(rune('a'+i))+".png"), pngOf(t, c[0], c[1], c[2]), 0o644); responsiveErr != nil {
				return
			}
		}
		responsiveModel = filepath.Join(dir, "model")
		responsiveErr = e.Train(context.Background(), sdk.TrainRequest{
			DataDir: data, ModelDir: responsiveModel, Arch: "tiny", Size: 16, Steps: 300, Batch: 8, LR: 3e-3, Seed: 1,
			Objective: sdk.ObjectiveFlowMatching,
		}, nil)
	})
	if responsiveErr != nil {
		t.Fatalf("train the responsive model: %v", responsiveErr)
	}
	return e, responsiveModel
}

// TestResponsiveModelDependsOnItsInput checks the premise of the tests that
// use the responsive model: two different inputs at the same time give
// velocities that differ by a sizeable fraction of the noise's scale (1).
func TestResponsiveModelDependsOnItsInput(t *testing.T) {
	e, model := responsive(t)
	lm, err := e.loadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	const dim = 16 * 16 * 3
	x := make([]float32, 2*dim)
	flow.GaussianNoise(1, 0, x[:dim])
	flow.GaussianNoise(1, 1, x[dim:])
	v := make([]float32, len(x))
	if err := lm.field.Velocity(context.Background(), x, []float32{0.5, 0.5}, v); err != nil {
		t.Fatal(err)
	}
	var diff float64
	for i := range dim {
		diff += math.Abs(float64(v[i] - v[dim+i]))
	}
	diff /= dim
	t.Logf("mean |v(x) - v(x')| at t = 0.5: %.3f", diff)
	if diff < 0.05 {
		t.Fatalf("the velocity barely depends on the input (mean difference %.4f): the model is not trained enough for these tests", diff)
	}
}

// Inversion of a training image and regeneration reproduce it, better with
// more steps, and the recovered noise looks like noise (std about 1).
func TestInvertRoundTripResponsive(t *testing.T) {
	e, model := responsive(t)
	img := pngOf(t, 20, 160, 90)
	var maes, stds []float64
	for _, steps := range []int{2, 8, 32} {
		res, err := e.Invert(context.Background(), sdk.InvertRequest{ModelDir: model, ImagePNG: img, Steps: steps, Sampler: "rk4"})
		if err != nil {
			t.Fatal(err)
		}
		maes, stds = append(maes, res.RoundTripMAE), append(stds, res.NoiseStd)
	}
	t.Logf("round-trip MAE at 2, 8, 32 RK4 steps: %.5f %.5f %.5f; noise std %.3f %.3f %.3f", maes[0], maes[1], maes[2], stds[0], stds[1], stds[2])
	if !(maes[2] < maes[1] && maes[1] < maes[0]) {
		t.Errorf("round-trip MAE %v does not fall with the step count", maes)
	}
	if maes[2] > 1.0/255 {
		t.Errorf("round-trip MAE %.5f at 32 RK4 steps is above one level of 255", maes[2])
	}
	if maes[0] < 1e-4 {
		t.Errorf("round-trip MAE %.6f at 2 steps: exact by construction, the field does not depend on its input", maes[0])
	}
	if s := stds[2]; s < 0.5 || s > 1.5 {
		t.Errorf("recovered noise std %.3f, want about 1", s)
	}
}

// The ends of an interpolation are the two seeds' own images, and frames in
// between differ from both.
func TestInterpolationResponsive(t *testing.T) {
	e, model := responsive(t)
	path := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 5, Steps: 8, Seed: 1, Sampler: "heun", Interpolate: true, InterpolateSeed: 2})
	a := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 8, Seed: 1, Sampler: "heun"})
	b := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 8, Seed: 2, Sampler: "heun"})
	if d := maxPixelDiff(t, path[0].PNG, a[0].PNG); d > 1 {
		t.Errorf("first frame differs from seed 1's image by %d levels", d)
	}
	if d := maxPixelDiff(t, path[4].PNG, b[0].PNG); d > 1 {
		t.Errorf("last frame differs from seed 2's image by %d levels", d)
	}
	if d := maxPixelDiff(t, a[0].PNG, b[0].PNG); d < 16 {
		t.Fatalf("the two seeds' images differ by only %d levels: the model ignores its noise", d)
	}
	if d1, d2 := maxPixelDiff(t, path[2].PNG, a[0].PNG), maxPixelDiff(t, path[2].PNG, b[0].PNG); d1 == 0 || d2 == 0 {
		t.Errorf("the middle frame equals an end (%d, %d levels apart)", d1, d2)
	}
}

// Image-to-image at a middle strength stays closer to its input than plain
// sampling from the same seed does.
func TestImageToImageResponsive(t *testing.T) {
	e, model := responsive(t)
	init := pngOf(t, 230, 220, 40)
	half := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 4, Steps: 8, Seed: 5, InitPNG: init, Strength: 0.3})
	plain := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 4, Steps: 8, Seed: 5})
	for i := range half {
		dh, dp := meanPixelDiff(t, half[i].PNG, init), meanPixelDiff(t, plain[i].PNG, init)
		if !(dh < dp) {
			t.Errorf("image %d: strength 0.3 is %.1f levels from the input, plain sampling %.1f; want closer", i, dh, dp)
		}
	}
}
