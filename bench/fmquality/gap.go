package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/training"
)

// runGap measures how far a model's few-step samples are from its own
// many-step ones from the same noise: the root mean squared difference per
// value (images in [-1, 1]) for each step count, on the EMA and, with
// -raw, the raw weights. A few-step objective or a distillation phase
// works when this gap shrinks; FD then says whether what is left is blur.
//
//	fmquality gap -run RUN [-steps 1,2,4,8 -ref-steps 16 -n 128]
func runGap(args []string) error {
	fs := flag.NewFlagSet("gap", flag.ExitOnError)
	run := fs.String("run", "", "run or model folder (required)")
	stepsFlag := fs.String("steps", "1,2,4,8", "step counts")
	refSteps := fs.Int("ref-steps", 16, "steps of the reference samples")
	n := fs.Int("n", 128, "samples")
	seed := fs.Int64("seed", 3000, "noise seed")
	raw := fs.Bool("raw", false, "the raw weights instead of the EMA")
	teacher := fs.Bool("teacher", false, "reference samples from the distillation teacher's weights (a run that distilled)")
	_ = fs.Parse(args)
	if *run == "" {
		return errors.New("gap: -run is required")
	}
	steps, err := parseSteps(*stepsFlag, 1, "gap", "-steps")
	if err != nil {
		return err
	}
	ctx := context.Background()
	lm, err := loadModel(*run, "fastcpu", !*raw)
	if err != nil {
		return err
	}
	ck, model, field := lm.ck, lm.model, lm.field
	var refField flow.Field = field
	if *teacher {
		tk := *ck
		tk.Tensors = nil
		for _, t := range ck.Tensors {
			if name, ok := strings.CutPrefix(t.Name, "/teacher/"); ok {
				t.Name = "/ema/" + name
				tk.Tensors = append(tk.Tensors, t)
			}
		}
		if len(tk.Tensors) == 0 {
			return fmt.Errorf("gap: %s has no distillation teacher", *run)
		}
		if refField, err = training.NewModelField(lm.backend, model, &tk, true); err != nil {
			return err
		}
	}
	h, w, c := model.ImageShape()
	dim := h * w * c
	noise := make([]float32, *n*dim)
	if err := flow.GaussianNoiseBatch(*seed, 0, dim, noise); err != nil {
		return err
	}
	sample := func(f flow.Field, steps int) ([]float32, error) {
		x := append([]float32(nil), noise...)
		return x, flow.Integrate(ctx, f, x, *n, flow.SampleOptions{Method: flow.FlowMap, Steps: steps})
	}
	ref, err := sample(refField, *refSteps)
	if err != nil {
		return err
	}
	for _, k := range steps {
		x, err := sample(field, k)
		if err != nil {
			return err
		}
		var sum float64
		for i := range x {
			d := float64(x[i] - ref[i])
			sum += d * d
		}
		fmt.Printf("%s: %2d steps vs %d: RMS difference %.4f\n", *run, k, *refSteps, math.Sqrt(sum/float64(len(x))))
	}
	return nil
}
