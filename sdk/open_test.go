package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func open(t *testing.T, opts sdk.Options) *sdk.Client {
	t.Helper()
	c, err := sdk.Open(fakePlugin, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestOpenChecksum(t *testing.T) {
	good := fileSHA256(t, fakePlugin)
	c := open(t, sdk.Options{SHA256: strings.ToUpper(good)})
	if _, err := c.Info(context.Background(), t.TempDir()); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Info on an empty dir = %v, want ErrNotFound", err)
	}

	bad := strings.Repeat("0", 64)
	_, err := sdk.Open(fakePlugin, sdk.Options{SHA256: bad})
	if err == nil || !strings.Contains(err.Error(), "does not match the expected "+bad) {
		t.Fatalf("Open with wrong checksum = %v, want a mismatch error", err)
	}
}

// Through the real process (AutoMTLS, plugin->host limits), a batch over
// 4 MiB arrives whole.
func TestOpenGenerateOver4MiB(t *testing.T) {
	model := trainedModel(t, &sdktest.Generator{}, 256)
	c := open(t, sdk.Options{})
	images, err := c.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 64, Steps: 2, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, img := range images {
		want, _ := sdktest.NoisePNG(256, 3, i)
		if !bytes.Equal(img.PNG, want) {
			t.Fatalf("image %d differs", i)
		}
		total += len(img.PNG)
	}
	if len(images) != 64 || total <= 4<<20 {
		t.Fatalf("%d images, %d bytes; want 64 and > 4 MiB", len(images), total)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{"", "no plugin path"},
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "not an executable file"},
	} {
		if _, err := sdk.Open(tc.path, sdk.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

// A plugin that dies mid-call yields a clear error quickly, not a hang.
func TestPluginCrashDuringGenerate(t *testing.T) {
	model := trainedModel(t, &sdktest.Generator{}, 8)
	c := open(t, sdk.Options{Env: []string{"FMIMAGE_FAKE_CRASH_AT_STEP=5", "FMIMAGE_FAKE_STEP_DELAY=10ms"}})
	start := time.Now()
	_, err := c.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 1000}, nil)
	if !errors.Is(err, sdk.ErrPluginExited) {
		t.Fatalf("err = %v, want ErrPluginExited", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("crash noticed after %v", d)
	}
	if !c.Exited() {
		t.Error("Exited() = false after the crash")
	}
	// The host carries on with a new plugin.
	c2 := open(t, sdk.Options{})
	images, err := c2.Generate(context.Background(), sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 3}, nil)
	if err != nil || len(images) != 2 {
		t.Fatalf("after the crash, a new plugin generated %d images, err %v", len(images), err)
	}
}

// Cancelling Train reaches the plugin; Close waits for its checkpoint.
func TestCancelTrainSavesCheckpointBeforeClose(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	c, err := sdk.Open(fakePlugin, sdk.Options{Env: []string{"FMIMAGE_FAKE_STEP_DELAY=5ms", "FMIMAGE_FAKE_SAVE_DELAY=2500ms"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = c.Train(ctx, sdk.TrainRequest{DataDir: dir, ModelDir: model, Steps: 100000, CheckpointEvery: 1000000},
		func(p sdk.TrainProgress) {
			if p.Step == 20 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Train err = %v, want context.Canceled", err)
	}
	// The checkpoint takes 2.5 s, longer than go-plugin's 2 s kill grace:
	// only Close's drain lets it land.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	info, err := (&sdktest.Generator{}).Info(context.Background(), model)
	if err != nil {
		t.Fatalf("no checkpoint after cancel: %v", err)
	}
	if info.Step < 20 || info.Step > 100 {
		t.Errorf("checkpoint at step %d, want about 20", info.Step)
	}
}

// Close gives up waiting after DrainTimeout and still stops the plugin.
func TestCloseDrainTimeout(t *testing.T) {
	dir := t.TempDir()
	c, err := sdk.Open(fakePlugin, sdk.Options{DrainTimeout: 200 * time.Millisecond,
		Env: []string{"FMIMAGE_FAKE_STEP_DELAY=5ms", "FMIMAGE_FAKE_SAVE_DELAY=30s"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_ = c.Train(ctx, sdk.TrainRequest{DataDir: dir, ModelDir: filepath.Join(dir, "m"), Steps: 1000}, func(p sdk.TrainProgress) {
		if p.Step == 2 {
			cancel()
		}
	})
	start := time.Now()
	err = c.Close()
	if err == nil || !strings.Contains(err.Error(), "calls still running after 200ms") {
		t.Errorf("Close = %v, want a drain timeout", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Close took %v", d)
	}
	if !c.Exited() {
		t.Error("plugin still running after Close")
	}
}

func TestPluginRunByHandRefused(t *testing.T) {
	cmd := exec.Command(fakePlugin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("run by hand: err = %v, want non-zero exit", err)
	}
	if !strings.Contains(string(out), "this is the fm-image plugin") {
		t.Errorf("output = %q", out)
	}
}
