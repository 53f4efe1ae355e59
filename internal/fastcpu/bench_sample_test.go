package fastcpu_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/unet"
)

// BenchmarkRefUNet32Sample times one ref-unet-32 velocity evaluation (the forward pass of
// sampling) at batch 16 on 32x32 images and prints where the time goes, per op type.
//
//	GOEXPERIMENT=simd go test ./internal/fastcpu -run '^$' -bench RefUNet32Sample -benchtime 20x
func BenchmarkRefUNet32Sample(b *testing.B) {
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
	f, err := flow.NewModelField(backend, unet.Model{Config: cfg}, ck, true)
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
	prof := backend.(*fastcpu.Backend).Profile()
	names := make([]string, 0, len(prof))
	var total [2]time.Duration
	for k, v := range prof {
		names = append(names, k)
		total[0] += v[0]
		total[1] += v[1]
	}
	slices.SortFunc(names, func(x, y string) int { return int(prof[y][0] - prof[x][0]) })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	fmt.Fprintf(os.Stderr, "%8.2f ms/eval cpu %8.2f wall  total of the ops\n", ms(total[1]), ms(total[0]))
	for _, k := range names {
		fmt.Fprintf(os.Stderr, "%8.2f ms/eval cpu %8.2f wall  %s\n", ms(prof[k][1]), ms(prof[k][0]), k)
	}
}
