package engine

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
	"sync"
	"testing"
	"time"

	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
)

// writeImages writes n distinct 16x16 PNGs into a new folder.
func writeImages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				img.SetNRGBA(x, y, color.NRGBA{uint8(40 * i), uint8(16 * x), uint8(16 * y), 255})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "im"+string(rune('a'+i))+".png"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// trained returns a model directory trained for a few steps of the tiny
// preset by plain flow matching, shared by the tests of this file.
func trained(t *testing.T, e *Engine) string {
	t.Helper()
	data := writeImages(t, 5)
	model := filepath.Join(t.TempDir(), "model")
	var events []sdk.TrainProgress
	err := e.Train(context.Background(), sdk.TrainRequest{
		DataDir: data, ModelDir: model, Arch: "tiny", Size: 16, Steps: 6, Batch: 4, Seed: 3, Holdout: 0.2,
		Objective: sdk.ObjectiveFlowMatching,
	}, func(p sdk.TrainProgress) { events = append(events, p) })
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	if last := events[len(events)-1]; last.Step != 6 || last.Checkpoint == "" {
		t.Errorf("last progress %+v, want step 6 with a checkpoint", last)
	}
	if !strings.Contains(events[0].Message, "loaded 4 images") || !strings.Contains(events[0].Message, "1 more held out") {
		t.Errorf("first message %q, want it to report 4 images used and 1 held out", events[0].Message)
	}
	held, err := modeldir.ReadHoldout(model, data)
	if err != nil || len(held) != 1 {
		t.Errorf("hold-out list %q, %v; want one path", held, err)
	}
	return model
}

func TestTrainGenerateInfo(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)

	info, err := e.Info(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	if info.Arch != "tiny" || info.Width != 16 || info.Step != 6 || info.TotalSteps != 6 || info.DatasetSize != 4 || info.Params < 1000 || info.Backend != "fastcpu" {
		t.Errorf("Info = %+v", info)
	}
	if len(info.HoldoutFiles) != 1 || filepath.Dir(info.HoldoutFiles[0]) != info.DataDir || info.DataDir == "" {
		t.Errorf("Info names data folder %q and hold-out %q; want one held-out file of that folder", info.DataDir, info.HoldoutFiles)
	}

	for _, sampler := range []string{"euler", "heun", "midpoint", "rk4"} {
		var steps []int
		imgs, err := e.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 3, Steps: 2, Seed: 1, Sampler: sampler},
			func(p sdk.GenerateProgress) { steps = append(steps, p.Step) })
		if err != nil {
			t.Fatalf("%s: %v", sampler, err)
		}
		if len(imgs) != 3 || len(steps) != 2 {
			t.Fatalf("%s: %d images, progress %v; want 3 images and steps [1 2]", sampler, len(imgs), steps)
		}
		for i, im := range imgs {
			dec, err := png.Decode(bytes.NewReader(im.PNG))
			if err != nil || im.Index != i || dec.Bounds().Dx() != 16 || dec.Bounds().Dy() != 16 {
				t.Errorf("%s image %d: index %d, decode err %v", sampler, i, im.Index, err)
			}
		}
	}
}

// Concurrent requests get the same images as a lone call; chunked requests
// match unchunked ones, because each image's noise depends only on (seed, index).
func TestGenerateConcurrentAndChunkedDeterministic(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	req := sdk.GenerateRequest{ModelDir: model, N: 4, Steps: 3, Seed: 42}
	lone, err := e.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]sdk.Image, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.Generate(context.Background(), req, nil)
		}()
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		for j := range lone {
			if !bytes.Equal(results[i][j].PNG, lone[j].PNG) {
				t.Errorf("goroutine %d image %d differs from the lone call", i, j)
			}
		}
	}

	chunked := NewWithOptions(nil, Options{GenerateBatch: 3})
	got, err := chunked.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	for j := range lone {
		if !bytes.Equal(got[j].PNG, lone[j].PNG) {
			// The batch size of a product may change float rounding; tolerate
			// a few levels of 8-bit difference.
			if d := maxPixelDiff(t, got[j].PNG, lone[j].PNG); d > 2 {
				t.Errorf("image %d differs by %d levels between chunked and unchunked generation", j, d)
			}
		}
	}
}

// maxPixelDiff is the largest difference, in levels of 255, between two
// same-sized PNGs over every pixel and channel; meanPixelDiff the mean.
func maxPixelDiff(t *testing.T, a, b []byte) int {
	worst, _ := pixelDiffs(t, a, b)
	return worst
}

func meanPixelDiff(t *testing.T, a, b []byte) float64 {
	_, mean := pixelDiffs(t, a, b)
	return mean
}

func pixelDiffs(t *testing.T, a, b []byte) (worst int, mean float64) {
	t.Helper()
	ia, err1 := png.Decode(bytes.NewReader(a))
	ib, err2 := png.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	sum, n := 0, 0
	for y := range ia.Bounds().Dy() {
		for x := range ia.Bounds().Dx() {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				worst = max(worst, d, -d)
				sum += max(d, -d)
				n++
			}
		}
	}
	return worst, float64(sum) / float64(n)
}

func TestPresets(t *testing.T) {
	presets, err := NewWithOptions(nil, Options{}).Presets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names, defaults []string
	for _, p := range presets {
		names = append(names, p.Name)
		if p.Default {
			defaults = append(defaults, p.Name)
		}
		if p.Description == "" || p.Width < 8 || p.Height < 8 {
			t.Errorf("preset %+v: want a description and a size", p)
		}
	}
	if strings.Join(defaults, ",") != DefaultArch || !strings.Contains(strings.Join(names, ","), "tiny") {
		t.Errorf("presets %v with defaults %v; want tiny among them and only %s as default", names, defaults, DefaultArch)
	}
}

func TestRequestsRefused(t *testing.T) {
	e := NewWithOptions(nil, Options{MaxGeneratePixels: 16 * 16 * 10})
	model := trained(t, e)
	data := writeImages(t, 2)
	notModel := t.TempDir()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	newer := filepath.Join(t.TempDir(), "newer")
	if err := os.MkdirAll(newer, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(newer, modeldir.MetaFile), []byte(`{"format":"fm-image-model","version":99,"arch":"tiny","data_dir":"","unet":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt")
	if err := os.CopyFS(corrupt, os.DirFS(model)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(corrupt, modeldir.CheckpointFile), []byte("FMIMGCK1garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		run  func() error
		kind error
		want string
	}{
		{"generate over the memory budget", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 11, Steps: 1}, nil)
			return err
		}, sdk.ErrInvalidRequest, "memory budget"},
		{"generate from a missing model", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: filepath.Join(notModel, "nope"), N: 1, Steps: 1}, nil)
			return err
		}, sdk.ErrNotFound, "does not exist"},
		{"generate from a folder that is no model", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: notModel, N: 1, Steps: 1}, nil)
			return err
		}, sdk.ErrNotFound, "not an fm-image model directory"},
		{"generate from a file", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: file, N: 1, Steps: 1}, nil)
			return err
		}, sdk.ErrInvalidRequest, "is a file"},
		{"generate from an incompatible version", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: newer, N: 1, Steps: 1}, nil)
			return err
		}, nil, "incompatible version"},
		{"generate from a corrupt checkpoint", func() error {
			_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: corrupt, N: 1, Steps: 1}, nil)
			return err
		}, nil, "corrupt"},
		{"train into an existing model", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 1}, nil)
		}, sdk.ErrAlreadyExists, "already exists"},
		{"resume changing the arch", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 9, Resume: true, Arch: "small"}, nil)
		}, sdk.ErrInvalidRequest, "a resumed run keeps it"},
		{"resume a model that does not exist", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: data, ModelDir: filepath.Join(notModel, "x"), Steps: 9, Resume: true}, nil)
		}, sdk.ErrNotFound, "does not exist"},
		{"train with an unknown arch", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: data, ModelDir: filepath.Join(notModel, "y"), Steps: 1, Arch: "huge"}, nil)
		}, sdk.ErrInvalidRequest, "unknown model preset"},
		{"train at a size the model cannot take", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: data, ModelDir: filepath.Join(notModel, "z"), Steps: 1, Arch: "medium", Size: 20}, nil)
		}, sdk.ErrInvalidRequest, "multiple of 8"},
		{"train on a missing folder", func() error {
			return e.Train(ctx, sdk.TrainRequest{DataDir: filepath.Join(notModel, "nodata"), ModelDir: filepath.Join(notModel, "w"), Steps: 1, Arch: "tiny"}, nil)
		}, sdk.ErrNotFound, "nodata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
		})
	}
	// Failed trains created nothing.
	for _, d := range []string{"x", "y", "z", "w"} {
		if _, err := os.Stat(filepath.Join(notModel, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed train left %s behind", d)
		}
	}
}

// Resume continues to the new total, and a total already reached does nothing.
func TestResume(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	data := writeImages(t, 5)
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 9, Resume: true}, nil); err != nil {
		t.Fatal(err)
	}
	info, err := e.Info(context.Background(), model)
	if err != nil || info.Step != 9 || info.TotalSteps != 9 {
		t.Fatalf("after resume to 9: %+v, %v", info, err)
	}
	var msgs []string
	if err := e.Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Steps: 5, Resume: true},
		func(p sdk.TrainProgress) { msgs = append(msgs, p.Message) }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(msgs, "\n"), "already at step 9") {
		t.Errorf("messages %q, want one saying there is nothing to do", msgs)
	}
}

// A budgeted run reports a total of 0 while it times its first steps (the
// trainer's placeholder total never shows), then the total fitted to the
// budget, which its last report reaches.
func TestBudgetedRunReportsNoTotalUntilFitted(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	var events []sdk.TrainProgress
	err := e.Train(context.Background(), sdk.TrainRequest{
		DataDir: writeImages(t, 4), ModelDir: filepath.Join(t.TempDir(), "m"), Arch: "tiny", Size: 16, Batch: 2,
		Duration: 2 * time.Second, Objective: sdk.ObjectiveFlowMatching,
	}, func(p sdk.TrainProgress) { events = append(events, p) })
	if err != nil {
		t.Fatal(err)
	}
	timing := 0
	for _, p := range events {
		if p.TotalSteps >= sdk.MaxTrainSteps {
			t.Fatalf("progress %+v shows the placeholder total", p)
		}
		if p.Step > 0 && p.TotalSteps == 0 {
			timing++
		}
	}
	// The fit waits for five timed steps after the first (training's
	// minTimedSteps), each of which reports.
	if timing < 5 {
		t.Errorf("%d reports during the timing of the first steps with total 0, want at least 5", timing)
	}
	if last := events[len(events)-1]; last.Step == 0 || last.TotalSteps != last.Step {
		t.Errorf("last progress %+v: want the fitted total reached", last)
	}
}
