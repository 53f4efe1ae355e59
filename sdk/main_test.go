package sdk_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/fm-image/fm-image/sdk/sdktest"
)

// fakePlugin and realPlugin are the paths of the plugin binaries built by
// TestMain: the test fake (noise images) and the real fm-image-plugin.
var fakePlugin, realPlugin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		// Fuzzing runs only the pure validation targets: skip building the
		// plugins in every fuzz worker.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "fm-image-sdk-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if fakePlugin, err = sdktest.Build(dir, "fakeplugin", sdktest.PluginPackage); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if realPlugin, err = sdktest.Build(dir, "fm-image-plugin", "github.com/fm-image/fm-image/cmd/fm-image-plugin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
