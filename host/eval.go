package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/quality"
	"github.com/fm-image/fm-image/sdk"
)

// Defaults of the eval command.
const (
	// DefaultEvalImages is eval's default --n.
	DefaultEvalImages = 1000
	// DefaultEvalSteps is eval's default --steps.
	DefaultEvalSteps = "1,2,4,8,16,32"
	// DefaultEvalSamplers is eval's default --sampler.
	DefaultEvalSamplers = "euler,heun"
	// EvalPlotFile is the default --plot file name inside the model directory.
	EvalPlotFile = "eval-swd.png"
	// holdoutFile and modelMetaFile are the names the engine gives the
	// hold-out list and the model description in a model directory.
	holdoutFile   = "holdout.txt"
	modelMetaFile = "model.json"
)

// evalFlags are the eval command's options.
type evalFlags struct {
	model       string
	ref         string
	train       string
	n           int
	steps       string
	samplers    string
	seed        int64
	patches     int
	projections int
	plot        string
	jsonOut     string
	force       bool
}

func newEvalCommand(g *globals) *cobra.Command {
	var ef evalFlags
	cmd := &cobra.Command{
		Use:   "eval --model MODEL_DIR [--ref DIR|LIST] [--n 1000] [--steps 1,2,4,8,16,32] [--sampler euler,heun]",
		Short: "Measure how close samples are to real images, per sampler and step count",
		Long: `Generate --n images with every sampler and step count given and compare them
with real reference images:

  SWD       sliced Wasserstein distance between 7x7 neighbourhoods of the
            Laplacian pyramid levels (image size down to 16x16), x10^3, per
            level and averaged (Karras et al. 2018); lower is better.
  NN ratio  mean L2 distance from each generated image to its nearest
            training image, divided by the same mean for the reference
            images: about 1 is healthy, much below 1 means copying.

The reference is --ref (a folder of images, or a file listing image paths
one per line), by default MODEL_DIR/holdout.txt written by train --holdout.
The training images are those of --train DIR, by default the model's data
folder (from MODEL_DIR/model.json), minus the reference files. The first row, "real", is the
floor: SWD between as many training images as --n (at most) and the
reference. Every configuration starts from the same noise (--seed).

The table goes to stdout; --plot (default MODEL_DIR/` + EvalPlotFile + `) receives a
plot of the average SWD against the number of model evaluations per image,
one line per sampler, and --json the figures as JSON.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runEval(cmd.Context(), g, ef) },
	}
	f := cmd.Flags()
	f.StringVar(&ef.model, "model", "", "trained model directory (required)")
	f.StringVar(&ef.ref, "ref", "", "reference images: a folder, or a file listing image paths one per line (default MODEL_DIR/"+holdoutFile+")")
	f.StringVar(&ef.train, "train", "", "folder of training images for the nearest-neighbour check, reference files excluded (default: the model's data folder)")
	f.IntVar(&ef.n, "n", DefaultEvalImages, fmt.Sprintf("images generated per configuration, %d..%d", sdk.MinImages, sdk.MaxImages))
	f.StringVar(&ef.steps, "steps", DefaultEvalSteps, "comma-separated integration step counts")
	f.StringVar(&ef.samplers, "sampler", DefaultEvalSamplers, "comma-separated integrators among "+strings.Join(sdk.Samplers(), ", "))
	f.Int64Var(&ef.seed, "seed", 0, "seed of the initial noise, the SWD draws and the real-vs-real subset")
	f.IntVar(&ef.patches, "patches", quality.DefaultPatchesPerImage, "SWD neighbourhoods per image and level")
	f.IntVar(&ef.projections, "projections", quality.DefaultProjections, "SWD random projections")
	f.StringVar(&ef.plot, "plot", "", "PNG file for the plot (default MODEL_DIR/"+EvalPlotFile+")")
	f.StringVar(&ef.jsonOut, "json", "", "also write the results as JSON to this file")
	f.BoolVar(&ef.force, "force", false, "overwrite existing --plot and --json files")
	return cmd
}

// evalConfig is one sampler and step count to evaluate.
type evalConfig struct {
	sampler string
	steps   int
}

// EvalRow is one line of eval's results.
type EvalRow struct {
	// Sampler is the integrator, or "real" for the real-vs-real floor.
	Sampler string `json:"sampler"`
	// Steps is the number of integration steps (0 for "real").
	Steps int `json:"steps"`
	// Evaluations is the number of model evaluations per image (0 for "real").
	Evaluations int `json:"evaluations"`
	// Images is the number of images compared with the reference.
	Images int `json:"images"`
	// SWD holds the SWD (x10^3) per pyramid level, finest first (see
	// EvalResult.Levels), and SWDAverage their mean.
	SWD        []float64 `json:"swd"`
	SWDAverage float64   `json:"swd_average"`
	// NNRatio is the nearest-neighbour ratio (generated images' mean
	// distance to the training set over the reference images'); absent for
	// "real" and when no training set was available.
	NNRatio *float64 `json:"nn_ratio,omitempty"`
	// NNMean is the generated images' mean nearest-training-image distance.
	NNMean *float64 `json:"nn_mean,omitempty"`
}

// EvalResult is what eval --json writes.
type EvalResult struct {
	// Model is the model directory evaluated.
	Model string `json:"model"`
	// Reference names the reference images and RefImages counts them.
	Reference string `json:"reference"`
	RefImages int    `json:"ref_images"`
	// TrainImages is the size of the training set of the nearest-neighbour
	// check (0 if none was available).
	TrainImages int `json:"train_images"`
	// RefNNMean is the reference images' mean distance to their nearest
	// training image, the ratio's denominator.
	RefNNMean *float64 `json:"ref_nn_mean,omitempty"`
	// Levels are the pyramid level sizes (side in pixels), finest first.
	Levels []int `json:"levels"`
	// Seed, Patches and Projections are the settings used.
	Seed        int64 `json:"seed"`
	Patches     int   `json:"patches"`
	Projections int   `json:"projections"`
	// Rows are the real-vs-real floor, then one row per configuration.
	Rows []EvalRow `json:"rows"`
}

// parseList parses a comma-separated flag value into its trimmed, non-empty,
// distinct items.
func parseList(flag, value string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if slices.Contains(out, item) {
			return nil, usagef("%s: %q is listed twice", flag, item)
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		return nil, usagef("%s: empty list", flag)
	}
	return out, nil
}

// evalConfigs validates the --steps and --sampler lists and returns every
// combination, samplers in the order given, steps in increasing order.
func evalConfigs(stepsFlag, samplersFlag string) ([]evalConfig, error) {
	stepItems, err := parseList("--steps", stepsFlag)
	if err != nil {
		return nil, err
	}
	var steps []int
	for _, s := range stepItems {
		v, err := strconv.Atoi(s)
		if err != nil || v < sdk.MinGenerateSteps || v > sdk.MaxGenerateSteps {
			return nil, usagef("--steps: %q is not a step count in %d..%d", s, sdk.MinGenerateSteps, sdk.MaxGenerateSteps)
		}
		if slices.Contains(steps, v) {
			return nil, usagef("--steps: %d is listed twice", v)
		}
		steps = append(steps, v)
	}
	slices.Sort(steps)
	samplers, err := parseList("--sampler", strings.ToLower(samplersFlag))
	if err != nil {
		return nil, err
	}
	var out []evalConfig
	for _, s := range samplers {
		if !slices.Contains(sdk.Samplers(), s) {
			return nil, usagef("--sampler: unknown sampler %q; valid samplers are %s", s, strings.Join(sdk.Samplers(), ", "))
		}
		for _, n := range steps {
			out = append(out, evalConfig{sampler: s, steps: n})
		}
	}
	return out, nil
}

// check validates the flags before anything runs, fills in the default
// --ref and --plot, and returns the configurations to evaluate.
func (ef *evalFlags) check() ([]evalConfig, error) {
	if ef.model == "" {
		return nil, usagef("--model is required: the trained model directory")
	}
	if exists, dir, err := isDir(ef.model); err != nil || !exists || !dir {
		return nil, usagef("--model %s does not exist or is not a directory", ef.model)
	}
	if ef.n < sdk.MinImages || ef.n > sdk.MaxImages {
		return nil, usagef("invalid --n: %d is not in %d..%d", ef.n, sdk.MinImages, sdk.MaxImages)
	}
	configs, err := evalConfigs(ef.steps, ef.samplers)
	if err != nil {
		return nil, err
	}
	if ef.patches < 1 {
		return nil, usagef("invalid --patches: %d must be positive", ef.patches)
	}
	if ef.projections < 1 {
		return nil, usagef("invalid --projections: %d must be positive", ef.projections)
	}
	if ef.ref == "" {
		ef.ref = filepath.Join(ef.model, holdoutFile)
		if _, err := os.Stat(ef.ref); err != nil {
			return nil, usagef("no --ref given and %s has no %s: train with --holdout, or pass --ref DIR", ef.model, holdoutFile)
		}
	} else if _, err := os.Stat(ef.ref); err != nil {
		return nil, usagef("--ref %s: %w", ef.ref, err)
	}
	if ef.train != "" {
		if exists, dir, err := isDir(ef.train); err != nil || !exists || !dir {
			return nil, usagef("--train %s does not exist or is not a directory", ef.train)
		}
	}
	if ef.plot == "" {
		ef.plot = filepath.Join(ef.model, EvalPlotFile)
	}
	if !strings.EqualFold(filepath.Ext(ef.plot), ".png") {
		return nil, usagef("--plot %s: the file name must end in .png", ef.plot)
	}
	if err := checkTarget(ef.plot, "--plot", ef.force); err != nil {
		return nil, err
	}
	if ef.jsonOut != "" {
		if err := checkTarget(ef.jsonOut, "--json", ef.force); err != nil {
			return nil, err
		}
	}
	return configs, nil
}

func runEval(ctx context.Context, g *globals, ef evalFlags) error {
	configs, err := ef.check()
	if err != nil {
		return err
	}
	swdOpts := quality.SWDOptions{PatchesPerImage: ef.patches, Projections: ef.projections, Seed: ef.seed}
	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	info, err := client.Info(ctx, ef.model)
	if err != nil {
		return interrupted(ctx, fmt.Errorf("eval: read model: %w", err), "interrupted")
	}
	h, w := info.Height, info.Width
	out := g.env.Stdout

	ref, refFiles, err := loadReference(ctx, ef.ref, h, w)
	if err != nil {
		return interrupted(ctx, err, "interrupted while loading the reference images")
	}
	refDesc, err := quality.Describe(ctx, ref, swdOpts)
	if err != nil {
		return interrupted(ctx, fmt.Errorf("eval: reference images: %w", err), "interrupted")
	}
	res := EvalResult{Model: ef.model, Reference: ef.ref, RefImages: len(ref.Images),
		Seed: ef.seed, Patches: ef.patches, Projections: ef.projections}
	fmt.Fprintf(out, "model %s (%s, %dx%d, step %d); reference: %d images from %s\n",
		ef.model, info.Arch, w, h, info.Step, len(ref.Images), ef.ref)

	train, trainSrc, err := loadTraining(ctx, ef, refFiles, h, w)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx, err, "interrupted while loading the training images")
		}
		fmt.Fprintf(g.env.Stderr, "fm-image: warning: no nearest-neighbour check: %v\n", err)
	}
	var refNN float64
	if train != nil {
		res.TrainImages = len(train.Images)
		nn, err := quality.NearestNeighbours(ctx, ref, *train, 0)
		if err != nil {
			return interrupted(ctx, fmt.Errorf("eval: nearest training images of the reference: %w", err), "interrupted")
		}
		refNN = quality.MeanDistance(nn)
		res.RefNNMean = &refNN
		fmt.Fprintf(out, "training set: %d images from %s; reference mean nearest-neighbour distance %.3f\n", len(train.Images), trainSrc, refNN)
	}

	// The floor: at most n training images against the reference.
	var floor *EvalRow
	if train != nil {
		if floor, err = realFloor(ctx, *train, refDesc, ef.n, ef.seed); err != nil {
			return interrupted(ctx, err, "interrupted")
		}
	}

	for _, l := range refDesc.Levels() {
		res.Levels = append(res.Levels, l[1])
	}
	tw := &evalTable{w: out, levels: res.Levels}
	tw.header()
	if floor != nil {
		tw.row(*floor)
		res.Rows = append(res.Rows, *floor)
	}
	for _, c := range configs {
		row, err := evalOne(ctx, g, client, ef, c, h, w, refDesc, train, refNN)
		if err != nil {
			return err
		}
		tw.row(row)
		res.Rows = append(res.Rows, row)
	}

	if err := writeEvalPlot(ef.plot, res); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote plot %s\n", ef.plot)
	if ef.jsonOut != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("eval: encode results: %w", err)
		}
		if err := writeFileAtomic(ef.jsonOut, append(data, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote results %s\n", ef.jsonOut)
	}
	return nil
}

// realFloor returns the SWD between min(n, len(train.Images)) training
// images, picked by a permutation seeded with seed, and the reference: what
// a perfect generator of n images would score.
func realFloor(ctx context.Context, train quality.Set, refDesc *quality.Descriptors, n int, seed int64) (*EvalRow, error) {
	perm := rand.New(rand.NewPCG(uint64(seed), 0xf100)).Perm(len(train.Images))
	sub := quality.Set{Height: train.Height, Width: train.Width}
	for _, i := range perm[:min(n, len(perm))] {
		sub.Images = append(sub.Images, train.Images[i])
	}
	desc, err := quality.Describe(ctx, sub, refDesc.Options())
	if err != nil {
		return nil, fmt.Errorf("eval: real-vs-real SWD: %w", err)
	}
	r, err := quality.Distance(ctx, desc, refDesc)
	if err != nil {
		return nil, fmt.Errorf("eval: real-vs-real SWD: %w", err)
	}
	return &EvalRow{Sampler: "real", Images: len(sub.Images), SWD: levelValues(r), SWDAverage: r.Average}, nil
}

// evalOne generates the images of one configuration and measures them.
func evalOne(ctx context.Context, g *globals, client *sdk.Client, ef evalFlags, c evalConfig, h, w int,
	refDesc *quality.Descriptors, train *quality.Set, refNN float64) (EvalRow, error) {
	method, err := flow.ParseMethod(c.sampler)
	if err != nil {
		return EvalRow{}, usagef("--sampler: %w", err)
	}
	req := sdk.GenerateRequest{ModelDir: ef.model, N: ef.n, Steps: c.steps, Seed: ef.seed, Sampler: c.sampler}
	bar := newBar(g, c.steps, fmt.Sprintf("sampling %s %d", c.sampler, c.steps))
	images, err := client.Generate(ctx, req, func(p sdk.GenerateProgress) { _ = bar.Set(p.Step) })
	_ = bar.Exit()
	fmt.Fprintln(g.env.Stderr)
	if err != nil {
		return EvalRow{}, interrupted(ctx, fmt.Errorf("eval: generate with %s in %d steps: %w", c.sampler, c.steps, asUsage(err)), "evaluation interrupted")
	}
	gen, err := decodeGenerated(images, h, w)
	if err != nil {
		return EvalRow{}, fmt.Errorf("eval: %s in %d steps: %w", c.sampler, c.steps, err)
	}
	desc, err := quality.Describe(ctx, gen, refDesc.Options())
	if err != nil {
		return EvalRow{}, interrupted(ctx, fmt.Errorf("eval: describe %s/%d samples: %w", c.sampler, c.steps, err), "evaluation interrupted")
	}
	r, err := quality.Distance(ctx, desc, refDesc)
	if err != nil {
		return EvalRow{}, interrupted(ctx, fmt.Errorf("eval: SWD of %s/%d samples: %w", c.sampler, c.steps, err), "evaluation interrupted")
	}
	row := EvalRow{Sampler: c.sampler, Steps: c.steps, Evaluations: method.Evaluations(c.steps), Images: len(gen.Images),
		SWD: levelValues(r), SWDAverage: r.Average}
	if train != nil {
		nn, err := quality.NearestNeighbours(ctx, gen, *train, 0)
		if err != nil {
			return EvalRow{}, interrupted(ctx, fmt.Errorf("eval: nearest training images of %s/%d samples: %w", c.sampler, c.steps, err), "evaluation interrupted")
		}
		mean := quality.MeanDistance(nn)
		row.NNMean = &mean
		if refNN > 0 {
			ratio := mean / refNN
			row.NNRatio = &ratio
		}
	}
	return row, nil
}

// levelValues returns the per-level SWD values of r.
func levelValues(r quality.SWDResult) []float64 {
	out := make([]float64, len(r.Levels))
	for i, l := range r.Levels {
		out[i] = l.SWD
	}
	return out
}

// decodeGenerated converts the generated PNGs into a quality.Set.
func decodeGenerated(images []sdk.Image, h, w int) (quality.Set, error) {
	s := quality.Set{Height: h, Width: w}
	for _, im := range images {
		m, err := png.Decode(bytes.NewReader(im.PNG))
		if err != nil {
			return s, fmt.Errorf("decode generated image %d: %w", im.Index, err)
		}
		dst := make([]float32, h*w*3)
		if err := imageset.FromImage(m, h, w, nil, dst); err != nil {
			return s, fmt.Errorf("convert generated image %d: %w", im.Index, err)
		}
		s.Images = append(s.Images, dst)
	}
	return s, nil
}

// loadReference loads the reference images at h x w from a folder or a list
// file, and returns them with their file paths as listed (or as found).
func loadReference(ctx context.Context, ref string, h, w int) (quality.Set, []string, error) {
	exists, dir, err := isDir(ref)
	if err != nil || !exists {
		return quality.Set{}, nil, usagef("--ref %s: cannot read it (%v)", ref, err)
	}
	if dir {
		data, err := imageset.LoadFolder(ctx, ref, imageset.LoadOptions{Height: h, Width: w})
		if err != nil {
			return quality.Set{}, nil, fmt.Errorf("eval: load --ref folder: %w", err)
		}
		s, err := datasetSet(data)
		return s, data.Files, err
	}
	files, err := readList(ref)
	if err != nil {
		return quality.Set{}, nil, usagef("--ref %s: %w", ref, err)
	}
	s := quality.Set{Height: h, Width: w}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return quality.Set{}, nil, fmt.Errorf("eval: load reference images: %w", err)
		}
		img, err := imageset.DecodeFile(f, 0)
		if err != nil {
			return quality.Set{}, nil, usagef("--ref %s: entry %d (%s): %w", ref, i+1, f, err)
		}
		dst := make([]float32, h*w*3)
		if err := imageset.FromImage(img, h, w, nil, dst); err != nil {
			return quality.Set{}, nil, usagef("--ref %s: entry %d (%s): %w", ref, i+1, f, err)
		}
		s.Images = append(s.Images, dst)
	}
	return s, files, nil
}

// readList reads a file of paths, one per line; blank lines and lines
// starting with # are skipped.
func readList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read list: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("the list names no image files")
	}
	return out, nil
}

// datasetSet copies every image of d into a quality.Set.
func datasetSet(d *imageset.Dataset) (quality.Set, error) {
	s := quality.Set{Height: d.Height, Width: d.Width, Images: make([][]float32, d.Len())}
	for i := range s.Images {
		s.Images[i] = make([]float32, d.Height*d.Width*3)
		if err := d.Image(i, s.Images[i]); err != nil {
			return s, fmt.Errorf("copy image %s: %w", d.Files[i], err)
		}
	}
	return s, nil
}

// loadTraining loads the training set of the nearest-neighbour check: the
// images of --train, else of the model's data folder, except the reference
// files. It returns the set and where it came from.
func loadTraining(ctx context.Context, ef evalFlags, refFiles []string, h, w int) (*quality.Set, string, error) {
	dir := ef.train
	exclude := map[string]bool{}
	for _, f := range refFiles {
		exclude[filepath.Clean(f)] = true
	}
	if dir == "" {
		meta, err := os.ReadFile(filepath.Join(ef.model, modelMetaFile))
		if err != nil {
			return nil, "", fmt.Errorf("cannot find the training data (pass --train DIR): %w", err)
		}
		var m struct {
			DataDir string `json:"data_dir"`
		}
		if err := json.Unmarshal(meta, &m); err != nil || m.DataDir == "" {
			return nil, "", fmt.Errorf("%s names no data_dir (pass --train DIR)", filepath.Join(ef.model, modelMetaFile))
		}
		dir = m.DataDir
	}
	data, err := imageset.LoadFolder(ctx, dir, imageset.LoadOptions{Height: h, Width: w})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("training data %s: %w (pass --train DIR)", dir, err)
		}
		return nil, "", fmt.Errorf("load training images: %w", err)
	}
	var keep []int
	excluded := 0
	for i, f := range data.Files {
		if exclude[filepath.Clean(f)] {
			excluded++
		} else {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil, "", fmt.Errorf("every image of %s is a reference image", dir)
	}
	if data, err = data.Subset(keep); err != nil {
		return nil, "", fmt.Errorf("select training images: %w", err)
	}
	s, err := datasetSet(data)
	if err != nil {
		return nil, "", err
	}
	src := dir
	if excluded > 0 {
		src = fmt.Sprintf("%s minus %d reference files", dir, excluded)
	}
	return &s, src, nil
}

// evalTable prints eval's table row by row, as results arrive.
type evalTable struct {
	w io.Writer
	// levels are the pyramid level widths, the SWD columns.
	levels []int
}

func (t *evalTable) header() {
	fmt.Fprintf(t.w, "%-8s %5s %5s", "sampler", "steps", "NFE")
	for _, l := range t.levels {
		fmt.Fprintf(t.w, " %8s", fmt.Sprintf("SWD%d", l))
	}
	fmt.Fprintf(t.w, " %8s %8s\n", "SWDavg", "NN-ratio")
}

func (t *evalTable) row(r EvalRow) {
	steps, nfe := strconv.Itoa(r.Steps), strconv.Itoa(r.Evaluations)
	if r.Sampler == "real" {
		steps, nfe = "-", "-"
	}
	fmt.Fprintf(t.w, "%-8s %5s %5s", r.Sampler, steps, nfe)
	for _, v := range r.SWD {
		fmt.Fprintf(t.w, " %8.2f", v)
	}
	ratio := "-"
	if r.NNRatio != nil {
		ratio = fmt.Sprintf("%.3f", *r.NNRatio)
	}
	fmt.Fprintf(t.w, " %8.2f %8s\n", r.SWDAverage, ratio)
}

// writeEvalPlot draws the average SWD against the model evaluations per
// image, one line per sampler, with the real-vs-real floor dashed.
func writeEvalPlot(path string, res EvalResult) error {
	var series []quality.Series
	var lines []quality.RefLine
	for _, r := range res.Rows {
		if r.Sampler == "real" {
			lines = append(lines, quality.RefLine{Name: "real vs real", Y: r.SWDAverage})
			continue
		}
		i := slices.IndexFunc(series, func(s quality.Series) bool { return s.Name == r.Sampler })
		if i < 0 {
			series = append(series, quality.Series{Name: r.Sampler})
			i = len(series) - 1
		}
		series[i].X = append(series[i].X, float64(r.Evaluations))
		series[i].Y = append(series[i].Y, r.SWDAverage)
	}
	img, err := quality.Plot(series, quality.PlotOptions{
		Title:  fmt.Sprintf("SWD vs sampling cost: %s (%d reference images)", filepath.Base(filepath.Clean(res.Model)), res.RefImages),
		XLabel: "model evaluations per image (log scale)",
		YLabel: "SWD x1e3 (average over pyramid levels, lower is better)",
		LogX:   true,
		Lines:  lines,
	})
	if err != nil {
		return fmt.Errorf("eval: plot: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("eval: encode plot: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create --plot directory: %w", err)
		}
	}
	return writeFileAtomic(path, buf.Bytes())
}
