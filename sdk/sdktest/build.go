package sdktest

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// PluginPackage is the import path of the fake plugin command.
const PluginPackage = "github.com/fm-image/fm-image/sdk/sdktest/fakeplugin"

// Build compiles the Go command pkg into dir/name with the go tool on PATH
// and returns the binary's path. Test mains use it to get plugin and CLI
// binaries.
func Build(dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}
