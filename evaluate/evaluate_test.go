package evaluate_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/evaluate"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// fakeModel trains the fake generator on 6 two-colour 16x16 images, 2 held
// out, and returns the model directory.
func fakeModel(t *testing.T, gen sdk.Generator) (model, data string) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				c := color.NRGBA{uint8(40 * i), 200, 90, 255}
				if x > y {
					c = color.NRGBA{250, uint8(30 * i), 20, 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "img"+string(rune('a'+i))+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model = filepath.Join(dir, "model")
	req := sdk.TrainRequest{DataDir: data, ModelDir: model, Size: 16, Steps: 1, Holdout: 2.0 / 6}
	if err := gen.Train(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	return model, data
}

func TestRunUsesTheModelsHoldoutAndDataFolder(t *testing.T) {
	gen := &sdktest.Generator{}
	model, data := fakeModel(t, gen)
	var rows []evaluate.Row
	var started evaluate.Result
	res, err := evaluate.Run(context.Background(), gen, evaluate.Options{
		ModelDir: model, Images: 3, Configs: []evaluate.Config{{Sampler: "euler", Steps: 1}, {Sampler: "heun", Steps: 2}},
		Patches: 8, Projections: 16,
		OnStart: func(r evaluate.Result) { started = r },
		OnRow:   func(r evaluate.Row) { rows = append(rows, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reference != evaluate.HoldoutReference || res.RefImages != 2 || res.TrainImages != 4 ||
		res.TrainSource != data+" minus 2 reference files" {
		t.Errorf("reference %q (%d images), training set %d from %q", res.Reference, res.RefImages, res.TrainImages, res.TrainSource)
	}
	if started.RefImages != 2 || len(started.Rows) != 0 {
		t.Errorf("OnStart saw %+v, want the loaded sets and no rows", started)
	}
	if len(res.Rows) != 3 || len(rows) != 3 || res.Rows[0].Sampler != "real" || res.Rows[2].Evaluations != 4 {
		t.Fatalf("rows %+v (reported %d)", res.Rows, len(rows))
	}
	for _, r := range res.Rows[1:] {
		if r.NNRatio == nil || r.Images != 3 || len(r.SWD) != 1 {
			t.Errorf("row %+v: want 3 images, one SWD level and an NN ratio", r)
		}
	}
	if _, err := evaluate.Plot(res); err != nil {
		t.Errorf("plot: %v", err)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	gen := &sdktest.Generator{}
	model, _ := fakeModel(t, gen)
	empty := t.TempDir()
	one := []evaluate.Config{{Sampler: "euler", Steps: 1}}
	for _, tc := range []struct {
		name  string
		opts  evaluate.Options
		field string
		want  string
	}{
		{"no images", evaluate.Options{ModelDir: model, Configs: one}, "n", "0 is not in"},
		{"no configs", evaluate.Options{ModelDir: model, Images: 2}, "steps", "no sampler"},
		{"bad sampler", evaluate.Options{ModelDir: model, Images: 2, Configs: []evaluate.Config{{Sampler: "leapfrog", Steps: 1}}}, "sampler", "leapfrog"},
		{"empty reference folder", evaluate.Options{ModelDir: model, Images: 2, Configs: one, Reference: empty}, "ref", empty},
		{"missing reference", evaluate.Options{ModelDir: model, Images: 2, Configs: one, Reference: filepath.Join(empty, "x")}, "ref", "cannot read it"},
	} {
		_, err := evaluate.Run(context.Background(), gen, tc.opts)
		var ve *sdk.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a validation error of %q containing %q", tc.name, err, tc.field, tc.want)
		}
	}
}
