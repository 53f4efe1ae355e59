package training_test

import (
	"context"
	"testing"

	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// BenchmarkProfileSampleRefUNet32 times one ref-unet-32 velocity evaluation (the forward pass of
// sampling) at batch 16 on 32x32 images and prints where the time goes, per op type.
//
//	GOEXPERIMENT=simd go test ./training -run '^$' -bench ProfileSampleRefUNet32 -benchtime 20x
func BenchmarkProfileSampleRefUNet32(b *testing.B) {
	backend, err := fastcpu.New("profile")
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	const batch = 16
	tr, x1 := refTrainer(b, backend, batch, 32)
	if _, _, err := tr.TrainStep(x1, batch); err != nil { // creates the weights
		b.Fatal(err)
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := unet.Preset("ref-unet-32")
	if err != nil {
		b.Fatal(err)
	}
	f, err := training.NewModelField(backend, unet.Model{Config: cfg}, ck, true)
	if err != nil {
		b.Fatal(err)
	}
	t := make([]float32, batch)
	dst := make([]float32, len(x1))
	for range 2 { // compilation, then buffers reaching their steady state
		if err := f.Velocity(context.Background(), x1, t, dst); err != nil {
			b.Fatal(err)
		}
	}
	backend.(*fastcpu.Backend).ResetProfile()
	b.ResetTimer()
	for range b.N {
		if err := f.Velocity(context.Background(), x1, t, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	printProfile(backend.(*fastcpu.Backend), b.N, "eval")
}
