package host

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/evaluate"
	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/quality"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// evalFixture is a fake-trained 16x16 model of a folder of 6 two-colour
// images, 2 of them held out.
type evalFixture struct {
	fixture
	images  []string // all image files
	holdout []string // the held-out ones
}

func newEvalFixture(t *testing.T) evalFixture {
	t.Helper()
	f := evalFixture{fixture: newFixture(t)}
	for i := range 6 {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				c := color.NRGBA{uint8(40 * i), 200, uint8(255 - 30*i), 255}
				if x+y*i%3 > 8 {
					c = color.NRGBA{250, uint8(20 * i), 90, 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(f.data, "img"+string(rune('a'+i))+".png")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		f.images = append(f.images, path)
	}
	f.holdout = f.images[4:]
	f.model = filepath.Join(f.dir, "eval-model")
	req := sdk.TrainRequest{DataDir: f.data, ModelDir: f.model, Size: 16, Steps: 2, Holdout: 2.0 / 6}
	if err := (&sdktest.Generator{}).Train(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// loadSet reads PNG files into a 16x16 quality.Set as eval does.
func loadSet(t *testing.T, pngs [][]byte) quality.Set {
	t.Helper()
	s := quality.Set{Height: 16, Width: 16}
	for _, b := range pngs {
		m, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]float32, 16*16*3)
		if err := imageset.FromImage(m, 16, 16, nil, dst); err != nil {
			t.Fatal(err)
		}
		s.Images = append(s.Images, dst)
	}
	return s
}

func TestEvalTablePlotAndJSON(t *testing.T) {
	f := newEvalFixture(t)
	jsonPath := filepath.Join(f.dir, "res", "eval.json")
	if err := os.MkdirAll(filepath.Dir(jsonPath), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"eval", "--model", f.model, "--n", "3", "--steps", "2,1", "--sampler", "euler,heun",
		"--patches", "8", "--projections", "16", "--json", jsonPath, "--plugin", fakePlugin}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"reference: 2 images from the model's hold-out",
		"training set: 4 images from " + f.data + " minus 2 reference files",
		"sampler  steps   NFE    SWD16   SWDavg NN-ratio",
		"real         -     -",
		"euler        1     1", "euler        2     2", "heun         1     2", "heun         2     4",
		"wrote plot " + filepath.Join(f.model, EvalPlotFile),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res evaluate.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.RefImages != 2 || res.TrainImages != 4 || len(res.Levels) != 1 || res.Levels[0] != 16 || len(res.Rows) != 5 {
		t.Fatalf("results: %+v", res)
	}

	// The fake plugin's images do not depend on the sampler or the step
	// count, so every generated row must give the same figures, and they
	// must be those of a direct computation.
	var gen, ref, train [][]byte
	for i := range 3 {
		b, _ := sdktest.NoisePNG(16, 0, i)
		gen = append(gen, b)
	}
	for _, p := range f.images {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if p == f.holdout[0] || p == f.holdout[1] {
			ref = append(ref, b)
		} else {
			train = append(train, b)
		}
	}
	opts := quality.SWDOptions{PatchesPerImage: 8, Projections: 16}
	want, err := quality.SWD(context.Background(), loadSet(t, gen), loadSet(t, ref), opts)
	if err != nil {
		t.Fatal(err)
	}
	genNN, _ := quality.NearestNeighbours(context.Background(), loadSet(t, gen), loadSet(t, train), 1)
	refNN, _ := quality.NearestNeighbours(context.Background(), loadSet(t, ref), loadSet(t, train), 1)
	wantRatio, err := quality.MemorisationRatio(genNN, refNN)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows[1:] {
		if math.Abs(r.SWDAverage-want.Average) > 1e-9*want.Average || r.Images != 3 {
			t.Errorf("%s/%d: SWD %g over %d images, want %g over 3", r.Sampler, r.Steps, r.SWDAverage, r.Images, want.Average)
		}
		if r.NNRatio == nil || math.Abs(*r.NNRatio-wantRatio) > 1e-9 {
			t.Errorf("%s/%d: NN ratio %v, want %g", r.Sampler, r.Steps, r.NNRatio, wantRatio)
		}
	}
	// Noise is far from the two-colour images; the real floor is not.
	if floor := res.Rows[0]; floor.Sampler != "real" || floor.Images != 3 || !(floor.SWDAverage < 0.75*want.Average) {
		t.Errorf("floor row %+v; want 3 real images and SWD below 3/4 of the noise's %g", floor, want.Average)
	}

	// The plot is a PNG of the default size.
	b, err := os.ReadFile(filepath.Join(f.model, EvalPlotFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width != quality.DefaultPlotWidth || cfg.Height != quality.DefaultPlotHeight {
		t.Errorf("plot: %v, %dx%d", err, cfg.Width, cfg.Height)
	}

	// Existing outputs are kept unless --force.
	if code, _, stderr := run(t, args...); code != ExitUsage || !strings.Contains(stderr, "already exists (pass --force to overwrite)") {
		t.Errorf("rerun: exit %d, %s", code, stderr)
	}
	// A reference folder that is also the training folder leaves no
	// training image: eval warns and skips the nearest-neighbour check.
	code, stdout, stderr = run(t, append(args, "--force", "--ref", f.data, "--train", f.data)...)
	if code != 0 || !strings.Contains(stderr, "warning: no nearest-neighbour check: every image of "+f.data+" is a reference image") ||
		!strings.Contains(stdout, "reference: 6 images from "+f.data) {
		t.Errorf("rerun with --force and a --ref folder: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
}

func TestEvalArgumentErrors(t *testing.T) {
	f := newEvalFixture(t)
	bare := newFixture(t) // no holdout.txt
	badList := filepath.Join(f.dir, "bad-list.txt")
	list := "# reference images\n\n" + f.images[0] + "\n" + filepath.Join(f.dir, "gone.png") + "\n"
	if err := os.WriteFile(badList, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyList := filepath.Join(f.dir, "empty-list.txt")
	if err := os.WriteFile(emptyList, []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"eval", "--plugin", fakePlugin}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no model", nil, "no --model given, and no model in the current directory"},
		{"missing model", []string{"--model", filepath.Join(f.dir, "none")}, "does not exist"},
		{"n zero", []string{"--model", f.model, "--n", "0"}, "invalid --n: 0"},
		{"bad steps", []string{"--model", f.model, "--steps", "1,x"}, `--steps: "x" is not a step count`},
		{"repeated steps", []string{"--model", f.model, "--steps", "2,02"}, "--steps: 2 is listed twice"},
		{"empty steps", []string{"--model", f.model, "--steps", ","}, "--steps: empty list"},
		{"bad sampler", []string{"--model", f.model, "--sampler", "euler,leapfrog"}, `unknown sampler "leapfrog"`},
		{"no holdout", []string{"--model", bare.model}, "invalid --ref: none given and the model"},
		{"missing ref", []string{"--model", f.model, "--ref", filepath.Join(f.dir, "nope")}, "--ref " + filepath.Join(f.dir, "nope")},
		{"plot not png", []string{"--model", f.model, "--plot", filepath.Join(f.dir, "p.jpg")}, "must end in .png"},
		{"bad patches", []string{"--model", f.model, "--patches", "0"}, "invalid --patches"},
		{"missing listed file", []string{"--model", f.model, "--ref", badList}, "entry 2 (" + filepath.Join(f.dir, "gone.png") + ")"},
		{"empty list", []string{"--model", f.model, "--ref", emptyList}, "the list names no image files"},
		{"bad train", []string{"--model", f.model, "--train", f.file}, "--train " + f.file},
	} {
		code, _, stderr := run(t, append(base, tc.args...)...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, ExitUsage, tc.want)
		}
	}
}
