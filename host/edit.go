package host

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/sdk"
)

// parseSteps parses a comma-separated list of step counts ("1,2,4,8").
func parseSteps(flag, s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < sdk.MinGenerateSteps || n > sdk.MaxGenerateSteps {
			return nil, usagef("%s: %q is not a step count in %d..%d", flag, part, sdk.MinGenerateSteps, sdk.MaxGenerateSteps)
		}
		out = append(out, n)
	}
	return out, nil
}

func newInvertCommand(g *globals) *cobra.Command {
	var (
		req      sdk.InvertRequest
		image    string
		stepList string
		out      string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "invert [--model MODEL_DIR] --image FILE [--steps 1,2,4,8,16,32]",
		Short: "Run the flow backwards from an image to its noise, and forwards again",
		Long: `Invert an image: integrate the model's flow backwards from the image (t = 1)
to its noise (t = 0), then forwards again, and report for each step count how
far the regenerated image is from the original (mean absolute error over the
0..255 range) and the standard deviation of the recovered noise (about 1 when
the image looks like the training data). --out writes the regeneration at the
largest step count.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			steps, err := parseSteps("--steps", stepList)
			if err != nil {
				return err
			}
			if image == "" {
				return usagef("--image is required: the image to invert")
			}
			data, err := os.ReadFile(image)
			if err != nil {
				return usagef("--image: %w", err)
			}
			req.ImagePNG = data
			req.Steps = steps[0]
			aliases := map[string]string{"image": "--image " + image}
			if err := validateExceptModel(func() error { return req.Validate() }, &req.ModelDir); err != nil {
				return asUsage(err, aliases)
			}
			if out != "" {
				if err := checkTarget(out, "--out", force); err != nil {
					return err
				}
			}
			return runInvert(cmd.Context(), g, req, steps, out, aliases)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ModelDir, "model", "", "trained model directory (default: the one model in the current directory)")
	f.StringVar(&image, "image", "", "image to invert (required)")
	f.StringVar(&stepList, "steps", "1,2,4,8,16,32", "comma-separated step counts to try")
	f.StringVar(&req.Sampler, "sampler", sdk.SamplerEuler, "integrator: "+strings.Join(sdk.VelocitySamplers(), ", "))
	f.StringVar(&out, "out", "", "write the regenerated image (largest step count) to this PNG file")
	f.BoolVar(&force, "force", false, "overwrite --out if it exists")
	return cmd
}

func runInvert(ctx context.Context, g *globals, req sdk.InvertRequest, steps []int, out string, aliases map[string]string) error {
	method, err := flow.ParseMethod(cmp.Or(req.Sampler, sdk.SamplerEuler))
	if err != nil {
		return usagef("--sampler: %w", err)
	}
	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	if req.ModelDir, _, err = g.findModel(ctx, client, req.ModelDir); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "steps\tevaluations\tround-trip MAE\tnoise std\t\n")
	var last sdk.InvertResult
	for _, n := range steps {
		req.Steps = n
		res, err := client.Invert(ctx, req)
		if err != nil {
			return interrupted(ctx, fmt.Errorf("invert: %w", asUsage(err, aliases)), "inversion interrupted")
		}
		fmt.Fprintf(tw, "%d\t%d\t%.5f\t%.3f\t\n", n, 2*method.Evaluations(n), res.RoundTripMAE, res.NoiseStd)
		last = res
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out != "" {
		if err := writeFile(out, last.Reconstruction); err != nil {
			return err
		}
		fmt.Fprintf(g.env.Stdout, "wrote %s\n", out)
	}
	return nil
}

func newInterpolateCommand(g *globals) *cobra.Command {
	var (
		req   sdk.GenerateRequest
		out   string
		anim  string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "interpolate [--model MODEL_DIR] --seed A --to-seed B --frames N --steps S --out STRIP.png [--gif ANIM.gif]",
		Short: "Walk between two seeds' images: a strip or an animated GIF",
		Long: `Generate N images whose starting noises follow the spherical interpolation
between the noises of two seeds, so the first frame is seed A's image and the
last is seed B's. Writes them side by side as a strip (--out) and/or as an
animated GIF that plays forth and back (--gif).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Interpolate = true
			if err := validateExceptModel(func() error { return req.Validate() }, &req.ModelDir); err != nil {
				return asUsage(err, interpolateAliases())
			}
			if out == "" && anim == "" {
				return usagef("give --out STRIP.png and/or --gif ANIM.gif")
			}
			for _, t := range []struct{ path, flag, ext string }{{out, "--out", ".png"}, {anim, "--gif", ".gif"}} {
				if t.path == "" {
					continue
				}
				if !strings.EqualFold(filepath.Ext(t.path), t.ext) {
					return usagef("%s %s: the file name must end in %s", t.flag, t.path, t.ext)
				}
				if err := checkTarget(t.path, t.flag, force); err != nil {
					return err
				}
			}
			return runInterpolate(cmd.Context(), g, req, out, anim)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ModelDir, "model", "", "trained model directory (default: the one model in the current directory)")
	f.Int64Var(&req.Seed, "seed", 0, "seed of the first frame")
	f.Int64Var(&req.InterpolateSeed, "to-seed", 1, "seed of the last frame")
	f.IntVar(&req.N, "frames", 8, fmt.Sprintf("number of frames, %d..%d", sdk.MinImages, sdk.MaxImages))
	f.IntVar(&req.Steps, "steps", 20, fmt.Sprintf("integration steps, %d..%d", sdk.MinGenerateSteps, sdk.MaxGenerateSteps))
	f.StringVar(&req.Sampler, "sampler", sdk.SamplerHeun, "integrator: "+strings.Join(sdk.Samplers(), ", "))
	f.StringVar(&req.Label, "label", "", "class to draw, for models trained with --labels")
	f.Float64Var(&req.Guidance, "guidance", 0, "classifier-free guidance scale with --label (0 = 1)")
	f.StringVar(&out, "out", "", "write the frames side by side to this PNG file")
	f.StringVar(&anim, "gif", "", "write the frames as an animated GIF")
	f.BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

// interpolateAliases names interpolate's flags for the request fields it
// calls otherwise.
func interpolateAliases() map[string]string { return map[string]string{"n": "--frames"} }

// generateWithBar runs req on client with a progress bar.
func generateWithBar(ctx context.Context, g *globals, client *sdk.Client, req sdk.GenerateRequest) ([]sdk.Image, error) {
	bar := newBar(g, req.Steps, "sampling")
	images, err := client.Generate(ctx, req, func(p sdk.GenerateProgress) {
		if p.TotalSteps != bar.GetMax() {
			bar.ChangeMax(p.TotalSteps) // large requests are sampled in chunks
		}
		_ = bar.Set(p.Step)
	})
	_ = bar.Exit()
	fmt.Fprintln(g.env.Stderr)
	return images, err
}

func runInterpolate(ctx context.Context, g *globals, req sdk.GenerateRequest, out, anim string) error {
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
		return interrupted(ctx, fmt.Errorf("interpolate: %w", asUsage(err, interpolateAliases())), "interpolation interrupted; nothing written")
	}
	frames, err := decodeImages(images)
	if err != nil {
		return fmt.Errorf("interpolate: %w", err)
	}
	if out != "" {
		strip, err := imageset.Strip(frames)
		if err != nil {
			return err
		}
		data, err := imageset.EncodePNG(strip)
		if err != nil {
			return err
		}
		if err := writeFile(out, data); err != nil {
			return err
		}
		fmt.Fprintf(g.env.Stdout, "wrote %s (%d frames)\n", out, len(frames))
	}
	if anim != "" {
		data, err := imageset.AnimatedGIF(frames)
		if err != nil {
			return err
		}
		if err := writeFile(anim, data); err != nil {
			return err
		}
		fmt.Fprintf(g.env.Stdout, "wrote %s (%d frames)\n", anim, len(frames))
	}
	return nil
}
