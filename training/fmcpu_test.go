package training_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/fm-image/fm-image/internal/fmcpu"
	"github.com/fm-image/fm-image/unet"
)

// refUNetTrainer trains ref-unet-32 (unet.Preset("ref-unet-32"), unet.Velocity) by flow
// matching (Adam, lr 2e-4) on one fixed batch: inputs xt = (1-t) x0 + t x1 and t, label
// target = x1 - x0, with x1 uniform in [-1, 1] standing in for data, x0 ~ N(0, I) and
// t ~ U(0, 1), all drawn once from a fixed seed. The model is initialised from a fixed seed too,
// so runs are deterministic.
type refUNetTrainer struct {
	flopsPerImage float64
	trainer       *train.Trainer
	inputs        []*tensors.Tensor
	labels        []*tensors.Tensor
}

func newRefUNetTrainer(tb testing.TB, backend backends.Backend, batch int) *refUNetTrainer {
	tb.Helper()
	cfg, err := unet.Preset("ref-unet-32")
	if err != nil {
		tb.Fatalf("unet.Preset: %v", err)
	}
	ctx := context.New()
	unet.SetInitSeed(ctx, 1)
	modelFn := func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
		return []*graph.Node{unet.Velocity(ctx, cfg, inputs[0], inputs[1])}
	}
	lossFn := func(labels, predictions []*graph.Node) *graph.Node {
		return graph.ReduceAllMean(graph.Square(graph.Sub(predictions[0], labels[0])))
	}
	opt := optimizers.Adam().LearningRate(2e-4).Done()
	trainer := train.NewTrainer(backend, ctx, modelFn, lossFn, opt, nil, nil)

	rng := rand.New(rand.NewPCG(2026, 32))
	c, h, w := cfg.ImageChannels, cfg.Height, cfg.Width
	perImage := h * w * c
	xt := make([]float32, batch*perImage)
	target := make([]float32, batch*perImage)
	ts := make([]float32, batch)
	for i := range batch {
		ts[i] = rng.Float32()
		for j := range perImage {
			x1 := 2*rng.Float32() - 1
			x0 := float32(rng.NormFloat64())
			xt[i*perImage+j] = (1-ts[i])*x0 + ts[i]*x1
			target[i*perImage+j] = x1 - x0
		}
	}
	return &refUNetTrainer{
		flopsPerImage: cfg.TrainFLOPs(),
		trainer:       trainer,
		inputs: []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(xt, batch, h, w, c),
			tensors.FromFlatDataAndDimensions(ts, batch),
		},
		labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(target, batch, h, w, c)},
	}
}

// step runs one training step and returns the batch loss (computed before the update).
func (r *refUNetTrainer) step(tb testing.TB) float64 {
	tb.Helper()
	metrics, err := r.trainer.TrainStep(nil, r.inputs, r.labels)
	if err != nil {
		tb.Fatalf("TrainStep: %v", err)
	}
	loss, err := tensors.CopyFlatData[float32](metrics[0])
	if err != nil {
		tb.Fatalf("reading the loss: %v", err)
	}
	return float64(loss[0])
}

// TestRefUNet32LossFalls trains ref-unet-32 on the fmcpu backend for 20 steps on one fixed batch and
// checks that the loss falls.
func TestRefUNet32LossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains ref-unet-32 for 20 steps")
	}
	backend, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	r := newRefUNetTrainer(t, backend, 2)
	losses := make([]float64, 0, 21)
	for range 21 {
		losses = append(losses, r.step(t))
	}
	t.Logf("losses: %.4f", losses)
	first, last := losses[0], losses[len(losses)-1]
	if !(last < 0.95*first) {
		t.Fatalf("loss did not fall over 20 steps: %.5f -> %.5f", first, last)
	}
}

// BenchmarkFMCPUTrainStepRefUNet32 times the ref-unet-32 training step at batch 16 (32x32) on this
// backend and on the filled-in simplego baseline, in one run. Each iteration is one step; a warm-up
// step (which compiles) is not timed. It reports the median seconds per step, images/s and
// GFLOP/s (FLOPs from unet's analytical count: 3 x forward, forward = 2 x multiply-adds), and
// prints the speed-up of fmcpu over fmcpu-filled. Run it with a fixed count, e.g.
//
//	go test ./training -run '^$' -bench FMCPUTrainStepRefUNet32 -benchtime 3x -timeout 30m
func BenchmarkFMCPUTrainStepRefUNet32(b *testing.B) {
	const batch = 16
	medians := make(map[string]float64)
	for _, name := range []string{fmcpu.Name, fmcpu.FilledInName} {
		b.Run(name, func(b *testing.B) {
			backend, err := backends.NewWithConfig(name)
			if err != nil {
				b.Fatal(err)
			}
			defer backend.Finalize()
			r := newRefUNetTrainer(b, backend, batch)
			r.step(b) // Warm-up: compiles the graph.
			durations := make([]float64, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				r.step(b)
				durations = append(durations, time.Since(start).Seconds())
			}
			b.StopTimer()
			slices.Sort(durations)
			median := durations[len(durations)/2]
			medians[name] = median
			flops := r.flopsPerImage * batch
			b.ReportMetric(median, "s/step")
			b.ReportMetric(batch/median, "images/s")
			b.ReportMetric(flops/median/1e9, "GFLOP/s")
		})
	}
	if fast, slow := medians[fmcpu.Name], medians[fmcpu.FilledInName]; fast > 0 && slow > 0 {
		fmt.Printf("ref-unet-32 batch %d: %s %.3f s/step, %s %.3f s/step: %s is %.1fx faster\n", batch,
			fmcpu.Name, fast, fmcpu.FilledInName, slow, fmcpu.Name, slow/fast)
	}
}
