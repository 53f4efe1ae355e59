package training_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// writeTwoClasses writes n red discs under red/ and n blue squares under
// blue/ (8x8, white background, varying position), plus one unlabelled file.
func writeTwoClasses(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	for _, class := range []string{"red", "blue"} {
		dir := filepath.Join(root, class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
			cx, cy := 3+i%2, 3+(i/2)%2
			for y := range 8 {
				for x := range 8 {
					c := color.NRGBA{255, 255, 255, 255}
					dx, dy := x-cx, y-cy
					if class == "red" && dx*dx+dy*dy <= 5 {
						c = color.NRGBA{220, 20, 20, 255}
					}
					if class == "blue" && dx >= -2 && dx <= 2 && dy >= -2 && dy <= 2 {
						c = color.NRGBA{20, 20, 220, 255}
					}
					img.SetNRGBA(x, y, c)
				}
			}
			f, err := os.Create(filepath.Join(dir, class+string(rune('a'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	// An image directly in the root belongs to no class.
	if err := os.WriteFile(filepath.Join(root, "stray.png"), mustPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func mustPNG(t *testing.T) []byte {
	t.Helper()
	var sb strings.Builder
	if err := png.Encode(&sb, image.NewNRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return []byte(sb.String())
}

// classify says whether an 8x8 image in [-1, 1] is mostly red (0) or blue (1).
func classify(img []float32) int {
	var red, blue float64
	for i := 0; i < len(img); i += 3 {
		red += float64(img[i])
		blue += float64(img[i+2])
	}
	if red > blue {
		return 0
	}
	return 1
}

// A class-conditional model trained on red discs and blue squares draws the
// class it is asked for, more reliably as the guidance scale grows.
func TestClassConditionalGuidance(t *testing.T) {
	root := writeTwoClasses(t, 4)
	data, err := imageset.LoadFolder(context.Background(), root, imageset.LoadOptions{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	data, _, err = imageset.LabelByFolder(data, root)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := unet.Preset("tiny")
	cfg.Height, cfg.Width, cfg.NumClasses = 8, 8, 2
	model := unet.Model{Config: cfg}
	backend := testBackend(t)
	tr, err := training.NewTrainer(backend, model, training.TrainConfig{Steps: 400, BatchSize: 16, LearningRate: 3e-3, Seed: 2, CheckpointEvery: -1, LabelDropout: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	store := &checkpointStore{}
	if err := tr.Run(context.Background(), data, training.RunOptions{Save: store.Save}); err != nil {
		t.Fatal(err)
	}
	ck := store.Last(t)
	if strings.Join(ck.Classes, ",") != "blue,red" {
		t.Fatalf("checkpoint classes %v", ck.Classes)
	}
	field, err := training.NewModelField(backend, model, ck, true)
	if err != nil {
		t.Fatal(err)
	}
	const n, dim = 20, 8 * 8 * 3
	accuracy := func(w float64) float64 {
		correct := 0
		for label := range 2 {
			guided, err := field.Guided(label, w)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, n*dim)
			if err := flow.GaussianNoiseBatch(int64(100+label), 0, dim, x); err != nil {
				t.Fatal(err)
			}
			if err := flow.Integrate(context.Background(), guided, x, n, flow.SampleOptions{Method: flow.Heun, Steps: 8}); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if 1-classify(x[i*dim:(i+1)*dim]) == label {
					correct++
				}
			}
		}
		return float64(correct) / (2 * n)
	}
	a0, a1, a3 := accuracy(0), accuracy(1), accuracy(3)
	t.Logf("share of samples of the requested class: guidance 0: %.2f, 1: %.2f, 3: %.2f", a0, a1, a3)
	if a3 < 0.9 {
		t.Errorf("with guidance 3, %.0f%% of samples have the requested class, want >= 90%%", 100*a3)
	}
	if !(a3 >= a1 && a1 > a0) {
		t.Errorf("accuracy does not rise with guidance: %.2f, %.2f, %.2f", a0, a1, a3)
	}
	if _, err := field.Guided(2, 1); err == nil {
		t.Error("Guided accepted label 2 of a 2-class model")
	}
}
