// Package e2e drives the built fm-image binaries as a user would: signals,
// a killed host, a plugin run by hand. The model is the fake plugin
// (sdk/sdktest), installed as fm-image-plugin next to fm-image.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk/sdktest"
)

// Binaries built by TestMain.
var (
	cliBin        string // cmd/fm-image, with the fake plugin beside it
	realPluginBin string // cmd/fm-image-plugin
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fm-image-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	real := filepath.Join(dir, "real")
	for _, b := range []struct{ dir, name, pkg string }{
		{dir, "fm-image", "github.com/fm-image/fm-image/cmd/fm-image"},
		{dir, "fm-image-plugin", sdktest.PluginPackage},
		{real, "fm-image-plugin", "github.com/fm-image/fm-image/cmd/fm-image-plugin"},
	} {
		if _, err := sdktest.Build(b.dir, b.name, b.pkg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	cliBin = filepath.Join(dir, "fm-image")
	realPluginBin = filepath.Join(real, "fm-image-plugin")
	return m.Run()
}

// cli prepares an fm-image command; env entries are added to a minimal
// environment (no FM_IMAGE_PLUGIN, so the plugin beside fm-image is used).
func cli(ctx context.Context, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, cliBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// waitPID waits for the fake plugin to write its pid file.
func waitPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the plugin never started")
	return 0
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running %v later", pid, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mkdata(t *testing.T) (dir, data string) {
	t.Helper()
	dir = t.TempDir()
	data = filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// Ctrl-C during train: the CLI cancels, the plugin writes a checkpoint, the
// CLI exits 130 with a message and no plugin is left.
func TestInterruptTrain(t *testing.T) {
	dir, data := mkdata(t)
	model := filepath.Join(dir, "model")
	pidFile := filepath.Join(dir, "pid")
	cmd, _, stderr := cli(context.Background(),
		[]string{"FMIMAGE_FAKE_STEP_DELAY=10ms", "FMIMAGE_FAKE_SAVE_DELAY=500ms", "FMIMAGE_FAKE_PIDFILE=" + pidFile},
		"train", data, "--model", model, "--steps", "100000", "--checkpoint-every", "1000000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitPID(t, pidFile)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "fm-image: training interrupted at step") ||
		!strings.Contains(stderr.String(), "checkpoint saved in "+model+": continue with --resume") {
		t.Errorf("stderr lacks the interrupt message:\n%s", stderr)
	}
	info, err := (&sdktest.Generator{}).Info(context.Background(), model)
	if err != nil || info.Step == 0 {
		t.Errorf("no checkpoint after Ctrl-C: %+v, %v", info, err)
	}
	waitGone(t, pid, 3*time.Second)
}

// A second Ctrl-C does not wait for the checkpoint: the plugin is killed.
func TestSecondInterruptKills(t *testing.T) {
	dir, data := mkdata(t)
	pidFile := filepath.Join(dir, "pid")
	cmd, _, stderr := cli(context.Background(),
		[]string{"FMIMAGE_FAKE_STEP_DELAY=10ms", "FMIMAGE_FAKE_SAVE_DELAY=20s", "FMIMAGE_FAKE_PIDFILE=" + pidFile},
		"train", data, "--model", filepath.Join(dir, "model"), "--steps", "100000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitPID(t, pidFile)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for range 2 {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130; stderr:\n%s", err, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop after two interrupts", d)
	}
	if !strings.Contains(stderr.String(), "fm-image: killing the plugin") {
		t.Errorf("stderr:\n%s", stderr)
	}
	waitGone(t, pid, 2*time.Second)
}

// A SIGKILLed host cannot clean up: the plugin's watchdog must exit.
func TestKilledHostLeavesNoPlugin(t *testing.T) {
	dir, data := mkdata(t)
	model := filepath.Join(dir, "model")
	cmd, _, stderr := cli(context.Background(), nil, "train", data, "--model", model, "--steps", "3")
	if err := cmd.Run(); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	pidFile := filepath.Join(dir, "pid")
	cmd, _, _ = cli(context.Background(), []string{"FMIMAGE_FAKE_STEP_DELAY=50ms", "FMIMAGE_FAKE_PIDFILE=" + pidFile},
		"generate", "--model", model, "--steps", "10000", "--n", "1", "--out", filepath.Join(dir, "out"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitPID(t, pidFile)
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pid, 5*time.Second)
}

// After an ordinary run the plugin is gone as well.
func TestNormalRunLeavesNoPlugin(t *testing.T) {
	dir, data := mkdata(t)
	pidFile := filepath.Join(dir, "pid")
	cmd, stdout, stderr := cli(context.Background(), []string{"FMIMAGE_FAKE_PIDFILE=" + pidFile},
		"train", data, "--model", filepath.Join(dir, "m"), "--steps", "3")
	if err := cmd.Run(); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "trained 3/3 steps") {
		t.Errorf("stdout = %q", stdout)
	}
	waitGone(t, waitPID(t, pidFile), 2*time.Second)
}

func TestRealPluginRunByHand(t *testing.T) {
	cmd := exec.Command(realPluginBin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run by hand: %v, want exit status 1", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "fm-image-plugin: this is the fm-image plugin") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// The real plugin binary handshakes with the real CLI and answers the RPC
// (with whatever error its engine gives for an empty model directory).
func TestRealPluginHandshake(t *testing.T) {
	dir, _ := mkdata(t)
	cmd, _, stderr := cli(context.Background(), []string{"FM_IMAGE_PLUGIN=" + realPluginBin}, "info", "--model", dir)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), "fm-image: model "+dir+": ") ||
		!strings.Contains(stderr.String(), "not an fm-image model directory") {
		t.Fatalf("info on an empty dir: %v, want exit 1 and an error from the plugin; stderr:\n%s", err, stderr)
	}
}
