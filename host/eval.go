package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/evaluate"
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
		Use:   "eval [--model MODEL_DIR] [--ref DIR|LIST] [--n 1000] [--steps 1,2,4,8,16,32] [--sampler euler,heun]",
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
one per line), by default the images train --holdout kept out of training.
The training images are those of --train DIR, by default the model's data
folder, minus the reference files. The first row, "real", is the
floor: SWD between as many training images as --n (at most) and the
reference. Every configuration starts from the same noise (--seed).

The table goes to stdout; --plot (default MODEL_DIR/` + EvalPlotFile + `) receives a
plot of the average SWD against the number of model evaluations per image,
one line per sampler, and --json the figures as JSON.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runEval(cmd.Context(), g, ef) },
	}
	f := cmd.Flags()
	f.StringVar(&ef.model, "model", "", "trained model directory (default: the one model in the current directory)")
	f.StringVar(&ef.ref, "ref", "", "reference images: a folder, or a file listing image paths one per line (default: the images the model held out)")
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
func evalConfigs(stepsFlag, samplersFlag string) ([]evaluate.Config, error) {
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
	var out []evaluate.Config
	for _, s := range samplers {
		if !slices.Contains(sdk.Samplers(), s) {
			return nil, usagef("--sampler: unknown sampler %q; valid samplers are %s", s, strings.Join(sdk.Samplers(), ", "))
		}
		for _, n := range steps {
			out = append(out, evaluate.Config{Sampler: s, Steps: n})
		}
	}
	return out, nil
}

// check validates the flags that need no model before anything runs and
// returns the configurations to evaluate (the outputs are checked again once
// the model, and so the default --plot, is known).
func (ef *evalFlags) check() ([]evaluate.Config, error) {
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
	if ef.ref != "" {
		if _, err := os.Stat(ef.ref); err != nil {
			return nil, usagef("--ref %s: %w", ef.ref, err)
		}
	}
	if ef.train != "" {
		if exists, dir, err := isDir(ef.train); err != nil || !exists || !dir {
			return nil, usagef("--train %s does not exist or is not a directory", ef.train)
		}
	}
	if ef.plot != "" {
		if err := ef.checkOutputs(); err != nil {
			return nil, err
		}
	}
	return configs, nil
}

// checkOutputs refuses --plot and --json files that exist (without --force)
// or are not what their flag wants.
func (ef *evalFlags) checkOutputs() error {
	if !strings.EqualFold(filepath.Ext(ef.plot), ".png") {
		return usagef("--plot %s: the file name must end in .png", ef.plot)
	}
	if err := checkTarget(ef.plot, "--plot", ef.force); err != nil {
		return err
	}
	if ef.jsonOut != "" {
		if err := checkTarget(ef.jsonOut, "--json", ef.force); err != nil {
			return err
		}
	}
	return nil
}

func runEval(ctx context.Context, g *globals, ef evalFlags) error {
	configs, err := ef.check()
	if err != nil {
		return err
	}
	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	if ef.model, _, err = g.findModel(ctx, client, ef.model); err != nil {
		return err
	}
	if ef.plot == "" {
		ef.plot = filepath.Join(ef.model, EvalPlotFile)
	}
	if err := ef.checkOutputs(); err != nil {
		return err
	}
	out := g.env.Stdout
	tw := &evalTable{w: out}
	var bar *progressbar.ProgressBar
	endBar := func() {
		if bar != nil {
			_ = bar.Exit()
			fmt.Fprintln(g.env.Stderr)
			bar = nil
		}
	}
	res, err := evaluate.Run(ctx, client, evaluate.Options{
		ModelDir: ef.model, Reference: ef.ref, Train: ef.train, Images: ef.n, Configs: configs,
		Seed: ef.seed, Patches: ef.patches, Projections: ef.projections,
		OnStart: func(r evaluate.Result) {
			fmt.Fprintf(out, "model %s (%s, %dx%d, step %d); reference: %d images from %s\n",
				ef.model, r.Info.Arch, r.Info.Width, r.Info.Height, r.Info.Step, r.RefImages, r.Reference)
			if r.RefNNMean != nil {
				fmt.Fprintf(out, "training set: %d images from %s; reference mean nearest-neighbour distance %.3f\n", r.TrainImages, r.TrainSource, *r.RefNNMean)
			}
			tw.levels = r.Levels
			tw.header()
		},
		OnProgress: func(c evaluate.Config, p sdk.GenerateProgress) {
			if bar == nil {
				bar = newBar(g, p.TotalSteps, fmt.Sprintf("sampling %s %d", c.Sampler, c.Steps))
			}
			_ = bar.Set(p.Step)
		},
		OnRow: func(r evaluate.Row) {
			endBar()
			tw.row(r)
		},
		OnWarning: func(err error) { fmt.Fprintf(g.env.Stderr, "fm-image: warning: %v\n", err) },
	})
	endBar()
	if err != nil {
		return interrupted(ctx, fmt.Errorf("eval: %w", asUsage(err, nil)), "evaluation interrupted")
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
		if err := writeFile(ef.jsonOut, append(data, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote results %s\n", ef.jsonOut)
	}
	return nil
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

func (t *evalTable) row(r evaluate.Row) {
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

// writeEvalPlot writes the plot of res (evaluate.Plot) as PNG to path.
func writeEvalPlot(path string, res *evaluate.Result) error {
	img, err := evaluate.Plot(res)
	if err != nil {
		return err
	}
	data, err := imageset.EncodePNG(img)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create --plot directory: %w", err)
		}
	}
	return writeFile(path, data)
}
