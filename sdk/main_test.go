package sdk_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/fm-image/fm-image/internal/fakegen"
)

// fakePlugin is the path of the fake plugin binary built by TestMain.
var fakePlugin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fm-image-sdk-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if fakePlugin, err = fakegen.Build(dir, "fakeplugin", fakegen.PluginPackage); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
