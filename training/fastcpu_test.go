package training_test

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
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

// startWeights returns the initial weights of cfg's model (seed as the
// trainer uses it), with the layers that start at zero (the head and the
// attention output projections) filled with small random values instead:
// with them at zero, a first step has no gradient behind them and compares
// nothing but the head.
func startWeights(t *testing.T, backend backends.Backend, cfg unet.Config, seed int64) []training.Tensor {
	t.Helper()
	ctx := context.New()
	unet.SetInitSeed(ctx, seed)
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, x, tt *graph.Node) *graph.Node {
		return unet.Velocity(ctx.In("model"), cfg, x, tt)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, cfg.Height, cfg.Width, cfg.ImageChannels))
	if _, err := exec.Exec(x, []float32{0.5}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	var ws []training.Tensor
	for v := range ctx.IterVariables() {
		val := tensors.MustCopyFlatData[float32](v.MustValue())
		dims := v.Shape().Dimensions
		if v.Name() == "kernel" && !slices.ContainsFunc(val, func(f float32) bool { return f != 0 }) {
			std := 0.5 / math.Sqrt(float64(len(val)/dims[len(dims)-1]))
			for i := range val {
				val[i] = float32(rng.NormFloat64() * std)
			}
		}
		data := make([]byte, 4*len(val))
		for i, f := range val {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(f))
		}
		ws = append(ws, training.Tensor{Name: v.ScopeAndName(), DType: dtypes.Float32.String(), Dims: slices.Clone(dims), Data: data})
	}
	return ws
}

// stepRun is one training step: the loss and gradient norm it reported and the checkpoint
// after it.
type stepRun struct {
	loss, gradNorm float64
	ck             *training.Checkpoint
}

// newStepTrainer returns a trainer of cfg's model with tc on backend.
func newStepTrainer(t *testing.T, backend backends.Backend, cfg unet.Config, tc training.TrainConfig) *training.Trainer {
	t.Helper()
	tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, tc)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// step restores from into tr and runs one step on the batch x1.
func step(t *testing.T, tr *training.Trainer, from *training.Checkpoint, x1 []float32, batch int) stepRun {
	t.Helper()
	if err := tr.Restore(from); err != nil {
		t.Fatal(err)
	}
	loss, gnorm, err := tr.TrainStep(x1, batch)
	if err != nil {
		t.Fatalf("step %d: %v", from.Step+1, err)
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	return stepRun{loss, gnorm, ck}
}

// TestStepsMatchFMCPU runs training steps (training.Trainer: forward, gradients, clipping,
// AdamW, EMA) on fmcpu (simplego-based) and on fastcpu with each of its kernels, each step from
// the same state (fmcpu's before it) on the same batch, and compares the losses, the
// gradients (through Adam's moments) and the updated weights (see compareStep): ref-unet-32
// at batch 2 (two steps) and at batch 16, small at batch 16 (scale-shift conditioning) and
// medium at batch 16 on 16×16 images (attention at 16×16 and 8×8, 32 GroupNorm groups; at its
// own 64×64 an fmcpu step takes minutes). -short runs the batch-2 case only.
func TestStepsMatchFMCPU(t *testing.T) {
	ref, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Finalize()
	for _, c := range []struct {
		preset             string
		size, batch, steps int
	}{
		{"ref-unet-32", 32, 2, 2},
		{"ref-unet-32", 32, 16, 1},
		{"small", 32, 16, 1},
		{"medium", 16, 16, 1},
	} {
		t.Run(fmt.Sprintf("%s_%dx%d_b%d", c.preset, c.size, c.size, c.batch), func(t *testing.T) {
			if testing.Short() && c.batch > 2 {
				t.Skipf("-short: %s at batch %d is not compared with fmcpu", c.preset, c.batch)
			}
			cfg, err := unet.Preset(c.preset)
			if err != nil {
				t.Fatal(err)
			}
			cfg = cfg.WithSize(c.size, c.size)
			tc := training.TrainConfig{Steps: 100, BatchSize: c.batch, WarmupSteps: -1, Seed: 7, WeightDecay: 0.01,
				LearningRate: 1e-3}.WithDefaults()
			rng := rand.New(rand.NewPCG(1, 2))
			x1 := make([]float32, c.batch*c.size*c.size*cfg.ImageChannels)
			for i := range x1 {
				x1[i] = 2*rng.Float32() - 1
			}
			modelJSON, err := unet.Model{Config: cfg}.ConfigJSON()
			if err != nil {
				t.Fatal(err)
			}
			states := []*training.Checkpoint{{Model: modelJSON, Tensors: startWeights(t, ref, cfg, tc.Seed)}}
			var want []stepRun
			start := time.Now()
			trR := newStepTrainer(t, ref, cfg, tc)
			for s := range c.steps {
				want = append(want, step(t, trR, states[s], x1, c.batch))
				states = append(states, want[s].ck)
			}
			t.Logf("fmcpu: %d step(s) in %v", c.steps, time.Since(start).Round(time.Millisecond))
			for _, kernel := range []string{"", "avx2-fma"} {
				name, config := "auto", ""
				if kernel != "" {
					name, config = kernel, "kernel="+kernel
				}
				t.Run(name, func(t *testing.T) {
					if kernel != "" && !slices.Contains(kernels.Kernels(), kernel) {
						t.Skipf("the %s kernels cannot run on this CPU and build: fastcpu with them is not compared", kernel)
					}
					fast, err := fastcpu.New(config)
					if err != nil {
						t.Fatal(err)
					}
					defer fast.Finalize()
					var counts map[string]int
					fast.(*fastcpu.Backend).OnCompile = func(b *fastcpu.Builder) { counts = b.OpCounts() }
					trF := newStepTrainer(t, fast, cfg, tc)
					start := time.Now()
					for s := range c.steps {
						got := step(t, trF, states[s], x1, c.batch)
						compareStep(t, cfg, tc, c.batch, states[s], want[s], got)
					}
					t.Logf("fastcpu %s: %d step(s) in %v", fast.(*fastcpu.Backend).Description(), c.steps, time.Since(start).Round(time.Millisecond))
					logOpCounts(t, counts)
				})
			}
		})
	}
}

// logOpCounts logs the ops of the training graph.
func logOpCounts(t *testing.T, counts map[string]int) {
	names := slices.Sorted(maps.Keys(counts))
	var sb strings.Builder
	for _, k := range names {
		fmt.Fprintf(&sb, "%s:%d ", k, counts[k])
	}
	t.Logf("ops of the training graph: %s", sb.String())
}

// How close a fastcpu training step must be to fmcpu's from the same state.
//
// Both run the same float32 graph; they differ only in the order and
// grouping of their sums (and in the last bit of a few elementwise
// functions). A sum of n terms computed in float32 in any order is off by at
// most about λ·√n·u times the sum of the terms' magnitudes (u = 2⁻²⁴, λ = 8:
// the probabilistic bound of Higham and Mary, 2019, as in the kernels'
// tests). A training step chains such sums: the convolutions (n = 9·Cin) and
// attention products on the longest path from the input to the loss
// (pathSqrtTerms), the mean of the B·H·W·C squared residuals, the same path
// back for the gradients, and the sum over the B·H·W pixels of a weight
// gradient. Taking each sum's relative error at its bound and adding them
// along the path gives
//
//	loss:      ε_loss = λ·u·(√(B·H·W·C) + P)
//	gradients: ε_grad = λ·u·(√(B·H·W) + 2·P),  P = Σ_path √n,
//
// relative (norm-wise for a variable's gradient); for ref-unet-32 at batch
// 16 that is 3.4e-4 and 5.2e-4, where the differences measured are about
// 2e-7 and 3e-6. The step's gradient g is read from Adam's first moment:
// m = β1·m' + (1−β1)·g (g clipped), m' the moment before the step, the same
// on both; its second moment v = β2·v' + (1−β2)·g² must match to 2·ε_grad.
// A gradient can be zero in exact arithmetic and pure rounding noise in
// float32 (an attention key bias: softmax ignores a shift common to a row of
// scores), so each element's moments may also differ by what a gradient of
// Adam's ε would give, (1−β1)·ε and (1−β2)·ε².
//
// The weights are compared element by element against the update, lr
// times Adam's u = m̂/(√v̂ + ε) (plus the decay lr·wd·w, the same on both):
// an error δg in the gradient g moves u by at most |∂u/∂g|·δg, with
// |∂u/∂g| ≤ (1−β1)·b̂1/(√v̂+ε) + |u|·(1−β2)·b̂2·|g|/(√v̂·(√v̂+ε)) (b̂ the bias
// corrections), and by at most 2 (a sign flip) where g is within δg of
// zero. With δg = ε_grad·(the variable's rms gradient) + ε and a factor 2
// for the second-order terms and for elements off by more than the rms,
//
//	|w_fast − w_fmcpu| ≤ lr·min(2, 2·|∂u/∂g|·δg) + u·(|w_fast| + |w_fmcpu|) + 16·u·lr·(1+|u|),
//
// the second term both rounding w − lr·(u + wd·w) to float32, the third
// Adam's own few roundings.
const (
	stepLambda = 8
	f32Unit    = 0x1p-24
)

// pathSqrtTerms returns Σ√n over the sums on the longest path from the
// input to the output of cfg's U-Net: the stem, the two 3×3 convolutions
// of each residual block (down, middle and up, whose first block sees the
// skip connection's channels too), each attention layer's query
// projection, scores, weighted sum and output projection, and the head.
func pathSqrtTerms(cfg unet.Config) float64 {
	ch := cfg.LevelChannels()
	p := math.Sqrt(float64(9 * cfg.ImageChannels))
	block := func(cin, cout int) { p += math.Sqrt(float64(9*cin)) + math.Sqrt(float64(9*cout)) }
	attention := func(level, c int) {
		if h := cfg.Height >> level; slices.Contains(cfg.AttentionResolutions, h) {
			hw := float64(h * (cfg.Width >> level))
			p += 2*math.Sqrt(float64(c)) + math.Sqrt(float64(c/cfg.AttentionHeads)) + math.Sqrt(hw)
		}
	}
	cin := ch[0]
	for level, c := range ch {
		for range cfg.BlocksPerLevel {
			block(cin, c)
			cin = c
			attention(level, c)
		}
	}
	for range cfg.MiddleBlocks {
		block(cin, cin)
	}
	for level := len(ch) - 1; level >= 0; level-- {
		cin += ch[level]
		for range cfg.BlocksPerLevel {
			block(cin, ch[level])
			cin = ch[level]
			attention(level, ch[level])
		}
	}
	return p + math.Sqrt(float64(9*ch[0]))
}

// compareStep compares fastcpu's step (got) from the state before with
// fmcpu's (want), with the tolerances above.
func compareStep(t *testing.T, cfg unet.Config, tc training.TrainConfig, batch int, before *training.Checkpoint, want, got stepRun) {
	t.Helper()
	k := before.Step + 1
	path := pathSqrtTerms(cfg)
	pixels := float64(batch * cfg.Height * cfg.Width)
	epsLoss := stepLambda * f32Unit * (math.Sqrt(pixels*float64(cfg.ImageChannels)) + path)
	epsGrad := stepLambda * f32Unit * (math.Sqrt(pixels) + 2*path)
	dl := math.Abs(got.loss-want.loss) / want.loss
	dg := math.Abs(got.gradNorm-want.gradNorm) / want.gradNorm
	t.Logf("step %d: loss %.8g, fmcpu %.8g (relative difference %.2g, tolerance %.2g); gradient norm %.8g, fmcpu %.8g (%.2g, tolerance %.2g)",
		k, got.loss, want.loss, dl, epsLoss, got.gradNorm, want.gradNorm, dg, epsGrad)
	if !(dl <= epsLoss) {
		t.Errorf("step %d: loss %.8g, fmcpu %.8g: relative difference %.3g > %.3g", k, got.loss, want.loss, dl, epsLoss)
	}
	if !(dg <= epsGrad) {
		t.Errorf("step %d: gradient norm %.8g, fmcpu %.8g: relative difference %.3g > %.3g", k, got.gradNorm, want.gradNorm, dg, epsGrad)
	}
	b1, b2, eps := tc.Beta1, tc.Beta2, tc.Epsilon
	bc1, bc2 := 1/(1-math.Pow(b1, float64(k))), 1/(1-math.Pow(b2, float64(k)))
	lr := tc.LearningRateAt(before.Step)
	var worstM, worstV, worstW float64
	var worstMName, worstVName, worstWName string
	flips, flippable := 0, 0
	for _, tn := range before.Tensors {
		if !strings.HasPrefix(tn.Name, "/model/") {
			continue
		}
		w0 := floats(tn.Data)
		wF, wR := floats(find(t, got.ck, tn.Name)), floats(find(t, want.ck, tn.Name))
		mF, mR := floats(find(t, got.ck, "/adam_m"+tn.Name)), floats(find(t, want.ck, "/adam_m"+tn.Name))
		vF, vR := floats(find(t, got.ck, "/adam_v"+tn.Name)), floats(find(t, want.ck, "/adam_v"+tn.Name))
		m0, v0 := moments(before, "/adam_m"+tn.Name, len(w0)), moments(before, "/adam_v"+tn.Name, len(w0))
		n := float64(len(w0))
		// The gradient through the moments, norm-wise.
		var dm, gm, dv, gv float64
		for i := range w0 {
			dm += sq(float64(mF[i]) - float64(mR[i]))
			gm += sq(float64(mR[i]) - b1*float64(m0[i]))
			dv += sq(float64(vF[i]) - float64(vR[i]))
			gv += sq(float64(vR[i]) - b2*float64(v0[i]))
		}
		if r := math.Sqrt(dm) / (epsGrad*math.Sqrt(gm) + math.Sqrt(n)*(1-b1)*eps); !(r <= worstM) {
			worstM, worstMName = r, tn.Name
		}
		if r := math.Sqrt(dv) / (2*epsGrad*math.Sqrt(gv) + math.Sqrt(n)*(1-b2)*eps*eps); !(r <= worstV) {
			worstV, worstVName = r, tn.Name
		}
		// The weights, element by element, against the update. g is this step's
		// (clipped) gradient, from fmcpu's moments; dg the error the gradient
		// tolerance allows in it (as an rms over the variable), at least ε.
		var gg float64
		for i := range w0 {
			gg += sq((float64(mR[i]) - b1*float64(m0[i])) / (1 - b1))
		}
		dg := epsGrad*math.Sqrt(gg/n) + eps
		for i := range w0 {
			g := math.Abs(float64(mR[i])-b1*float64(m0[i])) / (1 - b1)
			sv := math.Sqrt(float64(vR[i]) * bc2)
			uR := float64(mR[i]) * bc1 / (sv + eps)
			// |∂u/∂g|: through m̂, and through v̂ (whose square root scales u down).
			du := (1 - b1) * bc1 / (sv + eps)
			if sv > 0 {
				du += math.Abs(uR) * (1 - b2) * bc2 * g / (sv * (sv + eps))
			}
			move := min(2, 2*du*dg)
			if move == 2 {
				flippable++
			}
			tol := lr*(move+16*f32Unit*(1+math.Abs(uR))) + f32Unit*(math.Abs(float64(wF[i]))+math.Abs(float64(wR[i])))
			d := math.Abs(float64(wF[i]) - float64(wR[i]))
			if r := d / tol; !(r <= worstW) {
				worstW, worstWName = r, fmt.Sprintf("%s[%d]: %.9g, fmcpu %.9g, before %.9g (difference %.3g = %.3g·lr, allowed %.3g)",
					tn.Name, i, wF[i], wR[i], w0[i], d, d/lr, tol)
			}
			if (float64(mF[i])-b1*float64(m0[i]))*(float64(mR[i])-b1*float64(m0[i])) < 0 {
				flips++
			}
		}
	}
	t.Logf("step %d: largest difference as a fraction of its tolerance: first moments %.3g (%s), second moments %.3g (%s), weights %.3g (%s); %d gradient signs differ, %d gradients are within their tolerance of zero",
		k, worstM, worstMName, worstV, worstVName, worstW, worstWName, flips, flippable)
	if worstM > 1 || worstV > 1 || worstW > 1 {
		t.Errorf("step %d differs from fmcpu's by more than the tolerance: first moments %.3g of it (%s), second moments %.3g (%s), weights %.3g (%s)",
			k, worstM, worstMName, worstV, worstVName, worstW, worstWName)
	}
}

// moments returns the checkpoint's Adam moment name, or zeros before the first step.
func moments(ck *training.Checkpoint, name string, n int) []float32 {
	if tn := ck.Find(name); tn != nil {
		return floats(tn.Data)
	}
	return make([]float32, n)
}

// find returns the data of the checkpoint's tensor name.
func find(t *testing.T, ck *training.Checkpoint, name string) []byte {
	t.Helper()
	tn := ck.Find(name)
	if tn == nil {
		t.Fatalf("checkpoint has no %s", name)
	}
	return tn.Data
}

func sq(x float64) float64 { return x * x }

// floats decodes little-endian float32 bytes.
func floats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		u := uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		out[i] = math.Float32frombits(u)
	}
	return out
}
