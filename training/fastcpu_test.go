package training_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fmcpu"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// refTrainer returns a flow trainer of ref-unet-32 (at size x size) on backend, with a fixed
// seed, no warm-up and no clipping surprises, and a fixed batch of data.
func refTrainer(t testing.TB, backend backends.Backend, batch, size int) (*training.Trainer, []float32) {
	t.Helper()
	cfg, err := unet.Preset("ref-unet-32")
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.WithSize(size, size)
	tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, training.TrainConfig{
		Steps: 100, BatchSize: batch, WarmupSteps: -1, Seed: 7, WeightDecay: 0.01,
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x1 := make([]float32, batch*size*size*cfg.ImageChannels)
	for i := range x1 {
		x1[i] = 2*rng.Float32() - 1
	}
	return tr, x1
}

// TestRefUNet32StepMatchesFMCPU runs two ref-unet-32 training steps (training.Trainer: forward,
// gradients, clipping, AdamW, EMA) at batch 2 on fastcpu and on fmcpu (simplego-based) and
// compares the losses, gradient norms and every variable afterwards. It also logs the ops the
// training graph uses.
func TestRefUNet32StepMatchesFMCPU(t *testing.T) {
	fast, err := fastcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Finalize()
	var counts map[string]int
	fast.(*fastcpu.Backend).OnCompile = func(b *fastcpu.Builder) { counts = b.OpCounts() }
	ref, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Finalize()

	const batch = 2
	trF, x1 := refTrainer(t, fast, batch, 32)
	trR, _ := refTrainer(t, ref, batch, 32)
	for s := range 2 {
		lf, gf, err := trF.TrainStep(x1, batch)
		if err != nil {
			t.Fatalf("fastcpu step %d: %v", s, err)
		}
		lr, gr, err := trR.TrainStep(x1, batch)
		if err != nil {
			t.Fatalf("fmcpu step %d: %v", s, err)
		}
		t.Logf("step %d: loss fastcpu %.7f fmcpu %.7f; grad norm %.6f vs %.6f", s, lf, lr, gf, gr)
		if math.Abs(lf-lr) > 1e-4*math.Abs(lr) || math.Abs(gf-gr) > 1e-3*math.Abs(gr) {
			t.Errorf("step %d: loss %.7g vs %.7g, grad norm %.7g vs %.7g", s, lf, lr, gf, gr)
		}
	}
	if counts != nil {
		names := make([]string, 0, len(counts))
		for k := range counts {
			names = append(names, k)
		}
		slices.Sort(names)
		var sb strings.Builder
		for _, k := range names {
			fmt.Fprintf(&sb, "%s:%d ", k, counts[k])
		}
		t.Logf("ops of the training graph: %s", sb.String())
	}
	ckF, err := trF.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	ckR, err := trR.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if len(ckF.Tensors) != len(ckR.Tensors) {
		t.Fatalf("%d vs %d variables", len(ckF.Tensors), len(ckR.Tensors))
	}
	worst, worstName := 0.0, ""
	for i, tf := range ckF.Tensors {
		trr := ckR.Tensors[i]
		if tf.Name != trr.Name {
			t.Fatalf("variable %d: %s vs %s", i, tf.Name, trr.Name)
		}
		a, b := floats(tf.Data), floats(trr.Data)
		scale := 0.0
		for _, v := range b {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range a {
			d := math.Abs(float64(a[j]-b[j])) / (scale + 1e-6)
			if d > worst || math.IsNaN(float64(a[j])) {
				worst, worstName = d, fmt.Sprintf("%s[%d] %g vs %g", tf.Name, j, a[j], b[j])
			}
		}
	}
	t.Logf("largest difference relative to each variable's scale: %.3g at %s", worst, worstName)
	if worst > 1e-3 {
		t.Errorf("variables differ: %.3g at %s", worst, worstName)
	}
}

// floats decodes little-endian float32 bytes.
func floats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		u := uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		out[i] = math.Float32frombits(u)
	}
	return out
}
