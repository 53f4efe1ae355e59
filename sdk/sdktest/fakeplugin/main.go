// Command fakeplugin is an fm-image plugin serving sdktest.Generator, for
// tests. Environment knobs: FMIMAGE_FAKE_STEP_DELAY and
// FMIMAGE_FAKE_SAVE_DELAY (Go durations), FMIMAGE_FAKE_CRASH_AT_STEP (exit
// abruptly at that Generate step), FMIMAGE_FAKE_PIDFILE (write the pid there).
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/fm-image/fm-image/plugin"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "fakeplugin: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	logger := plugin.NewLogger("fakeplugin")
	g := &sdktest.Generator{}
	var err error
	if v := os.Getenv("FMIMAGE_FAKE_STEP_DELAY"); v != "" {
		if g.StepDelay, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("FMIMAGE_FAKE_STEP_DELAY: %w", err)
		}
	}
	if v := os.Getenv("FMIMAGE_FAKE_SAVE_DELAY"); v != "" {
		if g.SaveDelay, err = time.ParseDuration(v); err != nil {
			return fmt.Errorf("FMIMAGE_FAKE_SAVE_DELAY: %w", err)
		}
	}
	if v := os.Getenv("FMIMAGE_FAKE_CRASH_AT_STEP"); v != "" {
		at, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FMIMAGE_FAKE_CRASH_AT_STEP: %w", err)
		}
		g.OnGenerateStep = func(step int) {
			if step == at {
				os.Exit(7)
			}
		}
	}
	if v := os.Getenv("FMIMAGE_FAKE_PIDFILE"); v != "" && plugin.LaunchedByHost() {
		if err := os.WriteFile(v, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("write pid file: %w", err)
		}
	}
	return plugin.Serve(g, logger)
}
