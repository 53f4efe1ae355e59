package flow_test

import (
	"testing"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/unet"
)

// BenchmarkTrainStepRefUNet32 times training steps of ref-unet-32 at batch 16
// on the project's CPU backend and reports images/s and GFLOP/s (training
// FLOPs counted analytically as 3x the forward pass).
//
//	go test ./flow/ -run '^$' -bench TrainStepRefUNet32 -benchtime 5x
func BenchmarkTrainStepRefUNet32(b *testing.B) {
	cfg, err := unet.Preset("ref-unet-32")
	if err != nil {
		b.Fatal(err)
	}
	const batch = 16
	backend := testBackend(b)
	tr, err := flow.NewTrainer(backend, unet.Model{Config: cfg}, flow.TrainConfig{Steps: 1_000_000, BatchSize: batch, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
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
