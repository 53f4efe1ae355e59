package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// Concurrent single-image Generate calls are evaluated together, and give
// the images they give one after another (at most one level of 255 apart:
// a batch changes nothing but float32 rounding).
func TestConcurrentGenerateIsBatched(t *testing.T) {
	e, model := responsive(t)
	const callers = 8
	req := func(i int) sdk.GenerateRequest {
		return sdk.GenerateRequest{ModelDir: model, N: 1, Steps: 6, Seed: int64(100 + i), Sampler: "heun"}
	}
	alone := make([][]byte, callers)
	for i := range callers {
		alone[i] = generate(t, e, req(i))[0].PNG
	}
	lm, err := e.loadModel(model)
	if err != nil {
		t.Fatal(err)
	}
	batches0, requests0 := lm.batch.stats()
	together := make([][]byte, callers)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			imgs, err := e.Generate(context.Background(), req(i), nil)
			if err != nil {
				errs <- err
				return
			}
			together[i] = imgs[0].PNG
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	batches, requests := lm.batch.stats()
	batches, requests = batches-batches0, requests-requests0
	t.Logf("%d concurrent calls of %d evaluations each: %d batched evaluations served %d requests", callers, 12, batches, requests)
	if batches == 0 || requests < 2*batches {
		t.Errorf("%d batched evaluations served %d requests: the calls were not evaluated together", batches, requests)
	}
	for i := range callers {
		if d := maxPixelDiff(t, alone[i], together[i]); d > 1 {
			t.Errorf("image of seed %d: %d levels from its unbatched self, want at most 1", 100+i, d)
		}
	}
}

// BenchmarkConcurrentGenerate reports the throughput and the latency of 1, 4
// and 16 single-image Generate callers (20 steps of the default preset's own
// sampler at 32x32): concurrent with batching, concurrent without, one after
// another, and, for comparison, one call asking for all the images at once
// (what batching single calls can at best reach). The modes take turns
// within each iteration, so a machine whose speed drifts slows them alike,
// and the speed-ups over one-after-another are reported as ratios.
//
//	GOEXPERIMENT=simd go test ./plugin/engine -run '^$' -bench ConcurrentGenerate -benchtime 5x
func BenchmarkConcurrentGenerate(b *testing.B) {
	model := defaultModel(b)
	modes := []string{"batched", "unbatched", "sequential", "one-call"}
	engines := map[string]*Engine{}
	for _, mode := range modes {
		window := 10 * time.Millisecond
		if mode != "batched" {
			window = -1
		}
		engines[mode] = NewWithOptions(nil, Options{BatchWindow: window})
	}
	for _, callers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			elapsed := map[string]time.Duration{}
			latency := map[string]time.Duration{}
			var mu sync.Mutex
			call := func(mode string, seed, n int) {
				start := time.Now()
				req := sdk.GenerateRequest{ModelDir: model, N: n, Steps: 20, Seed: int64(seed)}
				if _, err := engines[mode].Generate(context.Background(), req, nil); err != nil {
					b.Error(err)
				}
				mu.Lock()
				latency[mode] += time.Since(start)
				mu.Unlock()
			}
			round := func(mode string) {
				start := time.Now()
				var wg sync.WaitGroup
				switch mode {
				case "one-call":
					call(mode, 0, callers)
				case "sequential":
					for i := range callers {
						call(mode, i, 1)
					}
				default:
					for i := range callers {
						wg.Go(func() { call(mode, i, 1) })
					}
				}
				wg.Wait()
				elapsed[mode] += time.Since(start)
			}
			for _, mode := range modes { // compile and load
				round(mode)
			}
			clear(elapsed)
			clear(latency)
			b.ResetTimer()
			for i := range b.N {
				for k := range modes { // a different mode first in each iteration
					round(modes[(i+k)%len(modes)])
				}
			}
			images := float64(callers * b.N)
			for _, mode := range modes {
				b.ReportMetric(images/elapsed[mode].Seconds(), mode+"-images/s")
				if mode != "one-call" {
					b.ReportMetric(latency[mode].Seconds()/images, mode+"-s/call")
				}
			}
			b.ReportMetric(elapsed["sequential"].Seconds()/elapsed["batched"].Seconds(), "batched-speedup")
			b.ReportMetric(elapsed["sequential"].Seconds()/elapsed["one-call"].Seconds(), "one-call-speedup")
		})
	}
}

// defaultModel returns a model directory of the default preset at 32x32,
// trained for one step: enough to time sampling.
func defaultModel(tb testing.TB) string {
	tb.Helper()
	data := tb.TempDir()
	for i := range 2 {
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("%d.png", i)), pngOf(tb, uint8(90*i), 40, 200), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	model := filepath.Join(tb.TempDir(), "model")
	if err := NewWithOptions(nil, Options{}).Train(context.Background(), sdk.TrainRequest{DataDir: data, ModelDir: model, Size: 32, Steps: 1, Batch: 2}, nil); err != nil {
		tb.Fatal(err)
	}
	return model
}
