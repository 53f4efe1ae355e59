package training_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

// BenchmarkProfileTrainRefUNet32 times one ref-unet-32 flow training step at batch 16 (32x32) on
// fastcpu and prints where the time goes, per op type. The first two steps (compilation, buffers
// reaching their steady state) are not timed. FASTCPU_BENCH_BATCH and FASTCPU_BENCH_SIZE change
// the batch and the image size.
//
//	GOEXPERIMENT=simd go test ./training -run '^$' -bench ProfileTrainRefUNet32 -benchtime 5x
func BenchmarkProfileTrainRefUNet32(b *testing.B) {
	backend, err := fastcpu.New("profile")
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	batch, size := 16, 32
	if v, err := strconv.Atoi(os.Getenv("FASTCPU_BENCH_BATCH")); err == nil {
		batch = v
	}
	if v, err := strconv.Atoi(os.Getenv("FASTCPU_BENCH_SIZE")); err == nil {
		size = v
	}
	tr, x1 := refTrainer(b, backend, batch, size)
	for range 2 { // compilation, then buffers reaching their steady state
		if _, _, err := tr.TrainStep(x1, batch); err != nil {
			b.Fatal(err)
		}
	}
	backend.(*fastcpu.Backend).ResetProfile()
	b.ResetTimer()
	for range b.N {
		if _, _, err := tr.TrainStep(x1, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	printProfile(backend.(*fastcpu.Backend), b.N, "step")
}

// printProfile prints to stderr the per-op times the backend's "profile" option collected over
// n runs, per run (unit names a run), largest CPU time first, after their total.
func printProfile(backend *fastcpu.Backend, n int, unit string) {
	prof := backend.Profile()
	names := make([]string, 0, len(prof))
	var total [2]time.Duration
	for k, v := range prof {
		names = append(names, k)
		total[0] += v[0]
		total[1] += v[1]
	}
	slices.SortFunc(names, func(x, y string) int { return int(prof[y][1] - prof[x][1]) })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(n) }
	fmt.Fprintf(os.Stderr, "%8.2f ms/%s cpu %8.2f wall  total of the ops\n", ms(total[1]), unit, ms(total[0]))
	for _, k := range names {
		fmt.Fprintf(os.Stderr, "%8.2f ms/%s cpu %8.2f wall  %s\n", ms(prof[k][1]), unit, ms(prof[k][0]), k)
	}
}
