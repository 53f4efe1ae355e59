package training_test

import (
	"context"
	"image"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fmcpu"
	"github.com/fm-image/fm-image/training"
)

// A checkpoint made on one backend samples on another with the same
// images: trained on fastcpu, sampled on fastcpu and on fmcpu from the same
// noise, the two runs' PNG pixels differ by at most one level of 255 (the
// backends' float32 sums differ in order only).
func TestCheckpointSamplesOnAnyBackend(t *testing.T) {
	fast, err := fastcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Finalize()
	ref, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Finalize()
	model := tinyModel(t)
	tr, err := training.NewTrainer(fast, model, training.TrainConfig{Steps: 150, BatchSize: 4, LearningRate: 3e-3, Seed: 2, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	store := &checkpointStore{}
	if err := tr.Run(context.Background(), loadData(t, writeSyntheticImages(t, 4)), training.RunOptions{Save: store.Save}); err != nil {
		t.Fatal(err)
	}
	ck := store.Last(t)
	if ck.TrainedOn == "" {
		t.Error("the checkpoint does not say what it was trained on")
	}
	h, w, c := model.ImageShape()
	const n = 4
	dim := h * w * c
	var images [2][]image.Image
	for i, b := range []backends.Backend{fast, ref} {
		field, err := training.NewModelField(b, model, ck, true)
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		x := make([]float32, n*dim)
		if err := flow.GaussianNoiseBatch(9, 0, dim, x); err != nil {
			t.Fatal(err)
		}
		if err := flow.Integrate(context.Background(), field, x, n, flow.SampleOptions{Method: flow.Heun, Steps: 8}); err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		for j := range n {
			img, err := imageset.ToImage(x[j*dim:(j+1)*dim], h, w)
			if err != nil {
				t.Fatal(err)
			}
			images[i] = append(images[i], img)
		}
	}
	worst := 0
	for j := range n {
		a, b := images[0][j].(*image.NRGBA), images[1][j].(*image.NRGBA)
		for k := range a.Pix {
			d := int(a.Pix[k]) - int(b.Pix[k])
			worst = max(worst, d, -d)
		}
	}
	t.Logf("largest pixel difference between fastcpu and fmcpu samples of one checkpoint: %d levels", worst)
	if worst > 1 {
		t.Errorf("samples of one checkpoint on two backends differ by %d levels of 255, want at most 1", worst)
	}
}
