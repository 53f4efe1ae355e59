package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/plugin/modeldir"
)

// runFitGrid fits a model's few-step time grids to its own many-step
// samples (flow.FitGrid) and prints them in -grid's syntax, for eval to
// measure; -write also stores them in the model directory
// (modeldir.TimeGridsFile), where fm-image generate uses them, as it does
// the grids that training fits:
//
//	fmquality fitgrid -run RUN -steps 2,4,8 [-method flowmap -teacher-steps 32 -teacher-shift 0 -write]
func runFitGrid(args []string) error {
	fs := flag.NewFlagSet("fitgrid", flag.ExitOnError)
	run := fs.String("run", "", "run or model folder (required)")
	backendName := fs.String("backend", "fastcpu", "GoMLX backend (see internal/backend.Select)")
	stepsFlag := fs.String("steps", "2,4,8", "step counts to fit grids for")
	method := fs.String("method", "flowmap", "sampler whose grid is fitted")
	startShift := fs.Float64("start-shift", 0, "shift of the grid the search starts from (0: uniform)")
	teacherMethod := fs.String("teacher-method", "flowmap", "sampler of the reference samples")
	teacherSteps := fs.Int("teacher-steps", 32, "steps of the reference samples")
	teacherShift := fs.Float64("teacher-shift", 0, "time-grid shift of the reference samples")
	n := fs.Int("n", 64, "noise samples the grid is fitted on")
	seed := fs.Int64("seed", 2000, "noise seed (eval's default is 1000: keep them apart)")
	budget := fs.Int("budget", 0, "batch integrations per step count (0: 12 per interior point)")
	write := fs.Bool("write", false, "write the fitted grids to the model directory ("+modeldir.TimeGridsFile+")")
	_ = fs.Parse(args)
	if *run == "" {
		return errors.New("fitgrid: -run is required")
	}
	steps, err := parseSteps(*stepsFlag, 2, "fitgrid", "-steps")
	if err != nil {
		return err
	}
	m, err := flow.ParseMethod(*method)
	if err != nil {
		return fmt.Errorf("fitgrid: -method: %w", err)
	}
	tm, err := flow.ParseMethod(*teacherMethod)
	if err != nil {
		return fmt.Errorf("fitgrid: -teacher-method: %w", err)
	}

	ctx := context.Background()
	lm, err := loadModel(*run, *backendName, true)
	if err != nil {
		return err
	}
	ck, model, field := lm.ck, lm.model, lm.field
	h, w, c := model.ImageShape()
	dim := h * w * c
	noise := make([]float32, *n*dim)
	if err := flow.GaussianNoiseBatch(*seed, 0, dim, noise); err != nil {
		return err
	}

	start := time.Now()
	target := append([]float32(nil), noise...)
	if err := flow.Integrate(ctx, field, target, *n, flow.SampleOptions{Method: tm, Steps: *teacherSteps, Shift: *teacherShift}); err != nil {
		return fmt.Errorf("fitgrid: reference samples: %w", err)
	}
	fmt.Printf("reference: %s at %d steps (shift %g), %d samples, %.0fs\n", tm, *teacherSteps, *teacherShift, *n, time.Since(start).Seconds())
	var grids []string
	fitted := modeldir.TimeGrids{Step: ck.Step, Method: m, Grids: map[int][]float64{},
		Reference: fmt.Sprintf("%s at %d steps (shift %g), %d samples, seed %d", tm, *teacherSteps, *teacherShift, *n, *seed)}
	for _, k := range steps {
		start := time.Now()
		fit, err := flow.FitGrid(ctx, field, noise, *n, target, flow.GridFitOptions{Method: m, Steps: k, Shift: *startShift, MaxIntegrations: *budget})
		if err != nil {
			return fmt.Errorf("fitgrid: %d steps: %w", k, err)
		}
		pts := make([]string, len(fit.Grid))
		for i, g := range fit.Grid {
			pts[i] = strconv.FormatFloat(g, 'f', 4, 64)
		}
		grids = append(grids, fmt.Sprintf("%d:%s", k, strings.Join(pts, ",")))
		fitted.Grids[k] = fit.Grid
		fmt.Printf("%s %2d steps: loss %.5f -> %.5f in %d integrations (%.0fs): grid %s\n",
			m, k, fit.StartLoss, fit.Loss, fit.Integrations, time.Since(start).Seconds(), strings.Join(pts, ","))
	}
	fmt.Printf("-grid '%s'\n", strings.Join(grids, ";"))
	if *write {
		if err := modeldir.WriteTimeGrids(*run, fitted); err != nil {
			return fmt.Errorf("fitgrid: %w", err)
		}
		fmt.Printf("wrote %s\n", filepath.Join(*run, modeldir.TimeGridsFile))
	}
	return nil
}
