package training_test

import (
	"context"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// BenchmarkTrainStepRefUNet32 times training steps of ref-unet-32 at batch 16
// on the project's CPU backend and reports images/s and GFLOP/s (training
// FLOPs counted analytically as 3x the forward pass).
//
//	go test ./training -run '^$' -bench '^BenchmarkTrainStepRefUNet32$' -benchtime 5x
func BenchmarkTrainStepRefUNet32(b *testing.B) {
	const batch = 16
	cfg, _, tr := refUNet32Trainer(b, batch)
	x1 := make([]float32, batch*32*32*3)
	for i := range x1 {
		x1[i] = float32(i%17)/8 - 1
	}
	if _, _, err := tr.TrainStep(x1, batch); err != nil { // compiles the graph
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, err := tr.TrainStep(x1, batch); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec, "s/step")
	b.ReportMetric(batch/sec, "images/s")
	b.ReportMetric(batch*cfg.TrainFLOPs()/sec/1e9, "GFLOP/s")
}

// BenchmarkSampleRefUNet32 times 20-step Euler sampling of 16 images with
// ref-unet-32 (EMA weights after one training step) and reports images/s.
//
//	go test ./training -run '^$' -bench '^BenchmarkSampleRefUNet32$' -benchtime 3x
func BenchmarkSampleRefUNet32(b *testing.B) {
	const batch = 16
	cfg, backend, tr := refUNet32Trainer(b, batch)
	x := make([]float32, batch*32*32*3)
	if _, _, err := tr.TrainStep(x, batch); err != nil { // creates the weights
		b.Fatal(err)
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		b.Fatal(err)
	}
	f, err := training.NewModelField(backend, unet.Model{Config: cfg}, ck, true)
	if err != nil {
		b.Fatal(err)
	}
	opts := flow.SampleOptions{Method: flow.Euler, Steps: 20}
	if err := flow.Integrate(context.Background(), f, x, batch, flow.SampleOptions{Method: flow.Euler, Steps: 1}); err != nil {
		b.Fatal(err) // compiles the graph
	}
	b.ResetTimer()
	for range b.N {
		for i := range x {
			x[i] = float32(i%13)/6 - 1
		}
		if err := flow.Integrate(context.Background(), f, x, batch, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// refUNet32Trainer returns ref-unet-32's configuration, the test backend and
// a trainer of the model on it.
func refUNet32Trainer(b *testing.B, batch int) (unet.Config, backends.Backend, *training.Trainer) {
	cfg, err := unet.Preset("ref-unet-32")
	if err != nil {
		b.Fatal(err)
	}
	backend := testBackend(b)
	tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, training.TrainConfig{Steps: 1_000_000, BatchSize: batch, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return cfg, backend, tr
}
