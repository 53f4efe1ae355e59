package e2e

import (
	"bytes"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Labels, guidance, image-to-image, inversion and interpolation from the CLI
// with the real plugin.
func TestRealFeaturesFromCLI(t *testing.T) {
	dir, data := mkdata(t)
	for _, class := range []string{"light", "dark"} {
		sub := filepath.Join(data, class)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		writeRealData(t, sub, 3)
	}
	model := filepath.Join(dir, "model")
	code, _, stderr := runCLI(t, "train", data, "--model", model, "--arch", "tiny", "--size", "16",
		"--steps", "6", "--batch", "4", "--labels")
	if code != 0 || !strings.Contains(stderr, "2 classes: dark, light") {
		t.Fatalf("train --labels exited %d:\n%s", code, stderr)
	}
	code, stdout, _ := runCLI(t, "info", "--model", model)
	if code != 0 || !strings.Contains(stdout, "labels:       dark, light") {
		t.Errorf("info does not list the labels:\n%s", stdout)
	}

	out := filepath.Join(dir, "labelled")
	if code, _, stderr := runCLI(t, "generate", "--model", model, "--steps", "2", "--n", "2", "--label", "dark", "--guidance", "3", "--out", out); code != 0 {
		t.Fatalf("generate --label exited %d: %s", code, stderr)
	}
	checkPNGs(t, out, 2, 16)
	if code, _, stderr := runCLI(t, "generate", "--model", model, "--steps", "2", "--n", "1", "--label", "purple", "--out", filepath.Join(dir, "x")); code == 0 || !strings.Contains(stderr, "dark, light") {
		t.Errorf("an unknown label: exit %d, %s", code, stderr)
	}

	// A broken init image is refused naming the flag and the file.
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "generate", "--model", model, "--steps", "2", "--n", "1", "--init", bad, "--strength", "0.5", "--out", filepath.Join(dir, "y")); code != 2 ||
		!strings.Contains(stderr, "fm-image: generate: invalid --init "+bad+": decode image: not a") || strings.Count(stderr, "generate:") != 1 {
		t.Errorf("a broken init image: exit %d, %q; want 2 and a message naming --init and the file once", code, stderr)
	}

	// Image-to-image at strength 0 gives back the (16x16) input.
	init := filepath.Join(data, "light", "img01.png")
	same := filepath.Join(dir, "same")
	if code, _, stderr := runCLI(t, "generate", "--model", model, "--steps", "3", "--n", "1", "--init", init, "--strength", "0", "--out", same); code != 0 {
		t.Fatalf("generate --init exited %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(init)
	b, _ := os.ReadFile(filepath.Join(same, "sample-0000.png"))
	ia, err1 := png.Decode(bytes.NewReader(a))
	ib, err2 := png.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for y := range 16 {
		for x := range 16 {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			if r1>>8 != r2>>8 || g1>>8 != g2>>8 || b1>>8 != b2>>8 {
				t.Fatalf("strength 0 changed pixel (%d,%d)", x, y)
			}
		}
	}

	code, stdout, stderr = runCLI(t, "invert", "--model", model, "--image", init, "--steps", "1,4,16", "--out", filepath.Join(dir, "recon.png"))
	if code != 0 {
		t.Fatalf("invert exited %d: %s", code, stderr)
	}
	var maes []float64
	for _, line := range strings.Split(stdout, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] != "steps" {
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("invert table line %q: %v", line, err)
			}
			maes = append(maes, v)
		}
	}
	if len(maes) != 3 || maes[2] > maes[0] {
		t.Errorf("invert table %v: want 3 rows with the error not growing with steps\n%s", maes, stdout)
	}

	strip, anim := filepath.Join(dir, "strip.png"), filepath.Join(dir, "walk.gif")
	if code, _, stderr := runCLI(t, "interpolate", "--model", model, "--seed", "1", "--to-seed", "2", "--frames", "4", "--steps", "2", "--out", strip, "--gif", anim); code != 0 {
		t.Fatalf("interpolate exited %d: %s", code, stderr)
	}
	f, err := os.Open(strip)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 4*cfg.Height {
		t.Errorf("strip %dx%d, %v: want 4 frames side by side", cfg.Width, cfg.Height, err)
	}
	g, err := os.Open(anim)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := gif.DecodeAll(g)
	g.Close()
	if err != nil || len(decoded.Image) != 6 { // 4 frames forth, 2 back
		t.Errorf("gif: %v, want 6 frames", err)
	}
}
