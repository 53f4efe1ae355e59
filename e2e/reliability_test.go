package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/sdk"
)

// trainTiny trains a tiny model for steps steps with the real plugin.
func trainTiny(t *testing.T, steps int) (dir, data, model string) {
	t.Helper()
	dir, data = mkdata(t)
	writeRealData(t, data, 6)
	model = filepath.Join(dir, "model")
	code, _, stderr := runCLI(t, "train", data, "--model", model, "--arch", "tiny", "--size", "16",
		"--steps", strconv.Itoa(steps), "--batch", "2", "--seed", "2")
	if code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	return dir, data, model
}

// A checkpoint write that fails (here: the file-size limit of `ulimit -f`)
// is reported, and the previous checkpoint stays intact and loadable.
func TestRealFailedCheckpointWriteKeepsPrevious(t *testing.T) {
	_, data, model := trainTiny(t, 4)
	before, err := os.ReadFile(filepath.Join(model, modeldir.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// 64 KiB is far below the size of a checkpoint (about 400 KB for tiny).
	script := `ulimit -f 64; exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "bash", "-c", script, cliBin, "train", data, "--model", model, "--steps", "8", "--resume")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, realEnv()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("train under ulimit -f succeeded; stderr:\n%s", stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "save checkpoint") || !strings.Contains(msg, "file too large") {
		t.Errorf("error does not say the checkpoint could not be written:\n%s", msg)
	}
	after, err := os.ReadFile(filepath.Join(model, modeldir.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the previous checkpoint changed after a failed write")
	}
	ck, _, err := modeldir.LoadCheckpoint(model)
	if err != nil || ck.Step != 4 {
		t.Fatalf("checkpoint after the failed write: step %v, err %v; want step 4", ck.Step, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(model, ".checkpoint-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// Eight goroutines calling Generate at once on one plugin get the same images
// as a lone call, and the plugin's memory stays bounded.
func TestRealConcurrentGenerate(t *testing.T) {
	_, _, model := trainTiny(t, 3)
	gen, err := sdk.Open(realPluginBin, sdk.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	ctx := context.Background()
	req := sdk.GenerateRequest{ModelDir: model, N: 6, Steps: 4, Seed: 11, Sampler: sdk.SamplerHeun}
	lone, err := gen.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([][]sdk.Image, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = gen.Generate(ctx, req, nil)
		}()
	}
	wg.Wait()
	for i := range 8 {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if len(results[i]) != len(lone) {
			t.Fatalf("goroutine %d: %d images, want %d", i, len(results[i]), len(lone))
		}
		for j := range lone {
			if !bytes.Equal(results[i][j].PNG, lone[j].PNG) {
				t.Errorf("goroutine %d: image %d differs from the lone call's", i, j)
			}
		}
	}
	peak := pluginPeakRSS(t, gen)
	t.Logf("plugin peak RSS after 9 concurrent generations: %d MiB", peak>>20)
	if peak > 1<<30 {
		t.Errorf("plugin peak RSS %d MiB, want under 1 GiB", peak>>20)
	}
}

// pluginPeakRSS reads the peak resident memory (VmHWM) of this process's
// fm-image-plugin children.
func pluginPeakRSS(t *testing.T, _ *sdk.Client) int64 {
	t.Helper()
	var peak int64
	for _, pid := range childPIDs(os.Getpid()) {
		status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				peak = max(peak, kb<<10)
			}
		}
	}
	if peak == 0 {
		t.Fatal("no plugin process found to measure")
	}
	return peak
}

// SIGTERM to the plugin during training: it cancels the run, which writes a
// checkpoint (periodic checkpoints are off here, so the file proves it), and
// exits; the CLI reports the failure.
func TestRealSIGTERMSavesCheckpoint(t *testing.T) {
	dir, data := mkdata(t)
	writeRealData(t, data, 4)
	model := filepath.Join(dir, "model")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, _, _ := cli(ctx, realEnv(), "train", data, "--model", model, "--arch", "tiny", "--size", "16",
		"--steps", "1000000", "--batch", "2", "--checkpoint-every", "1000000")
	stderr := &syncBuffer{} // read while the command writes
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	plugin := pluginOf(t, cmd.Process.Pid)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stderr.String(), "loaded 4 images") {
		if time.Now().After(deadline) {
			t.Fatalf("training never started:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // some steps
	if err := syscall.Kill(plugin, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, plugin, 15*time.Second)
	if cmd.ProcessState.ExitCode() == 0 {
		t.Error("train exited 0 after its plugin was terminated")
	}
	ck, _, err := modeldir.LoadCheckpoint(model)
	if err != nil {
		t.Fatalf("no checkpoint after SIGTERM: %v\n%s", err, stderr.String())
	}
	if ck.Step < 1 {
		t.Errorf("checkpoint at step %d", ck.Step)
	}
	t.Logf("SIGTERM at step %d; checkpoint saved", ck.Step)
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
