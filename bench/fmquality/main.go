// Command fmquality is the sample-quality benchmark: it trains velocity
// models with any training and U-Net configuration straight through packages
// flow and unet (no plugin), samples them at several step counts from fixed
// seeds, and scores the samples with the Inception Fréchet distance tool
// (fd_inception.py), the nearest-neighbour memorisation ratio and PNG grids.
//
//	fmquality prep  -data DIR -out REF            # reference, floor and hold-out folders, floor FD
//	fmquality train -data DIR -spec SPEC.json -out RUN [-steps N]
//	fmquality eval  -data DIR -run RUN -ref REF [-steps 1,2,4,8,16,32 -methods euler,heun]
//	fmquality fitgrid -run RUN -steps 2,4,8       # time grids fitted to the model's many-step samples
//	fmquality gap   -run RUN -steps 1,2,4,8 -ref-steps 16  # few-step samples against the model's many-step ones
//	fmquality time  -data DIR -steps 20 -rounds 3 SPEC.json SPEC2.json ...
//	fmquality plot  -out fd.png [-floor F] NAME=fd.tsv ...  # FD against model evaluations
//
// A spec is a JSON object {"name": ..., "arch": "small", "unet": {...},
// "train": {...}}: "unet" and "train" override fields of the preset's
// unet.Config and of training.TrainConfig by their JSON names. Specs may also be
// given inline with -spec '{"arch":"small","train":{"learning_rate":1e-3}}'.
//
// The data protocol: images at -size (alpha composited on white, as the
// loader does), a -holdout fraction split off with -split-seed; training on
// the rest with horizontal flips. prep writes, from the training part, a
// reference folder of -ref-n images and a floor folder of the next -floor-n
// images (the real-vs-real floor of the FD), and the hold-out images.
//
// Build with GOEXPERIMENT=simd (the CPU backend's kernels); the backend is
// chosen explicitly (-backend, default fastcpu), never downloaded.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fm-image/fm-image/bench/fmbench"
	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/internal/backend"
	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/quality"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fmquality prep|train|eval|fitgrid|gap|time|plot [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "prep":
		err = runPrep(os.Args[2:])
	case "train":
		err = runTrain(os.Args[2:])
	case "eval":
		err = runEval(os.Args[2:])
	case "time":
		err = runTime(os.Args[2:])
	case "fitgrid":
		err = runFitGrid(os.Args[2:])
	case "fdcheck":
		err = runFDCheck(os.Args[2:])
	case "plot":
		err = runPlot(os.Args[2:])
	case "gap":
		err = runGap(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (prep, train, eval, fitgrid, gap, time, plot)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fmquality:", err)
		os.Exit(1)
	}
}

// dataFlags are the data protocol's settings, shared by every command.
type dataFlags struct {
	dir       string
	size      int
	holdout   float64
	splitSeed int64
	backend   string
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dir, "data", "", "image folder (required)")
	fs.IntVar(&d.size, "size", 32, "image side in pixels")
	fs.Float64Var(&d.holdout, "holdout", 0.1, "fraction of the images held out")
	fs.Int64Var(&d.splitSeed, "split-seed", 1, "seed of the hold-out split")
	fs.StringVar(&d.backend, "backend", "fastcpu", "GoMLX backend (see internal/backend.Select)")
}

// load returns the training and hold-out parts of the data.
func (d *dataFlags) load(ctx context.Context, flip bool) (train, hold *imageset.Dataset, err error) {
	if d.dir == "" {
		return nil, nil, errors.New("-data is required")
	}
	all, err := imageset.LoadFolder(ctx, d.dir, imageset.LoadOptions{Height: d.size, Width: d.size, FlipHorizontal: flip})
	if err != nil {
		return nil, nil, err
	}
	return all.Split(d.holdout, d.splitSeed)
}

// Spec is one experiment's model and training configuration.
type Spec struct {
	Name  string          `json:"name,omitempty"`
	Arch  string          `json:"arch,omitempty"`
	UNet  json.RawMessage `json:"unet,omitempty"`
	Train json.RawMessage `json:"train,omitempty"`
}

// parseSpec reads a spec from a file path or an inline JSON object.
func parseSpec(s string) (Spec, error) {
	data := []byte(s)
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		var err error
		if data, err = os.ReadFile(s); err != nil {
			return Spec{}, err
		}
	}
	var sp Spec
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return Spec{}, fmt.Errorf("spec %s: %w", s, err)
	}
	if sp.Arch == "" {
		sp.Arch = "small"
	}
	if sp.Name == "" && !strings.HasPrefix(strings.TrimSpace(s), "{") {
		sp.Name = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
	}
	return sp, nil
}

// overlay decodes the JSON object patch over *dst, refusing unknown fields.
func overlay(dst any, patch json.RawMessage) error {
	if len(patch) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(patch)))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

// configs returns the spec's U-Net and training configurations at size.
func (sp Spec) configs(size int) (unet.Config, training.TrainConfig, error) {
	cfg, err := unet.Preset(sp.Arch)
	if err != nil {
		return unet.Config{}, training.TrainConfig{}, err
	}
	cfg = cfg.WithSize(size, size)
	if err := overlay(&cfg, sp.UNet); err != nil {
		return unet.Config{}, training.TrainConfig{}, fmt.Errorf("unet overrides: %w", err)
	}
	if len(sp.UNet) > 0 {
		cfg.Name = ""
	}
	if err := cfg.Validate(); err != nil {
		return unet.Config{}, training.TrainConfig{}, err
	}
	// The product's defaults (plugin/engine via host/commands.go).
	tc := training.TrainConfig{Steps: 10000, BatchSize: 16, LearningRate: 2e-4, Seed: 1, CheckpointEvery: -1, ReportEvery: 50}
	if err := overlay(&tc, sp.Train); err != nil {
		return unet.Config{}, training.TrainConfig{}, fmt.Errorf("train overrides: %w", err)
	}
	return cfg, tc, nil
}

// ---------------------------------------------------------------------------

func runPrep(args []string) error {
	fs := flag.NewFlagSet("prep", flag.ExitOnError)
	var d dataFlags
	d.register(fs)
	out := fs.String("out", "", "output folder (required): ref/, floor/, holdout/ and floor.json")
	refN := fs.Int("ref-n", 1215, "training images in the FD reference")
	floorN := fs.Int("floor-n", 500, "other training images for the real-vs-real floor")
	fd := fs.String("fd", "../shared/tools/fd_inception.py", "path of fd_inception.py")
	_ = fs.Parse(args)
	if *out == "" {
		return errors.New("prep: -out is required")
	}
	ctx := context.Background()
	train, hold, err := d.load(ctx, false)
	if err != nil {
		return err
	}
	if *refN+*floorN > train.Len() {
		return fmt.Errorf("prep: %d+%d images asked for, the training part has %d", *refN, *floorN, train.Len())
	}
	perm := rand.New(rand.NewPCG(uint64(d.splitSeed), 0xf100)).Perm(train.Len())
	write := func(dir string, data *imageset.Dataset, idx []int) error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		buf := make([]float32, d.size*d.size*3)
		for _, i := range idx {
			if err := data.Image(i, buf); err != nil {
				return err
			}
			name := strings.TrimSuffix(filepath.Base(data.Files[i]), filepath.Ext(data.Files[i])) + ".png"
			if err := writePNG(filepath.Join(dir, name), buf, d.size); err != nil {
				return err
			}
		}
		return nil
	}
	if err := write(filepath.Join(*out, "ref"), train, perm[:*refN]); err != nil {
		return err
	}
	if err := write(filepath.Join(*out, "floor"), train, perm[*refN:*refN+*floorN]); err != nil {
		return err
	}
	holdIdx := make([]int, hold.Len())
	for i := range holdIdx {
		holdIdx[i] = i
	}
	if err := write(filepath.Join(*out, "holdout"), hold, holdIdx); err != nil {
		return err
	}
	if err := writeGrid(filepath.Join(*out, "ref-grid.png"), filepath.Join(*out, "ref"), d.size, 8, 3); err != nil {
		return err
	}
	fmt.Printf("wrote %d reference, %d floor and %d hold-out images under %s\n", *refN, *floorN, hold.Len(), *out)
	r, err := runFD(*fd, filepath.Join(*out, "ref"), filepath.Join(*out, "floor"), filepath.Join(*out, "floor.json"))
	if err != nil {
		return err
	}
	fmt.Printf("floor: FD %.3f precision %.3f recall %.3f\n", r.FD, r.Precision, r.Recall)
	return nil
}

// ---------------------------------------------------------------------------

// RunInfo is what train records next to the checkpoint.
type RunInfo struct {
	Spec        Spec                 `json:"spec"`
	UNet        unet.Config          `json:"unet"`
	Train       training.TrainConfig `json:"train"`
	Params      int                  `json:"params"`
	TrainImages int                  `json:"train_images"`
	Seconds     float64              `json:"seconds"` // training wall time, graph compilation excluded
	SecPerStep  float64              `json:"sec_per_step"`
	FinalLoss   float64              `json:"final_smooth_loss"`
	Started     string               `json:"started"`
}

func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ExitOnError)
	var d dataFlags
	d.register(fs)
	specFlag := fs.String("spec", "{}", "spec file or inline JSON")
	out := fs.String("out", "", "run folder (required): checkpoint and run.json")
	steps := fs.Int("steps", 0, "total steps (overrides the spec's train.steps)")
	_ = fs.Parse(args)
	if *out == "" {
		return errors.New("train: -out is required")
	}
	sp, err := parseSpec(*specFlag)
	if err != nil {
		return err
	}
	cfg, tc, err := sp.configs(d.size)
	if err != nil {
		return err
	}
	if *steps > 0 {
		tc.Steps = *steps
	}
	ctx := context.Background()
	train, _, err := d.load(ctx, true)
	if err != nil {
		return err
	}
	backend, err := backend.Select(d.backend)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, tc)
	if err != nil {
		return err
	}
	info := RunInfo{Spec: sp, UNet: cfg, Train: tr.Config(), TrainImages: train.Len(), Started: time.Now().Format(time.RFC3339)}
	logf, err := os.Create(filepath.Join(*out, "train.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	var first time.Time
	var firstStep int
	var last training.Progress
	start := time.Now()
	err = tr.Run(ctx, train, training.RunOptions{Save: func(c *training.Checkpoint) (string, error) { return modeldir.SaveCheckpoint(*out, c) }, OnProgress: func(p training.Progress) {
		if first.IsZero() {
			first, firstStep = time.Now(), p.Step
		}
		if p.Message != "" {
			fmt.Fprintln(logf, p.Message)
			fmt.Println(p.Message)
			return
		}
		last = p
		line := fmt.Sprintf("step %d/%d loss %.4f smooth %.4f gnorm %.3f lr %.2e img/s %.1f elapsed %.0fs",
			p.Step, p.TotalSteps, p.Loss, p.SmoothLoss, p.GradNorm, p.LearningRate, p.ImagesPerSec, time.Since(start).Seconds())
		fmt.Fprintln(logf, line)
		if p.Step%(tr.Config().ReportEvery*20) == 0 || p.Step == p.TotalSteps {
			fmt.Println(line)
		}
	}})
	if err != nil {
		return err
	}
	if last.Step > firstStep {
		info.SecPerStep = time.Since(first).Seconds() / float64(last.Step-firstStep)
	}
	info.Seconds = info.SecPerStep * float64(tc.Steps)
	info.FinalLoss = last.SmoothLoss
	ck, _, err := modeldir.LoadCheckpoint(*out)
	if err != nil {
		return err
	}
	for _, t := range ck.Tensors {
		if strings.HasPrefix(t.Name, "/model/") {
			n := 1
			for _, x := range t.Dims {
				n *= x
			}
			info.Params += n
		}
	}
	data, _ := json.MarshalIndent(info, "", "  ")
	fmt.Printf("trained %s: %d steps, %.3f s/step, %.1f min, %d parameters, loss %.4f\n",
		*out, tc.Steps, info.SecPerStep, info.Seconds/60, info.Params, info.FinalLoss)
	return os.WriteFile(filepath.Join(*out, "run.json"), append(data, '\n'), 0o644)
}

// ---------------------------------------------------------------------------

// FDResult is what fd_inception.py reports.
type FDResult struct {
	FD        float64 `json:"fd"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
}

// runFD runs the FD tool on (real, gen) and returns its figures.
func runFD(tool, real, gen, jsonOut string) (FDResult, error) {
	py := fmbench.FindTorch()
	if py == "" {
		return FDResult{}, fmt.Errorf("fd tool %s: no python3 that imports torch (Debian: apt-get install python3-torch python3-pil; /usr/bin/python3 is tried first)", tool)
	}
	cmd := exec.Command(py, tool, real, gen, "--json", jsonOut)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return FDResult{}, fmt.Errorf("fd tool: %w\n%s", err, out)
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		return FDResult{}, err
	}
	var r FDResult
	return r, json.Unmarshal(data, &r)
}

// EvalRow is one sampler setting's figures.
type EvalRow struct {
	Method  string  `json:"method"`
	Steps   int     `json:"steps"`
	NFE     int     `json:"nfe"`
	FD      float64 `json:"fd"`
	Prec    float64 `json:"precision"`
	Recall  float64 `json:"recall"`
	NNRatio float64 `json:"nn_ratio"`
	Seconds float64 `json:"sample_seconds"`
	Grid    string  `json:"grid"`
}

func runEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ExitOnError)
	var d dataFlags
	d.register(fs)
	run := fs.String("run", "", "run folder (required)")
	ref := fs.String("ref", "", "folder written by prep (required)")
	n := fs.Int("n", 500, "samples per setting")
	stepsFlag := fs.String("steps", "1,2,4,8,16,32", "step counts")
	methodsFlag := fs.String("methods", "euler", "samplers (comma-separated)")
	seed := fs.Int64("seed", 1000, "noise seed of the samples")
	batch := fs.Int("batch", 100, "sampling batch")
	fd := fs.String("fd", "../shared/tools/fd_inception.py", "path of fd_inception.py")
	raw := fs.Bool("raw", false, "sample the raw weights instead of the EMA")
	tag := fs.String("tag", "", "suffix of the output names (eval-TAG.json, samples-TAG/)")
	keep := fs.Bool("keep", true, "keep the sample PNGs")
	shift := fs.Float64("shift", 0, "time-grid shift s (t' = s·t/(1+(s-1)·t); 0: uniform)")
	gridFlag := fs.String("grid", "", "explicit time grids by step count, e.g. '4:0.125,0.25,0.5;2:0.25' (interior points; overrides -shift at those counts)")
	_ = fs.Parse(args)
	if *run == "" || *ref == "" {
		return errors.New("eval: -run and -ref are required")
	}
	grids, err := parseGrids(*gridFlag)
	if err != nil {
		return err
	}
	tg := timeGrid{shift: *shift, grids: grids}
	steps, err := parseSteps(*stepsFlag, 1, "eval", "-steps")
	if err != nil {
		return err
	}
	ctx := context.Background()
	lm, err := loadModel(*run, d.backend, !*raw)
	if err != nil {
		return err
	}
	ck, model, field := lm.ck, lm.model, lm.field
	train, hold, err := d.load(ctx, false)
	if err != nil {
		return err
	}
	trainSet, holdSet := toSet(train), toSet(hold)
	holdNN, err := quality.NearestNeighbours(ctx, holdSet, trainSet, 0)
	if err != nil {
		return err
	}
	holdMean := quality.MeanDistance(holdNN)
	suffix := ""
	if *tag != "" {
		suffix = "-" + *tag
	}
	var rows []EvalRow
	for _, m := range strings.Split(*methodsFlag, ",") {
		for _, k := range steps {
			row, err := evalOne(ctx, field, model, strings.TrimSpace(m), k, tg, *n, *batch, *seed, *run, suffix, *ref, *fd, trainSet, holdMean, *keep)
			if err != nil {
				return err
			}
			rows = append(rows, row)
			fmt.Printf("%-10s %3d steps: FD %7.3f  P %.3f  R %.3f  NN %.3f  (%.0fs sampling)\n",
				row.Method, row.Steps, row.FD, row.Prec, row.Recall, row.NNRatio, row.Seconds)
		}
	}
	res := map[string]any{"run": *run, "step": ck.Step, "n": *n, "seed": *seed, "ema": !*raw, "shift": *shift, "grid": *gridFlag, "holdout_nn_mean": holdMean, "rows": rows}
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(*run, "eval"+suffix+".json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println(markdownRow(*run, rows))
	return nil
}

// markdownRow summarises rows as "FD a/b/c... P/R at best, NN".
func markdownRow(run string, rows []EvalRow) string {
	var b strings.Builder
	byMethod := map[string][]EvalRow{}
	var methods []string
	for _, r := range rows {
		if _, ok := byMethod[r.Method]; !ok {
			methods = append(methods, r.Method)
		}
		byMethod[r.Method] = append(byMethod[r.Method], r)
	}
	for _, m := range methods {
		rs := byMethod[m]
		fds := make([]string, len(rs))
		best := rs[0]
		for i, r := range rs {
			fds[i] = fmt.Sprintf("%.1f", r.FD)
			if r.FD < best.FD {
				best = r
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | best %d: P %.2f R %.2f | NN %.2f |\n", filepath.Base(run), m, strings.Join(fds, " / "), best.Steps, best.Prec, best.Recall, best.NNRatio)
	}
	return b.String()
}

// sampler integrates batch images, the first of them image number first of the run, in place.
type sampler func(ctx context.Context, x []float32, batch, first int) error

// timeGrid is the sampling time grid of an evaluation: explicit grids by
// step count, else a shift (0: uniform).
type timeGrid struct {
	shift float64
	grids map[int][]float64
}

// parseGrids reads -grid: "N:p1,p2,...;M:..." (interior points by step count).
func parseGrids(s string) (map[int][]float64, error) {
	grids := map[int][]float64{}
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		ns, ps, ok := strings.Cut(part, ":")
		n, err := strconv.Atoi(strings.TrimSpace(ns))
		if !ok || err != nil || n < 2 {
			return nil, fmt.Errorf("-grid %q: want STEPS:POINTS with STEPS >= 2", part)
		}
		for _, p := range strings.Split(ps, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return nil, fmt.Errorf("-grid %q: %w", part, err)
			}
			grids[n] = append(grids[n], v)
		}
	}
	return grids, nil
}

func samplerFor(field flow.Field, method string, steps int, tg timeGrid, seed int64, dim int) (sampler, int, error) {
	m, err := flow.ParseMethod(method)
	if err != nil {
		return nil, 0, err
	}
	opts := flow.SampleOptions{Method: m, Steps: steps, Shift: tg.shift, Grid: tg.grids[steps]}
	if m == flow.Renoise {
		opts.Noise = flow.StepNoise(seed, 0, dim) // checked here; replaced per batch below
	}
	if err := opts.Validate(); err != nil {
		return nil, 0, err
	}
	return func(ctx context.Context, x []float32, batch, first int) error {
		o := opts
		if o.Noise != nil {
			o.Noise = flow.StepNoise(seed, first, dim)
		}
		return flow.Integrate(ctx, field, x, batch, o)
	}, m.Evaluations(steps), nil
}

func evalOne(ctx context.Context, field *training.ModelField, model unet.Model,
	method string, steps int, tg timeGrid, n, batch int, seed int64, run, suffix, ref, fd string, trainSet quality.Set, holdMean float64, keep bool) (EvalRow, error) {
	h, w, c := model.ImageShape()
	dim := h * w * c
	sample, nfe, err := samplerFor(field, method, steps, tg, seed, dim)
	if err != nil {
		return EvalRow{}, err
	}
	name := fmt.Sprintf("%s-%d", method, steps)
	dir := filepath.Join(run, "samples"+suffix, name)
	if err := os.RemoveAll(dir); err != nil {
		return EvalRow{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return EvalRow{}, err
	}
	gen := quality.Set{Height: h, Width: w}
	start := time.Now()
	for first := 0; first < n; first += batch {
		b := min(batch, n-first)
		x := make([]float32, b*dim)
		if err := flow.GaussianNoiseBatch(seed, first, dim, x); err != nil {
			return EvalRow{}, err
		}
		if err := sample(ctx, x, b, first); err != nil {
			return EvalRow{}, err
		}
		for i := range b {
			img := x[i*dim : (i+1)*dim]
			gen.Images = append(gen.Images, img)
			if err := writePNG(filepath.Join(dir, fmt.Sprintf("%04d.png", first+i)), img, h); err != nil {
				return EvalRow{}, err
			}
		}
	}
	secs := time.Since(start).Seconds()
	// NN distances of the samples as stored (8-bit), like the real images.
	for i, img := range gen.Images {
		for j, v := range img {
			img[j] = max(-1, min(1, float32(int(float64(v+1)*127.5+0.5))/127.5-1))
		}
		gen.Images[i] = img
	}
	nn, err := quality.NearestNeighbours(ctx, gen, trainSet, 0)
	if err != nil {
		return EvalRow{}, err
	}
	grid := filepath.Join(run, "grid"+suffix+"-"+name+".png")
	if err := writeGrid(grid, dir, h, 8, 3); err != nil {
		return EvalRow{}, err
	}
	r, err := runFD(fd, filepath.Join(ref, "ref"), dir, filepath.Join(dir, "..", name+".fd.json"))
	if err != nil {
		return EvalRow{}, err
	}
	if !keep {
		_ = os.RemoveAll(dir)
	}
	return EvalRow{Method: method, Steps: steps, NFE: nfe, FD: r.FD, Prec: r.Precision, Recall: r.Recall,
		NNRatio: quality.MeanDistance(nn) / holdMean, Seconds: secs, Grid: grid}, nil
}

// toSet copies every image of d (centred, unflipped) into a quality.Set.
func toSet(d *imageset.Dataset) quality.Set {
	s := quality.Set{Height: d.Height, Width: d.Width}
	for i := range d.Len() {
		buf := make([]float32, d.Height*d.Width*3)
		_ = d.Image(i, buf)
		s.Images = append(s.Images, buf)
	}
	return s
}

// ---------------------------------------------------------------------------

func runTime(args []string) error {
	fs := flag.NewFlagSet("time", flag.ExitOnError)
	var d dataFlags
	d.register(fs)
	steps := fs.Int("steps", 20, "timed steps per spec and round")
	rounds := fs.Int("rounds", 3, "interleaved rounds (A,B,...,A,B,...)")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("time: give one or more specs")
	}
	ctx := context.Background()
	train, _, err := d.load(ctx, true)
	if err != nil {
		return err
	}
	backend, err := backend.Select(d.backend)
	if err != nil {
		return err
	}
	type entry struct {
		name  string
		tr    *training.Trainer
		batch int
		times []float64
		rng   *rand.Rand
		x1    []float32
	}
	var es []*entry
	for _, s := range fs.Args() {
		sp, err := parseSpec(s)
		if err != nil {
			return err
		}
		cfg, tc, err := sp.configs(d.size)
		if err != nil {
			return err
		}
		tc.Steps = 1_000_000
		tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, tc)
		if err != nil {
			return err
		}
		name := sp.Name
		if name == "" {
			name = s
		}
		e := &entry{name: name, tr: tr, batch: tr.Config().BatchSize, rng: rand.New(rand.NewPCG(1, 2))}
		e.x1 = make([]float32, e.batch*d.size*d.size*3)
		es = append(es, e)
	}
	step := func(e *entry) error {
		if _, err := train.Batch(e.rng, e.batch, e.x1); err != nil {
			return err
		}
		_, _, err := e.tr.TrainStep(e.x1, e.batch)
		return err
	}
	for _, e := range es { // compile, and one warm step
		for range 2 {
			if err := step(e); err != nil {
				return err
			}
		}
	}
	for range *rounds {
		for _, e := range es {
			start := time.Now()
			for range *steps {
				if err := step(e); err != nil {
					return err
				}
			}
			e.times = append(e.times, time.Since(start).Seconds()/float64(*steps))
		}
	}
	base := 0.0
	for i, e := range es {
		med := median(e.times)
		if i == 0 {
			base = med
		}
		rs := make([]string, len(e.times))
		for j, t := range e.times {
			rs[j] = fmt.Sprintf("%.4f", t)
		}
		fmt.Printf("%-40s batch %3d  s/step %.4f (rounds %s)  img/s %.1f  ratio %.3f\n",
			e.name, e.batch, med, strings.Join(rs, " "), float64(e.batch)/med, med/base)
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---------------------------------------------------------------------------

func writePNG(path string, hwc []float32, size int) error {
	img, err := imageset.ToImage(hwc, size, size)
	if err != nil {
		return err
	}
	return savePNG(path, img)
}

// savePNG encodes img as a PNG file at path.
func savePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeGrid tiles the first cols*cols PNGs of dir (sorted by name), each
// enlarged scale times (nearest), with a 2-pixel grey gap.
func writeGrid(path, dir string, size, cols, scale int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".png") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	names = names[:min(len(names), cols*cols)]
	cell := size*scale + 2
	grid := image.NewNRGBA(image.Rect(0, 0, cols*cell+2, cols*cell+2))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)
	for k, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			return err
		}
		x0, y0 := 2+(k%cols)*cell, 2+(k/cols)*cell
		b := img.Bounds()
		for y := range size * scale {
			for x := range size * scale {
				grid.Set(x0+x, y0+y, img.At(b.Min.X+x/scale, b.Min.Y+y/scale))
			}
		}
	}
	return savePNG(path, grid)
}

// ---------------------------------------------------------------------------

// runFDCheck measures how the finite-difference time derivative of a
// flow-map model's average velocity, (u(x+εv, t+ε, d-ε) - u(x, t, d))/ε
// along training pairs, depends on ε: for each ε the RMS of d·(derivative)
// (the MeanFlow target's correction term) and its RMS change from the next
// larger ε.
func runFDCheck(args []string) error {
	fs := flag.NewFlagSet("fdcheck", flag.ExitOnError)
	var d dataFlags
	d.register(fs)
	run := fs.String("run", "", "run folder of a flow-map model (required)")
	n := fs.Int("n", 64, "pairs")
	_ = fs.Parse(args)
	ctx := context.Background()
	ck, _, err := modeldir.LoadCheckpoint(*run)
	if err != nil {
		return err
	}
	cfg, err := unet.ParseConfig(ck.Model)
	if err != nil {
		return err
	}
	backend, err := backend.Select(d.backend)
	if err != nil {
		return err
	}
	field, err := training.NewModelField(backend, unet.Model{Config: cfg}, ck, true)
	if err != nil {
		return err
	}
	train, _, err := d.load(ctx, false)
	if err != nil {
		return err
	}
	dim := d.size * d.size * 3
	x1 := make([]float32, *n*dim)
	rng := rand.New(rand.NewPCG(7, 7))
	if _, err := train.Batch(rng, *n, x1); err != nil {
		return err
	}
	x0 := make([]float32, *n*dim)
	_ = flow.GaussianNoiseBatch(77, 0, dim, x0)
	ts, ds := make([]float32, *n), make([]float32, *n)
	for i := range ts {
		a, b := rng.Float32(), rng.Float32()
		ts[i], ds[i] = min(a, b), max(a, b)-min(a, b)
	}
	xt, v := make([]float32, *n*dim), make([]float32, *n*dim)
	for i := range xt {
		t := ts[i/dim]
		xt[i] = (1-t)*x0[i] + t*x1[i]
		v[i] = x1[i] - x0[i]
	}
	base := make([]float32, *n*dim)
	if err := field.AverageVelocity(ctx, xt, ts, ds, base); err != nil {
		return err
	}
	var prev []float64
	for _, eps := range []float64{3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5} {
		xp, tp, dp := make([]float32, *n*dim), make([]float32, *n), make([]float32, *n)
		es := make([]float32, *n)
		for i := range tp {
			es[i] = float32(math.Max(math.Min(eps, float64(ds[i])), 1e-6))
			tp[i], dp[i] = ts[i]+es[i], ds[i]-es[i]
		}
		for i := range xp {
			xp[i] = xt[i] + es[i/dim]*v[i]
		}
		up := make([]float32, *n*dim)
		if err := field.AverageVelocity(ctx, xp, tp, dp, up); err != nil {
			return err
		}
		term := make([]float64, *n*dim)
		var rms, diff float64
		for i := range term {
			term[i] = float64(ds[i/dim]) * float64(up[i]-base[i]) / float64(es[i/dim])
			rms += term[i] * term[i]
			if prev != nil {
				diff += (term[i] - prev[i]) * (term[i] - prev[i])
			}
		}
		rms = math.Sqrt(rms / float64(len(term)))
		if prev != nil {
			fmt.Printf("eps %-6g  RMS d·du/dt %.4f  RMS change from previous eps %.4f\n", eps, rms, math.Sqrt(diff/float64(len(term))))
		} else {
			fmt.Printf("eps %-6g  RMS d·du/dt %.4f\n", eps, rms)
		}
		prev = term
	}
	return nil
}
