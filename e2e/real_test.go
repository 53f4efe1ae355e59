package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fm-image/fm-image/plugin/modeldir"
)

// These tests run the real plugin (the U-Net on the project's CPU backend)
// with the smallest preset, a handful of 16x16 images and a few steps.

// writeRealData fills data with n synthetic 16x16 PNGs plus files a loader
// must skip: an empty .png and a text file named .jpg.
func writeRealData(t *testing.T, data string, n int) {
	t.Helper()
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				img.SetNRGBA(x, y, color.NRGBA{uint8(25 * i), uint8(15 * x), uint8(15 * y), 255})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("img%02d.png", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(data, "empty.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "notes.jpg"), []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// realEnv makes the CLI use the real plugin.
func realEnv() []string { return []string{"FM_IMAGE_PLUGIN=" + realPluginBin} }

// runCLI runs fm-image with the real plugin to completion and returns its
// exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIWith(t, realEnv(), args...)
}

// runCLIWith runs fm-image with the environment entries env to completion.
func runCLIWith(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, out, errb := cli(ctx, env, args...)
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code == 0 {
		t.Fatalf("fm-image %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// checkPNGs checks that dir holds exactly n decodable size x size PNGs.
func checkPNGs(t *testing.T, dir string, n, size int) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%s holds %d files, want %d", dir, len(entries), n)
	}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Errorf("%s is %dx%d, want %dx%d", e.Name(), b.Dx(), b.Dy(), size, size)
		}
	}
}

// Train on a small generated folder, generate at 1 and at 8 steps, and check
// the PNGs, the grid and info.
func TestRealTrainGenerateInfo(t *testing.T) {
	dir, data := mkdata(t)
	writeRealData(t, data, 10)
	model := filepath.Join(dir, "model")

	code, _, stderr := runCLI(t, "train", data, "--model", model, "--arch", "tiny", "--size", "16",
		"--steps", "12", "--batch", "4", "--checkpoint-every", "5", "--seed", "7")
	if code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	for _, want := range []string{"loaded 10 images", "skipped", "empty.png", "notes.jpg"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("train output lacks %q:\n%s", want, stderr)
		}
	}

	for _, tc := range []struct {
		steps, n int
		sampler  string
	}{{1, 3, "euler"}, {8, 5, "heun"}} {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", tc.steps))
		grid := filepath.Join(dir, fmt.Sprintf("grid-%d.png", tc.steps))
		code, _, stderr := runCLI(t, "generate", "--model", model, "--steps", strconv.Itoa(tc.steps), "--n", strconv.Itoa(tc.n),
			"--sampler", tc.sampler, "--seed", "3", "--out", out, "--grid", grid)
		if code != 0 {
			t.Fatalf("generate --steps %d exited %d: %s", tc.steps, code, stderr)
		}
		checkPNGs(t, out, tc.n, 16)
		f, err := os.Open(grid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("grid: %v", err)
		}
		f.Close()
	}

	code, stdout, stderr := runCLI(t, "info", "--model", model)
	if code != 0 || !strings.Contains(stdout, "12/12") || !strings.Contains(stdout, "tiny") {
		t.Errorf("info exited %d:\n%s%s", code, stdout, stderr)
	}
}

// childPIDs lists the processes whose parent is parent (from /proc/*/stat,
// where the parent pid is the second field after the command name).
func childPIDs(parent int) []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(parent) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pluginOf returns the pid of the child process of parent (the plugin).
func pluginOf(t *testing.T, parent int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if pids := childPIDs(parent); len(pids) > 0 {
			return pids[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no plugin process found")
	return 0
}

// kill -9 of the plugin during training: the CLI fails quickly with a clear
// error, the last checkpoint is intact, and train --resume continues from it.
func TestRealKilledPluginKeepsCheckpoint(t *testing.T) {
	dir, data := mkdata(t)
	writeRealData(t, data, 6)
	model := filepath.Join(dir, "model")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd, _, stderr := cli(ctx, realEnv(), "train", data, "--model", model, "--arch", "tiny", "--size", "16",
		"--steps", "100000", "--batch", "2", "--checkpoint-every", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	plugin := pluginOf(t, cmd.Process.Pid)
	ckpt := filepath.Join(model, modeldir.CheckpointFile)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ck, _, err := modeldir.LoadCheckpoint(model); err == nil && ck.Step >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint at step >= 4 in %s", ckpt)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A second trainer on the same model is refused at once, naming the lock.
	started := time.Now()
	code, _, serr := runCLI(t, "train", data, "--model", model, "--steps", "100000", "--resume")
	if code == 0 || !strings.Contains(serr, "is being trained by process") || !strings.Contains(serr, modeldir.LockFile) {
		t.Errorf("second trainer: exit %d, stderr %q; want a refusal naming the lock", code, serr)
	}
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("the second trainer took %v to be refused", took)
	}
	killed := time.Now()
	if err := syscall.Kill(plugin, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if took := time.Since(killed); took > 10*time.Second {
		t.Errorf("the CLI took %v to notice the dead plugin", took)
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("train exited 0 after its plugin was killed")
	}
	if !strings.Contains(stderr.String(), "plugin") {
		t.Errorf("train error does not mention the plugin:\n%s", stderr)
	}
	ck, _, err := modeldir.LoadCheckpoint(model)
	if err != nil {
		t.Fatalf("checkpoint after kill -9: %v", err)
	}
	target := ck.Step + 2
	code, _, serr = runCLI(t, "train", data, "--model", model, "--steps", strconv.Itoa(target), "--resume")
	if code != 0 {
		t.Fatalf("resume exited %d: %s", code, serr)
	}
	after, _, err := modeldir.LoadCheckpoint(model)
	if err != nil || after.Step != target {
		t.Fatalf("after resume: step %v, err %v; want %d", after.Step, err, target)
	}
}

// The command the product is known by, as a new user types it: a model
// directory named after the folder, then generate, info and eval finding it
// without --model, and samples in a fresh folder each time.
func TestRealTrainAsTyped(t *testing.T) {
	work := t.TempDir()
	photos := filepath.Join(work, "photos")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	writeRealData(t, photos, 4)
	run := func(args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd, out, errb := cli(ctx, realEnv(), args...)
		cmd.Dir = work
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	code, out, errb := run("train", "./photos", "--steps", "3", "--size", "16")
	if code != 0 || !strings.Contains(errb, "model directory: photos-model") || !strings.Contains(out, "model saved in photos-model") {
		t.Fatalf("train ./photos: exit %d\nstdout %s\nstderr %s", code, out, errb)
	}
	for i, want := range []string{"samples", "samples-2"} {
		code, out, errb = run("generate", "--steps", "2", "--n", "1")
		if code != 0 || !strings.Contains(out, "wrote 1 images to "+want) || !strings.Contains(errb, "using the model in photos-model") {
			t.Fatalf("generate #%d: exit %d\nstdout %s\nstderr %s", i+1, code, out, errb)
		}
		checkPNGs(t, filepath.Join(work, want), 1, 16)
	}
	code, out, errb = run("info")
	if code != 0 || !strings.Contains(out, "trained:      3/3 steps") || !strings.Contains(out, "4 images") {
		t.Errorf("info: exit %d\nstdout %s\nstderr %s", code, out, errb)
	}
	// A second model makes the choice ambiguous: say so, list them.
	if code, _, errb = run("train", "./photos", "--model", "other", "--steps", "1", "--size", "16"); code != 0 {
		t.Fatalf("train a second model: %s", errb)
	}
	code, _, errb = run("generate", "--steps", "1", "--n", "1")
	if code != 2 || !strings.Contains(errb, "several models (other, photos-model): pass --model") {
		t.Errorf("generate with two models here: exit %d, stderr %s", code, errb)
	}
}
