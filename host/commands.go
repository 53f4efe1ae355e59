package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/sdk"
)

// DefaultTrainDuration is the train command's budget for a new run given
// neither --steps nor --duration.
const DefaultTrainDuration = 20 * time.Minute

// flagName maps an sdk.ValidationError field to what the user typed.
func flagName(field string) string {
	switch field {
	case "data dir":
		return "DIR"
	case "backend", "model", "size", "steps", "duration", "batch", "lr", "checkpoint-every", "n", "sampler", "label", "guidance", "strength", "init", "holdout", "labels", "image", "add-new", "objective",
		"ref", "train", "patches", "projections":
		return "--" + field
	}
	return field
}

// asUsage turns a request validation error (from the request's own checks
// or from the plugin) into a usage error naming what the user typed: the
// flag of the field, or aliases[field] for fields a command's flags name
// differently (interpolate's --frames is the request's n) or where the
// flag's value says more (--init photo.png).
func asUsage(err error, aliases map[string]string) error {
	var ve *sdk.ValidationError
	if errors.As(err, &ve) {
		name, ok := aliases[ve.Field]
		if !ok {
			name = flagName(ve.Field)
		}
		return usagef("invalid %s: %s", name, ve.Problem)
	}
	return err
}

// isDir reports whether path exists, and whether it is a directory.
func isDir(path string) (exists, dir bool, err error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, st.IsDir(), nil
}

// interrupted converts a cancellation caused by ctx into interruptedError.
func interrupted(ctx context.Context, err error, msg string) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return interruptedError{msg}
	}
	return err
}

// newBar returns a progress bar on stderr. It redraws ten times a second on
// a terminal, and every 5 s when stderr is a file or a pipe (CI logs), where
// each redraw stays in the output.
func newBar(g *globals, total int, desc string) *progressbar.ProgressBar {
	every := 5 * time.Second
	if isTerminal(g.env.Stderr) {
		every = 100 * time.Millisecond
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(g.env.Stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(every),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newTrainCommand(g *globals) *cobra.Command {
	var req sdk.TrainRequest
	cmd := &cobra.Command{
		Use:   "train DIR [--model MODEL_DIR]",
		Short: "Train a model on the images in DIR",
		Long: `Train a model on the images in DIR and save it (with checkpoints) in MODEL_DIR,
by default DIR's name followed by "` + ModelSuffix + `" in the current directory
(fm-image train ./photos creates ./photos` + ModelSuffix + `).

An existing MODEL_DIR is refused unless --resume is given, which continues
the run up to --steps total steps. Ctrl-C stops training after the plugin has
written a checkpoint; resume it later with --resume. One run at a time may
train a model: a second one is refused while the first holds its lock.

Resuming keeps what the run began with: the same images (those of DIR that
were trained on, never the held-out ones; images added to DIR since are
reported and left out unless --add-new), and the same --arch, --size,
--batch, --lr, --seed, --holdout and --labels (give them equal to the
model's, or leave them out; a different value is refused). --steps may
change the run's total (the learning rate then decays from where it is to
its minimum at the new total, without jumping back up) and
--checkpoint-every may change; both changes are printed.`,
		Args: exactArgs(1, "one argument DIR (the folder of training images)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.DataDir = args[0]
			if cmd.Flags().Changed("steps") && req.Steps == 0 {
				return usagef("invalid --steps: must be in %d..%d, got 0 (leave it out for the default)", sdk.MinTrainSteps, sdk.MaxTrainSteps)
			}
			return runTrain(cmd.Context(), g, req)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ModelDir, "model", "", "model directory to create (or continue with --resume) (default: DIR's name + \""+ModelSuffix+"\" here)")
	f.StringVar(&req.Arch, "arch", "", "model preset name (default: the engine's default preset)")
	f.IntVar(&req.Size, "size", 0, fmt.Sprintf("image height = width in pixels, a multiple of %d in %d..%d (0 = the preset's size, 32 by default; with --resume, the model's)",
		sdk.SizeMultiple, sdk.MinSize, sdk.MaxSize))
	f.IntVar(&req.Steps, "steps", 0, fmt.Sprintf("total optimisation steps, %d..%d (with --duration, a cap; with --resume, the run's own total)",
		sdk.MinTrainSteps, sdk.MaxTrainSteps))
	f.DurationVar(&req.Duration, "duration", 0, fmt.Sprintf("train for this long (e.g. 20m, 1h30m): the learning-rate schedule is fitted to the steps it allows; with --resume, this long more (default %v for a new run without --steps)", DefaultTrainDuration))
	f.IntVar(&req.Batch, "batch", 0, fmt.Sprintf("batch size (1..%d, 0 = engine default)", sdk.MaxBatch))
	f.Float64Var(&req.LR, "lr", 0, "peak learning rate (0 = engine default)")
	f.Int64Var(&req.Seed, "seed", 0, "random seed")
	f.BoolVar(&req.Resume, "resume", false, "continue training the model in --model")
	f.IntVar(&req.CheckpointEvery, "checkpoint-every", 0, "steps between checkpoints (0 = engine default)")
	f.BoolVar(&req.Labels, "labels", false, "train a class-conditional model: each sub-folder of DIR is a class (generate --label NAME); it trains by plain flow matching, as the few-step objectives take no label")
	f.Float64Var(&req.Holdout, "holdout", 0, "fraction of the images kept out of training for evaluation (0 to 0.9; eval uses them as its reference)")
	f.StringVar(&req.Objective, "objective", "", "training objective: "+strings.Join(sdk.Objectives(), ", ")+" (default: the plugin's); meanflow and shortcut make a few-step model (generate --sampler flowmap, its default)")
	f.BoolVar(&req.AddNewImages, "add-new", false, "with --resume, also train on images added to DIR since the run began")
	return cmd
}

func runTrain(ctx context.Context, g *globals, req sdk.TrainRequest) error {
	if req.ModelDir == "" {
		dir, err := defaultModelDir(req.DataDir)
		if err != nil {
			return err
		}
		req.ModelDir = dir
		fmt.Fprintf(g.env.Stderr, "model directory: %s (--model chooses another)\n", dir)
	}
	exists, dir, err := isDir(req.DataDir)
	if err != nil {
		return usagef("data directory %s: %w", req.DataDir, err)
	}
	if !exists || !dir {
		return usagef("data directory %s does not exist or is not a directory", req.DataDir)
	}
	exists, dir, err = isDir(req.ModelDir)
	switch {
	case err != nil:
		return usagef("--model %s: %w", req.ModelDir, err)
	case exists && !dir:
		return usagef("--model %s exists and is not a directory", req.ModelDir)
	case exists && !req.Resume:
		return usagef("--model %s already exists; pass --resume to continue training it, or choose a new directory", req.ModelDir)
	case !exists && req.Resume:
		return usagef("--resume: model directory %s does not exist", req.ModelDir)
	}
	if req.Steps == 0 && req.Duration == 0 && !req.Resume {
		req.Duration = DefaultTrainDuration
	}
	if err := req.Validate(); err != nil {
		return asUsage(err, nil)
	}

	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()

	bar := newBar(g, max(req.Steps, 1), "training")
	var last sdk.TrainProgress
	err = client.Train(ctx, req, func(p sdk.TrainProgress) {
		last = p
		if p.Message != "" {
			_ = bar.Clear()
			fmt.Fprintf(g.env.Stderr, "%s\n", p.Message)
		}
		if req.Duration > 0 && p.TotalSteps == 0 {
			// The first seconds of a budget: the total is not known yet.
			if p.Step == 0 {
				return
			}
			bar.Describe(fmt.Sprintf("loss %.4f  %.0f img/s  step %d, timing the steps to fit %v", p.Loss, p.ImagesPerSec, p.Step, req.Duration))
			_ = bar.RenderBlank()
			return
		}
		if p.TotalSteps > 0 && p.TotalSteps != bar.GetMax() {
			bar.ChangeMax(p.TotalSteps) // resumed runs and budgets set their own totals
		}
		bar.Describe(fmt.Sprintf("loss %.4f  %.0f img/s  ETA %s", p.Loss, p.ImagesPerSec, p.ETA.Round(time.Second)))
		_ = bar.Set(p.Step)
	})
	_ = bar.Exit()
	fmt.Fprintln(g.env.Stderr)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Close waits for the plugin to write its checkpoint.
		if cerr := client.Close(); cerr != nil {
			return interruptedError{fmt.Sprintf("training interrupted at step %d; the plugin may not have saved a checkpoint: %v",
				last.Step, cerr)}
		}
		return interruptedError{fmt.Sprintf("training interrupted at step %d; checkpoint saved in %s: continue with --resume",
			last.Step, req.ModelDir)}
	}
	if err != nil {
		return fmt.Errorf("train: %w", asUsage(err, nil))
	}
	fmt.Fprintf(g.env.Stdout, "trained %d/%d steps; model saved in %s\n", last.Step, last.TotalSteps, req.ModelDir)
	return nil
}

// generateFlags are the generate command's options beyond the request.
type generateFlags struct {
	req   sdk.GenerateRequest
	out   string
	grid  string
	force bool
	init  string // image-to-image start image (file path)
}

func newGenerateCommand(g *globals) *cobra.Command {
	var gf generateFlags
	cmd := &cobra.Command{
		Use:   "generate [--model MODEL_DIR] --steps N --n K [--out OUT_DIR]",
		Short: "Sample images from a trained model",
		Long: `Sample K images from the model in MODEL_DIR by integrating the learned flow in N
steps, and write them as OUT_DIR/sample-0000.png, sample-0001.png, ...
(OUT_DIR is created). Existing files are not overwritten unless --force is
given. --grid also writes all samples tiled in one PNG.

Without --model, the model is the one model directory in the current
directory (as fm-image train DIR makes). Without --out, the images go to
./samples, or ./samples-2, ./samples-3, ... if that exists.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runGenerate(cmd.Context(), g, gf) },
	}
	f := cmd.Flags()
	f.StringVar(&gf.req.ModelDir, "model", "", "trained model directory (default: the one model in the current directory)")
	f.IntVar(&gf.req.Steps, "steps", 0, fmt.Sprintf("integration steps, %d..%d (required)", sdk.MinGenerateSteps, sdk.MaxGenerateSteps))
	f.IntVar(&gf.req.N, "n", 0, fmt.Sprintf("number of images, %d..%d (required)", sdk.MinImages, sdk.MaxImages))
	f.Int64Var(&gf.req.Seed, "seed", 0, "random seed of the initial noise")
	f.StringVar(&gf.req.Sampler, "sampler", "", "sampler: "+strings.Join(sdk.Samplers(), ", ")+" (default: the model's, flowmap for a few-step model, else euler)")
	f.StringVar(&gf.out, "out", "", "output directory (default: ./samples, or the first free ./samples-N)")
	f.StringVar(&gf.grid, "grid", "", "also write all samples tiled into this PNG file")
	f.BoolVar(&gf.force, "force", false, "overwrite existing sample/grid files")
	f.StringVar(&gf.req.Label, "label", "", "class to draw, for models trained with --labels (see fm-image info)")
	f.Float64Var(&gf.req.Guidance, "guidance", 0, fmt.Sprintf("classifier-free guidance scale with --label, 0..%g (0 = 1, plain conditional; 2-5 follow the class more strictly)", sdk.MaxGuidance))
	f.StringVar(&gf.init, "init", "", "image-to-image: start from this image (resized and centre-cropped to the model's size)")
	f.Float64Var(&gf.req.Strength, "strength", 0, "with --init, how far to depart from the image, 0..1 (0 = the image itself, 1 = ignore it)")
	return cmd
}

// checkTarget refuses to replace path unless force, and never a directory.
func checkTarget(path, flag string, force bool) error {
	exists, dir, err := isDir(path)
	switch {
	case err != nil:
		return usagef("%s: %w", flag, err)
	case dir:
		return usagef("%s: %s is a directory", flag, path)
	case exists && !force:
		return usagef("%s: %s already exists (pass --force to overwrite)", flag, path)
	}
	return nil
}

func runGenerate(ctx context.Context, g *globals, gf generateFlags) error {
	req := gf.req
	aliases := map[string]string{}
	if gf.init != "" {
		data, err := os.ReadFile(gf.init)
		if err != nil {
			return usagef("--init: %w", err)
		}
		if len(data) == 0 {
			return usagef("--init %s is empty", gf.init)
		}
		req.InitPNG = data
		aliases["init"] = "--init " + gf.init
	}
	if err := validateExceptModel(func() error { return req.Validate() }, &req.ModelDir); err != nil {
		return asUsage(err, aliases)
	}
	if gf.out == "" {
		dir, err := freeOutDir("samples")
		if err != nil {
			return err
		}
		gf.out = dir
	}
	exists, dir, err := isDir(gf.out)
	if err != nil {
		return usagef("--out %s: %w", gf.out, err)
	}
	if exists && !dir {
		return usagef("--out %s exists and is not a directory", gf.out)
	}
	for i := range req.N {
		if err := checkTarget(samplePath(gf.out, i), "--out", gf.force); err != nil {
			return err
		}
	}
	if gf.grid != "" {
		if !strings.EqualFold(filepath.Ext(gf.grid), ".png") {
			return usagef("--grid %s: the file name must end in .png", gf.grid)
		}
		if err := checkTarget(gf.grid, "--grid", gf.force); err != nil {
			return err
		}
	}

	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	if req.ModelDir, _, err = g.findModel(ctx, client, req.ModelDir); err != nil {
		return err
	}
	images, err := generateWithBar(ctx, g, client, req)
	if err != nil {
		return interrupted(ctx, fmt.Errorf("generate: %w", asUsage(err, aliases)), "generation interrupted; no images written")
	}
	if err := os.MkdirAll(gf.out, 0o755); err != nil {
		return fmt.Errorf("create --out directory: %w", err)
	}
	for _, img := range images {
		if err := writeFile(samplePath(gf.out, img.Index), img.PNG); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.env.Stdout, "wrote %d images to %s\n", len(images), gf.out)
	if gf.grid != "" {
		grid, err := makeGrid(images)
		if err != nil {
			return err
		}
		if dir := filepath.Dir(gf.grid); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create --grid directory: %w", err)
			}
		}
		if err := writeFile(gf.grid, grid); err != nil {
			return err
		}
		fmt.Fprintf(g.env.Stdout, "wrote grid %s\n", gf.grid)
	}
	return nil
}

func newInfoCommand(g *globals) *cobra.Command {
	var modelDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info [--model MODEL_DIR]",
		Short: "Describe a trained model",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := g.open()
			if err != nil {
				return err
			}
			defer client.Close()
			_, info, err := g.findModel(cmd.Context(), client, modelDir)
			if err != nil {
				return err
			}
			return printInfo(g, info, asJSON)
		},
	}
	cmd.Flags().StringVar(&modelDir, "model", "", "trained model directory (default: the one model in the current directory)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the information as JSON")
	return cmd
}

func printInfo(g *globals, info sdk.ModelInfo, asJSON bool) error {
	w := g.env.Stdout
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	fmt.Fprintf(w, "model:        %s\n", info.ModelDir)
	fmt.Fprintf(w, "arch:         %s\n", info.Arch)
	fmt.Fprintf(w, "image size:   %dx%d\n", info.Width, info.Height)
	fmt.Fprintf(w, "trained:      %d/%d steps\n", info.Step, info.TotalSteps)
	dataset := fmt.Sprintf("%d images", info.DatasetSize)
	if len(info.HoldoutFiles) > 0 {
		dataset += fmt.Sprintf(" (%d more held out)", len(info.HoldoutFiles))
	}
	if info.DataDir != "" {
		dataset += " from " + info.DataDir
	}
	fmt.Fprintf(w, "dataset:      %s\n", dataset)
	fmt.Fprintf(w, "parameters:   %d\n", info.Params)
	if len(info.Labels) > 0 {
		fmt.Fprintf(w, "labels:       %s\n", strings.Join(info.Labels, ", "))
	}
	sampling := info.Sampler
	if len(info.StepCounts) > 0 {
		sampling += fmt.Sprintf(" at %s steps", stepRanges(info.StepCounts))
	} else if info.Sampler == sdk.SamplerFlowMap {
		sampling += " at any number of steps"
	}
	fmt.Fprintf(w, "objective:    %s; samples by default with %s (every model also samples with euler, heun, midpoint, rk4)\n", info.Objective, sampling)
	if info.Warning != "" {
		fmt.Fprintf(w, "warning:      %s\n", info.Warning)
	}
	if info.TrainedOn != "" {
		fmt.Fprintf(w, "trained on:   %s\n", info.TrainedOn)
	}
	fmt.Fprintf(w, "backend:      %s\n", info.Backend)
	fmt.Fprintf(w, "config:       %s\n", info.ConfigJSON)
	return nil
}

// validateExceptModel runs a request's Validate before the model directory
// is known (it may be found in the current directory once the plugin runs):
// an empty *modelDir is checked as a placeholder and left empty.
func validateExceptModel(validate func() error, modelDir *string) error {
	if *modelDir != "" {
		return validate()
	}
	*modelDir = "."
	defer func() { *modelDir = "" }()
	return validate()
}

// findModel resolves a command's --model (see findModel) and describes the
// model, printing its warnings; a model the plugin cannot read is an error.
func (g *globals) findModel(ctx context.Context, gen sdk.Generator, flagValue string) (string, sdk.ModelInfo, error) {
	dir, err := findModel(ctx, gen, flagValue, func(msg string) { fmt.Fprintf(g.env.Stderr, "fm-image: %s\n", msg) })
	if err != nil {
		return "", sdk.ModelInfo{}, interrupted(ctx, err, "interrupted")
	}
	info, err := gen.Info(ctx, dir)
	if err != nil {
		return "", sdk.ModelInfo{}, interrupted(ctx, fmt.Errorf("model %s: %w", dir, asUsage(err, nil)), "interrupted")
	}
	if info.Warning != "" {
		fmt.Fprintf(g.env.Stderr, "fm-image: warning: %s\n", info.Warning)
	}
	return dir, info, nil
}

// stepRanges writes increasing step counts with runs of consecutive ones as
// ranges: [1 2 3 4 8] -> "1-4, 8".
func stepRanges(counts []int) string {
	var parts []string
	for i := 0; i < len(counts); {
		j := i
		for j+1 < len(counts) && counts[j+1] == counts[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, fmt.Sprintf("%d-%d", counts[i], counts[j]))
		} else {
			for _, n := range counts[i : j+1] {
				parts = append(parts, strconv.Itoa(n))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
