package fastcpu

import (
	"testing"
)

// BenchmarkRefUNet32Train times one ref-unet-32 flow training step at batch 16 (32x32) on
// fastcpu. The first step (compilation) is not timed.
//
//	GOEXPERIMENT=simd go test ./internal/fastcpu -run '^$' -bench RefUNet32Train -benchtime 5x
func BenchmarkRefUNet32Train(b *testing.B) {
	backend, err := New("")
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	const batch = 16
	tr, x1 := refTrainer(b, backend, batch, 32)
	if _, _, err := tr.TrainStep(x1, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, err := tr.TrainStep(x1, batch); err != nil {
			b.Fatal(err)
		}
	}
}
