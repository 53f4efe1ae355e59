package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// fakePlugin is the fake plugin binary built by TestMain.
var fakePlugin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fm-image-host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if fakePlugin, err = sdktest.Build(dir, "fakeplugin", sdktest.PluginPackage); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// testEnv is an Env with no plugin to find unless a test passes --plugin.
func testEnv(stdout, stderr *bytes.Buffer) Env {
	return Env{
		Stdout:     stdout,
		Stderr:     stderr,
		Getenv:     func(string) string { return "" },
		Executable: func() (string, error) { return "", errors.New("none") },
		LookPath:   func(string) (string, error) { return "", errors.New("none") },
	}
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, testEnv(&out, &errb))
	return code, out.String(), errb.String()
}

// fixture makes a data dir, a trained model (with the fake) and a file.
type fixture struct{ dir, data, model, file string }

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{dir: dir, data: filepath.Join(dir, "data"), model: filepath.Join(dir, "model"), file: filepath.Join(dir, "file")}
	if err := os.Mkdir(f.data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "train", f.data, "--model", f.model, "--size", "16", "--steps", "5", "--plugin", fakePlugin); code != 0 {
		t.Fatalf("train fixture: exit %d: %s", code, stderr)
	}
	return f
}

func TestArgumentValidation(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "out")
	taken := filepath.Join(f.dir, "taken.png")
	pngDir := filepath.Join(f.dir, "dir.png")
	if err := os.WriteFile(taken, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(pngDir, 0o755); err != nil {
		t.Fatal(err)
	}
	gen := func(extra ...string) []string {
		return append([]string{"generate", "--model", f.model, "--out", out, "--plugin", fakePlugin}, extra...)
	}
	empty := t.TempDir() // a working directory without a model
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
		cwd      string // working directory of the command ("" = unchanged)
	}{
		{"unknown command", []string{"paint"}, 2, `unknown command "paint"`, ""},
		{"unknown flag", []string{"train", "--colour"}, 2, "unknown flag: --colour", ""},
		{"train no dir", []string{"train", "--model", "m"}, 2, "want one argument DIR", ""},
		{"train no model, data folder is the root", []string{"train", "/", "--plugin", fakePlugin}, 2, "cannot name a model after the folder /: pass --model DIR", ""},
		{"train missing data", []string{"train", filepath.Join(f.dir, "nope"), "--model", "m"}, 2, "does not exist or is not a directory", ""},
		{"train existing model", []string{"train", f.data, "--model", f.model}, 2, "already exists; pass --resume", ""},
		{"train resume missing", []string{"train", f.data, "--model", filepath.Join(f.dir, "m2"), "--resume"}, 2, "--resume: model directory", ""},
		{"train model is file", []string{"train", f.data, "--model", f.file}, 2, "exists and is not a directory", ""},
		{"train bad size", []string{"train", f.data, "--model", filepath.Join(f.dir, "m2"), "--size", "33"}, 2, "invalid --size: must be a multiple of 8 in 8..512", ""},
		{"train bad steps", []string{"train", f.data, "--model", filepath.Join(f.dir, "m2"), "--steps", "0"}, 2, "invalid --steps: must be in 1..10000000, got 0", ""},
		{"train steps not a number", []string{"train", f.data, "--model", "m", "--steps", "many"}, 2, `invalid argument "many" for "--steps"`, ""},
		{"train bad lr", []string{"train", f.data, "--model", filepath.Join(f.dir, "m2"), "--lr", "-1"}, 2, "invalid --lr", ""},
		{"generate no model here", []string{"generate", "--steps", "2", "--n", "1", "--out", out, "--plugin", fakePlugin}, 2, "no --model given, and no model in the current directory", empty},
		{"generate no steps", gen("--n", "1"), 2, "invalid --steps: must be in 1..10000, got 0", ""},
		{"generate too many n", gen("--steps", "2", "--n", "1025"), 2, "invalid --n: must be in 1..1024, got 1025", ""},
		{"generate bad sampler", gen("--steps", "2", "--n", "1", "--sampler", "ddim"), 2, "invalid --sampler: must be one of euler, heun, midpoint, rk4", ""},
		{"generate missing model", []string{"generate", "--model", filepath.Join(f.dir, "nope"), "--steps", "1", "--n", "1", "--out", out, "--plugin", fakePlugin}, 2, "does not exist", ""},
		{"generate out is file", []string{"generate", "--model", f.model, "--steps", "1", "--n", "1", "--out", f.file}, 2, "--out " + f.file + " exists and is not a directory", ""},
		{"generate grid not png", gen("--steps", "1", "--n", "1", "--grid", filepath.Join(f.dir, "g.jpg")), 2, "must end in .png", ""},
		{"generate grid exists", gen("--steps", "1", "--n", "1", "--grid", taken), 2, "--grid: " + taken + " already exists (pass --force", ""},
		{"generate grid is dir", gen("--steps", "1", "--n", "1", "--grid", pngDir), 2, "--grid: " + pngDir + " is a directory", ""},
		{"generate extra arg", append(gen("--steps", "1", "--n", "1"), "extra"), 2, `unexpected argument "extra"`, ""},
		{"interpolate no frames", []string{"interpolate", "--model", f.model, "--frames", "0", "--out", filepath.Join(f.dir, "s.png"), "--plugin", fakePlugin}, 2, "invalid --frames: must be in 1..1024, got 0", ""},
		{"info no model here", []string{"info", "--plugin", fakePlugin}, 2, "no --model given, and no model in the current directory", empty},
		{"no plugin found", []string{"info", "--model", f.model}, 1, "cannot find the fm-image-plugin binary", ""},
		{"plugin missing", []string{"info", "--model", f.model, "--plugin", filepath.Join(f.dir, "nope")}, 2, "(from --plugin): stat", ""},
		{"bad checksum", []string{"info", "--model", f.model, "--plugin", fakePlugin, "--plugin-sha256", strings.Repeat("ab", 32)}, 1, "does not match the expected", ""},
		{"malformed checksum", []string{"info", "--model", f.model, "--plugin", fakePlugin, "--plugin-sha256", "xyz"}, 1, "want 64 hex digits", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cwd != "" {
				t.Chdir(tc.cwd)
			}
			code, _, stderr := run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit = %d, want %d (stderr %q)", code, tc.wantCode, stderr)
			}
			if !strings.HasPrefix(stderr, "fm-image: ") || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("rejected commands created --out %s", out)
	}
}

func TestGenerateWritesPNGs(t *testing.T) {
	f := newFixture(t)
	out := filepath.Join(f.dir, "out")
	grid := filepath.Join(f.dir, "grids", "grid.png")
	args := []string{"generate", "--model", f.model, "--steps", "3", "--n", "5", "--seed", "7", "--sampler", "rk4",
		"--out", out, "--grid", grid, "--plugin", fakePlugin}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote 5 images to "+out) || !strings.Contains(stdout, "wrote grid "+grid) {
		t.Errorf("stdout = %q", stdout)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Fatalf("out has %d entries, want 5", len(entries))
	}
	for i := range 5 {
		b, err := os.ReadFile(samplePath(out, i))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := sdktest.NoisePNG(16, 7, i)
		if !bytes.Equal(b, want) {
			t.Errorf("sample %d differs from the plugin's image", i)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != 16 || cfg.Height != 16 {
			t.Errorf("sample %d: %v, %dx%d", i, err, cfg.Width, cfg.Height)
		}
	}
	gb, err := os.ReadFile(grid)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(gb))
	// 5 images -> 3 columns x 2 rows of 16 px enlarged 4x to 64 px, with 2 px gaps.
	if err != nil || cfg.Width != 3*64+4*imageset.GridGap || cfg.Height != 2*64+3*imageset.GridGap {
		t.Errorf("grid: %v, %dx%d", err, cfg.Width, cfg.Height)
	}

	// A second run refuses to overwrite; --force overwrites.
	code, _, stderr = run(t, args...)
	if code != ExitUsage || !strings.Contains(stderr, "already exists (pass --force to overwrite)") {
		t.Errorf("rerun: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr = run(t, append(args, "--force")...); code != 0 {
		t.Errorf("rerun with --force: exit %d, %s", code, stderr)
	}
}

func TestTrainResumeAndInfo(t *testing.T) {
	f := newFixture(t)
	code, stdout, stderr := run(t, "train", f.data, "--model", f.model, "--steps", "9", "--resume", "--plugin", fakePlugin)
	if code != 0 || !strings.Contains(stdout, "trained 9/9 steps") {
		t.Fatalf("resume: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "loaded 0 images") {
		t.Errorf("plugin message not shown: %q", stderr)
	}
	b, err := os.ReadFile(fakePlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	code, stdout, stderr = run(t, "info", "--model", f.model, "--plugin", fakePlugin, "--plugin-sha256", hex.EncodeToString(sum[:]))
	if code != 0 {
		t.Fatalf("info: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"image size:   16x16", "trained:      9/9 steps", "backend:      fake"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info output %q lacks %q", stdout, want)
		}
	}
}

func TestFindPlugin(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fm-image")
	beside := filepath.Join(dir, PluginBinary)
	for _, p := range []string{exe, beside} {
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	onPath := "/usr/local/bin/fm-image-plugin"
	env := func(envPlugin, exePath string) Env {
		return Env{
			Getenv: func(k string) string {
				if k == EnvPlugin {
					return envPlugin
				}
				return ""
			},
			Executable: func() (string, error) { return exePath, nil },
			LookPath:   func(string) (string, error) { return onPath, nil },
		}
	}
	tests := []struct {
		name, flag, envPlugin, exe, want string
	}{
		{"flag wins", fakePlugin, beside, exe, fakePlugin},
		{"env next", "", fakePlugin, exe, fakePlugin},
		{"beside the executable", "", "", exe, beside},
		{"PATH last", "", "", filepath.Join(t.TempDir(), "fm-image"), onPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindPlugin(tc.flag, env(tc.envPlugin, tc.exe))
			if err != nil || got != tc.want {
				t.Errorf("FindPlugin = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestInterruptedGenerateExits130(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"generate", "--model", f.model, "--steps", "3", "--n", "1", "--out", filepath.Join(f.dir, "o"), "--plugin", fakePlugin}, testEnv(&out, &errb))
	if code != ExitInterrupted || !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(f.dir, "o", "sample-0000.png")); err == nil {
		t.Error("an interrupted generate wrote a sample")
	}
}

// info writes a model's step counts with consecutive runs as ranges.
func TestStepRanges(t *testing.T) {
	for _, tc := range []struct {
		counts []int
		want   string
	}{
		{[]int{1, 2, 4, 8, 16, 32}, "1, 2, 4, 8, 16, 32"},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 32}, "1-16, 32"},
		{[]int{1, 2, 3, 7, 8}, "1-3, 7, 8"},
		{[]int{4}, "4"},
		{nil, ""},
	} {
		if got := stepRanges(tc.counts); got != tc.want {
			t.Errorf("stepRanges(%v) = %q, want %q", tc.counts, got, tc.want)
		}
	}
}
