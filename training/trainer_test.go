package training_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/internal/backend"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// tinyModel is the smallest U-Net preset at 8x8, fast enough for unit tests.
func tinyModel(t *testing.T) unet.Model {
	t.Helper()
	cfg, err := unet.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Height, cfg.Width = 8, 8
	return unet.Model{Config: cfg}
}

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backend.Select(backend.Default)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSyntheticImages writes n distinct 8x8 PNGs (two-colour patterns) and
// returns the folder.
func writeSyntheticImages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	palette := []color.NRGBA{{230, 30, 30, 255}, {30, 200, 40, 255}, {30, 40, 220, 255}, {240, 220, 40, 255}}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
		for y := range 8 {
			for x := range 8 {
				c := palette[i%len(palette)]
				if (x < 4) != (i%2 == 0) || y < 2 {
					c = color.NRGBA{250, 250, 250, 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		f, err := os.Create(filepath.Join(dir, "img"+string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

func loadData(t *testing.T, dir string) *imageset.Dataset {
	t.Helper()
	data, err := imageset.LoadFolder(context.Background(), dir, imageset.LoadOptions{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Training overfits a tiny synthetic set: the loss falls well below its
// start, and samples land close to training images.
func TestTrainOverfitsTinySet(t *testing.T) {
	backend := testBackend(t)
	data := loadData(t, writeSyntheticImages(t, 2))
	model := tinyModel(t)
	cfg := training.TrainConfig{Steps: 800, BatchSize: 8, LearningRate: 5e-3, Seed: 1, CheckpointEvery: -1, WarmupSteps: 10}
	tr, err := training.NewTrainer(backend, model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var first, last []float64
	store := &checkpointStore{}
	err = tr.Run(context.Background(), data, training.RunOptions{Save: store.Save, OnProgress: func(p training.Progress) {
		if p.Step <= 20 {
			first = append(first, p.Loss)
		}
		if p.Step > cfg.Steps-20 {
			last = append(last, p.Loss)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	start, end := mean(first), mean(last)
	t.Logf("loss: first 20 steps %.4f, last 20 steps %.4f", start, end)
	if !(end < 0.5*start) {
		t.Errorf("loss fell from %.4f to %.4f, want below half", start, end)
	}

	ck := store.Last(t)
	if ck.Step != cfg.Steps || ck.DatasetSize != 2 {
		t.Errorf("checkpoint step %d dataset %d, want %d and 2", ck.Step, ck.DatasetSize, cfg.Steps)
	}
	field, err := training.NewModelField(backend, model, ck, true)
	if err != nil {
		t.Fatal(err)
	}
	const n, dim = 6, 8 * 8 * 3
	x := make([]float32, n*dim)
	if err := flow.GaussianNoiseBatch(99, 0, dim, x); err != nil {
		t.Fatal(err)
	}
	noiseDist := nearestMSE(t, data, x[:dim])
	if err := flow.Integrate(context.Background(), field, x, n, flow.SampleOptions{Method: flow.Heun, Steps: 10}); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range n {
		worst = max(worst, nearestMSE(t, data, x[i*dim:(i+1)*dim]))
	}
	t.Logf("nearest-training-image MSE: samples worst %.4f, pure noise %.4f", worst, noiseDist)
	if worst > 0.1 {
		t.Errorf("a sample is %.4f (MSE) from every training image, want < 0.1", worst)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// nearestMSE returns the mean squared distance of img to the closest training image.
func nearestMSE(t *testing.T, data *imageset.Dataset, img []float32) float64 {
	t.Helper()
	best := math.Inf(1)
	ref := make([]float32, len(img))
	for i := range data.Len() {
		if err := data.Image(i, ref); err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for j := range img {
			d := float64(img[j] - ref[j])
			s += d * d
		}
		best = min(best, s/float64(len(img)))
	}
	return best
}

// An interrupted run resumed from its checkpoint ends with the same weights
// as an uninterrupted one with the same seed.
func TestInterruptAndResumeMatchesUninterrupted(t *testing.T) {
	withDropout := tinyModel(t)
	withDropout.Config.Dropout = 0.2 // in-graph randomness: its state must be checkpointed too
	flowMap := tinyModel(t)
	flowMap.Config.StepInput = true
	base := training.TrainConfig{Steps: 8, BatchSize: 4, Seed: 5, CheckpointEvery: -1, LearningRate: 1e-3}
	with := func(change func(c *training.TrainConfig)) training.TrainConfig {
		c := base
		change(&c)
		return c
	}
	for _, tc := range []struct {
		name  string
		model unet.Model
		cfg   training.TrainConfig
	}{
		{"plain", tinyModel(t), base},
		{"dropout", withDropout, base},
		{"ot-coupling+power-ema+adaptive-loss", tinyModel(t), with(func(c *training.TrainConfig) {
			c.OTCoupling, c.EMAPower, c.AdaptiveLossPower, c.TimeSampling = true, 7, 0.5, training.TimeLogitNormal
		})},
		{"shortcut", flowMap, with(func(c *training.TrainConfig) { c.Objective, c.FlowMapFraction = training.ObjectiveShortcut, 0.5 })},
		{"shortcut+logit-normal", flowMap, with(func(c *training.TrainConfig) {
			c.Objective, c.TimeSampling, c.LearningRate = training.ObjectiveShortcut, training.TimeLogitNormal, 2e-3
		})},
		{"shortcut+ema-targets+coarse-levels", flowMap, with(func(c *training.TrainConfig) {
			c.Objective, c.TargetsFromEMA, c.ShortcutCoarse, c.ShortcutLevels = training.ObjectiveShortcut, true, 0.5, 3
		})},
		{"meanflow", flowMap, with(func(c *training.TrainConfig) { c.Objective = training.ObjectiveMeanFlow })},
		{"flow-matching-then-meanflow", flowMap, with(func(c *training.TrainConfig) { c.Objective, c.FlowMapStart = training.ObjectiveMeanFlow, 0.5 })},
		// The teacher is frozen at step 2, before the interruption at 3: the
		// resumed run rebuilds the pool from the saved teacher.
		{"shortcut+distillation", flowMap, with(func(c *training.TrainConfig) {
			c.Objective, c.DistillStart, c.DistillTrajectories, c.DistillTeacherSteps, c.DistillGrid = training.ObjectiveShortcut, 0.25, 5, 4, 2
		})},
		// The phase starts at step 3, where the run is interrupted.
		{"shortcut+distillation-at-the-interruption", flowMap, with(func(c *training.TrainConfig) {
			c.Objective, c.DistillStart, c.DistillTrajectories, c.DistillTeacherSteps, c.DistillGrid = training.ObjectiveShortcut, 0.375, 5, 4, 2
		})},
	} {
		t.Run(tc.name, func(t *testing.T) { testInterruptAndResume(t, tc.model, tc.cfg) })
	}
}

// testInterruptAndResume trains model for 8 steps in one run, and again with an
// interruption after step 3 and a resume from the checkpoint; the final checkpoints must be
// byte-identical.
func testInterruptAndResume(t *testing.T, model unet.Model, cfg training.TrainConfig) {
	backend := testBackend(t)
	data := loadData(t, writeSyntheticImages(t, 3))

	full := &checkpointStore{}
	tr, err := training.NewTrainer(backend, model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(context.Background(), data, training.RunOptions{Save: full.Save}); err != nil {
		t.Fatal(err)
	}

	part := &checkpointStore{}
	tr1, err := training.NewTrainer(backend, model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = tr1.Run(ctx, data, training.RunOptions{Save: part.Save, OnProgress: func(p training.Progress) {
		if p.Step == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run returned %v, want context.Canceled", err)
	}
	ck := part.Last(t)
	if ck.Step != 3 {
		t.Fatalf("checkpoint after interruption at step %d, want 3", ck.Step)
	}
	tr2, err := training.NewTrainer(backend, model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr2.Restore(ck); err != nil {
		t.Fatal(err)
	}
	if err := tr2.Run(context.Background(), data, training.RunOptions{Save: part.Save}); err != nil {
		t.Fatal(err)
	}

	a := full.Last(t)
	b := part.Last(t)
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors vs %d", len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		ta, tb := a.Tensors[i], b.Tensors[i]
		if ta.Name != tb.Name || string(ta.Data) != string(tb.Data) {
			t.Errorf("tensor %s differs between the uninterrupted and the resumed run", ta.Name)
		}
	}
}

// A run with a wall-clock budget fits its total to the steps the budget
// holds, ends on time with a checkpoint of a complete run, and lets its
// learning rate reach the minimum at the end.
func TestRunWithDuration(t *testing.T) {
	backend := testBackend(t)
	data := loadData(t, writeSyntheticImages(t, 3))
	tr, err := training.NewTrainer(backend, tinyModel(t), training.TrainConfig{Steps: training.MaxTrainSteps, BatchSize: 2, Seed: 1, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	const budget = 3 * time.Second
	store := &checkpointStore{}
	var last training.Progress
	start := time.Now()
	if err := tr.Run(context.Background(), data, training.RunOptions{Save: store.Save, Duration: budget,
		OnProgress: func(p training.Progress) { last = p }}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	ck := store.Last(t)
	t.Logf("%v budget: %d steps in %v; last rate %.3g", budget, ck.Step, took, last.LearningRate)
	// The run stops at the first step boundary after the budget (or at the
	// fitted total just before it): within a step or two and a save of it.
	if took < budget*8/10 || took > budget+2*time.Second {
		t.Errorf("the run took %v for a budget of %v", took, budget)
	}
	if ck.Step < 20 || ck.Train.Steps != ck.Step || ck.Train.Steps >= training.MaxTrainSteps {
		t.Errorf("checkpoint at step %d of %d: want a complete run of the steps the budget held", ck.Step, ck.Train.Steps)
	}
	cfg := ck.Train
	if minLR := cfg.LearningRate * cfg.MinLRFraction; last.LearningRate > minLR+0.2*(cfg.LearningRate-minLR) {
		t.Errorf("last learning rate %.3g: the schedule did not decay over the budget (peak %.3g, minimum %.3g)", last.LearningRate, cfg.LearningRate, minLR)
	}
}

// With TargetsFromEMA the shortcut targets come from the EMA weights: the
// first step, where the EMA is still a copy of the weights, has the same
// loss as with targets from the trained weights, and once the two have
// parted the losses part too.
func TestShortcutTargetsFromEMA(t *testing.T) {
	backend := testBackend(t)
	model := tinyModel(t)
	model.Config.StepInput = true
	h, w, c := model.ImageShape()
	const batch = 4
	x1 := make([]float32, batch*h*w*c)
	for i := range x1 {
		x1[i] = float32(math.Sin(float64(i)*0.37)) * 0.8
	}
	losses := func(fromEMA bool) []float64 {
		cfg := training.TrainConfig{Steps: 6, BatchSize: batch, Seed: 5, CheckpointEvery: -1, LearningRate: 1e-2,
			Objective: training.ObjectiveShortcut, FlowMapFraction: 0.5, TargetsFromEMA: fromEMA}
		tr, err := training.NewTrainer(backend, model, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for range cfg.Steps {
			loss, _, err := tr.TrainStep(x1, batch)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, loss)
		}
		return out
	}
	own, ema := losses(false), losses(true)
	// Step 0 evaluates the same weights by the same graph ops: equal up to
	// float32 rounding of a mean over the batch.
	if math.Abs(own[0]-ema[0]) > 1e-6*math.Abs(own[0]) {
		t.Fatalf("first step: loss %g with EMA targets, %g without; the EMA starts as a copy of the weights", ema[0], own[0])
	}
	parted := false
	for i := 1; i < len(own); i++ {
		parted = parted || math.Abs(own[i]-ema[i]) > 1e-4*math.Abs(own[i])
	}
	if !parted {
		t.Fatalf("losses with EMA targets %v equal those without %v: the targets do not read the EMA", ema, own)
	}
}

// A run with distillation freezes the EMA weights as its teacher at the
// phase's first step, records that step, says so, and keeps the teacher in
// its checkpoints.
func TestDistillationPhase(t *testing.T) {
	backend := testBackend(t)
	data := loadData(t, writeSyntheticImages(t, 3))
	model := tinyModel(t)
	model.Config.StepInput = true
	cfg := training.TrainConfig{Steps: 6, BatchSize: 4, Seed: 2, CheckpointEvery: 3, LearningRate: 1e-3,
		Objective: training.ObjectiveShortcut, DistillStart: 0.5, DistillTrajectories: 5, DistillTeacherSteps: 4, DistillGrid: 2}
	tr, err := training.NewTrainer(backend, model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &checkpointStore{}
	var messages []string
	if err := tr.Run(context.Background(), data, training.RunOptions{Save: store.Save, OnProgress: func(p training.Progress) {
		if p.Message != "" {
			messages = append(messages, fmt.Sprintf("step %d: %s", p.Step, p.Message))
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if len(store.saved) != 2 {
		t.Fatalf("%d checkpoints, want 2 (steps 3 and 6)", len(store.saved))
	}
	at3, err := training.DecodeCheckpoint(store.saved[0])
	if err != nil {
		t.Fatal(err)
	}
	final := store.Last(t)
	if final.Train.DistillFrom != 3 {
		t.Errorf("distill_from = %d, want 3 (half of 6 steps)", final.Train.DistillFrom)
	}
	if at3.Train.DistillFrom != 0 || at3.Find("/teacher/model/stem/kernel") != nil {
		t.Errorf("the checkpoint of step 3, written before the phase's first step, already has a teacher")
	}
	teachers := 0
	for _, tt := range final.Tensors {
		name, ok := strings.CutPrefix(tt.Name, "/teacher")
		if !ok {
			continue
		}
		teachers++
		ema := at3.Find("/ema" + name)
		if ema == nil || string(ema.Data) != string(tt.Data) {
			t.Errorf("teacher tensor %s is not the EMA weights of step 3", tt.Name)
		}
		if now := final.Find("/ema" + name); now != nil && string(now.Data) == string(tt.Data) {
			t.Errorf("teacher tensor %s follows the EMA weights after step 3", tt.Name)
		}
	}
	if models := len(at3.Tensors); teachers == 0 || teachers*4 > models {
		t.Errorf("%d teacher tensors for %d tensors in the checkpoint of step 3 (weights, EMA, two Adam moments)", teachers, models)
	}
	want := "step 3: distillation from step 3: the teacher (the EMA weights at step 3) makes 5 samples in 4 steps each"
	if len(messages) != 2 || messages[0] != want || !strings.Contains(messages[1], "the few-step flow map learns from them") {
		t.Errorf("messages %q, want %q and the end of the teacher's work", messages, want)
	}
}
