package fastcpu_test

import (
	"fmt"
	"github.com/fm-image/fm-image/internal/fastcpu"
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkRefUNet32Train times one ref-unet-32 flow training step at batch 16 (32x32) on
// fastcpu. The first step (compilation) is not timed.
//
//	GOEXPERIMENT=simd go test ./internal/fastcpu -run '^$' -bench RefUNet32Train -benchtime 5x
func BenchmarkRefUNet32Train(b *testing.B) {
	backend, err := fastcpu.New("profile")
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
	b.StopTimer()
	prof := backend.(*fastcpu.Backend).Profile()
	names := make([]string, 0, len(prof))
	for k := range prof {
		names = append(names, k)
	}
	slices.SortFunc(names, func(x, y string) int { return int(prof[y][1] - prof[x][1]) })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N+1) }
	for _, k := range names {
		fmt.Fprintf(os.Stderr, "%8.1f ms/step cpu %8.1f wall  %s\n", ms(prof[k][1]), ms(prof[k][0]), k)
	}
}
