package engine

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/sdk"
)

// pngOf encodes a 16x16 test pattern.
func pngOf(t testing.TB, r, g, b uint8) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.SetNRGBA(x, y, color.NRGBA{r, uint8(int(g) + 4*x), uint8(int(b) + 4*y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func generate(t *testing.T, e *Engine, req sdk.GenerateRequest) []sdk.Image {
	t.Helper()
	imgs, err := e.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", req, err)
	}
	return imgs
}

// Image-to-image with strength 0 returns the input; with strength 1 it is
// plain sampling from the same seed.
func TestImageToImage(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	init := pngOf(t, 200, 30, 60)
	zero := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 4, Seed: 5, InitPNG: init})
	for _, im := range zero {
		if !bytes.Equal(im.PNG, init) {
			if d := maxPixelDiff(t, im.PNG, init); d > 1 {
				t.Errorf("strength 0: image %d differs from the input by %d levels", im.Index, d)
			}
		}
	}
	full := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 4, Seed: 5, InitPNG: init, Strength: 1})
	plain := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 4, Seed: 5})
	for i := range plain {
		if d := maxPixelDiff(t, full[i].PNG, plain[i].PNG); d > 1 {
			t.Errorf("strength 1: image %d differs from plain sampling by %d levels", i, d)
		}
	}
	half := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 4, Seed: 5, InitPNG: init, Strength: 0.5})
	if d := maxPixelDiff(t, half[0].PNG, init); d == 0 {
		t.Error("strength 0.5 returned the input unchanged")
	}
	if _, err := e.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 1, InitPNG: []byte("nope")}, nil); err == nil || !strings.Contains(err.Error(), "init") {
		t.Errorf("a broken init image gave %v, want an error naming init", err)
	}
}

// The ends of an interpolation are the two seeds' own first images.
func TestInterpolation(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	path := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 5, Steps: 3, Seed: 1, Interpolate: true, InterpolateSeed: 2})
	a := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 3, Seed: 1})
	b := generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 3, Seed: 2})
	if d := maxPixelDiff(t, path[0].PNG, a[0].PNG); d > 1 {
		t.Errorf("first frame differs from seed 1's image by %d levels", d)
	}
	if d := maxPixelDiff(t, path[4].PNG, b[0].PNG); d > 1 {
		t.Errorf("last frame differs from seed 2's image by %d levels", d)
	}
	if d := maxPixelDiff(t, path[2].PNG, a[0].PNG); d == 0 {
		t.Error("the middle frame equals the first")
	}
}

// Inversion followed by regeneration reproduces the image, better with more steps.
func TestInvertRoundTrip(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	img := pngOf(t, 120, 40, 90)
	var maes []float64
	for _, steps := range []int{1, 4, 16} {
		res, err := e.Invert(context.Background(), sdk.InvertRequest{ModelDir: model, ImagePNG: img, Steps: steps, Sampler: "rk4"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Width != 16 || len(res.Noise) != 16*16*3 || len(res.Reconstruction) == 0 {
			t.Fatalf("result %dx%d with %d noise values", res.Width, res.Height, len(res.Noise))
		}
		maes = append(maes, res.RoundTripMAE)
	}
	t.Logf("round-trip MAE at 1, 4, 16 RK4 steps: %.5f %.5f %.5f", maes[0], maes[1], maes[2])
	if !(maes[2] <= maes[1] && maes[1] <= maes[0]) || maes[2] > 0.01 {
		t.Errorf("round-trip MAE %v: want non-increasing with steps and below 0.01 at 16 steps", maes)
	}
}

// A labelled run learns one class per sub-folder; Generate takes a label.
func TestLabelsThroughEngine(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	data := t.TempDir()
	for _, class := range []string{"cats", "dogs"} {
		dir := filepath.Join(data, class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".png"), pngOf(t, uint8(100*i), 20, 30), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	model := filepath.Join(t.TempDir(), "m")
	var msgs []string
	err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Arch: "tiny", Size: 16, Steps: 3, Batch: 2, Labels: true},
		func(p sdk.TrainProgress) { msgs = append(msgs, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "2 classes: cats, dogs") {
		t.Errorf("messages %q lack the classes", msgs)
	}
	info, err := e.Info(context.Background(), model)
	if err != nil || strings.Join(info.Labels, ",") != "cats,dogs" {
		t.Fatalf("Info labels %v, %v", info.Labels, err)
	}
	generate(t, e, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 2, Label: "dogs", Guidance: 3})
	if _, err := e.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 1, Label: "birds"}, nil); err == nil || !strings.Contains(err.Error(), "cats, dogs") {
		t.Errorf("unknown label gave %v", err)
	}
	// Resuming keeps the labels.
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 4, Resume: true}, nil); err != nil {
		t.Fatal(err)
	}
	plain := trained(t, e)
	if _, err := e.Generate(context.Background(), sdk.GenerateRequest{ModelDir: plain, N: 1, Steps: 1, Label: "dogs"}, nil); err == nil || !strings.Contains(err.Error(), "without --labels") {
		t.Errorf("a label for an unlabelled model gave %v", err)
	}
}
