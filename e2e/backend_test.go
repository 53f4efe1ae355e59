package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvXLAPlugin names a plugin binary built with -tags xla (make build-xla
// makes one); the XLA case of TestRealBackendSelection needs it.
const EnvXLAPlugin = "FMIMAGE_XLA_PLUGIN"

// A backend that cannot be had is bad input: exit 2 before any work (no
// model directory made), with the valid names or what to install.
func TestRealBackendSelection(t *testing.T) {
	dir, data := mkdata(t)
	writeRealData(t, data, 2)
	for _, tc := range []struct {
		name, plugin, backend string
		want                  []string
	}{
		{"unknown", realPluginBin, "tpu9", []string{`unknown backend "tpu9"`, `valid backends: "fastcpu" (default), "fmcpu"`}},
		{"xla not compiled in", realPluginBin, "xla:cuda", []string{"not compiled into this binary", "-tags xla"}},
		{"xla without a PJRT plugin", os.Getenv(EnvXLAPlugin), "xla:cuda", []string{"pjrt_c_api_cuda_plugin.so", "PJRT_PLUGIN_LIBRARY_PATH", "jax-cuda13-pjrt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.plugin == "" {
				t.Skipf("$%s names no plugin built with -tags xla (make build-xla): the XLA error is not checked", EnvXLAPlugin)
			}
			model := filepath.Join(dir, "m-"+strings.ReplaceAll(tc.name, " ", "-"))
			code, _, stderr := runCLIWith(t, []string{"FM_IMAGE_PLUGIN=" + tc.plugin, "PJRT_PLUGIN_LIBRARY_PATH=" + t.TempDir()},
				"train", data, "--model", model, "--size", "16", "--steps", "1", "--backend", tc.backend)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if !strings.Contains(stderr, "invalid --backend") {
				t.Errorf("stderr %q does not name --backend", stderr)
			}
			if _, err := os.Stat(model); err == nil {
				t.Errorf("a refused backend left %s behind", model)
			}
		})
	}
}
