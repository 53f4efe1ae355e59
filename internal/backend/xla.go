//go:build xla

package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaCompiledIn tells whether the xla backend is linked in (build tag xla).
const xlaCompiledIn = true

// newXLA returns GoMLX's XLA/PJRT backend with config (the PJRT plugin name, e.g. "cpu" or
// "cuda", or a plugin's absolute path), with automatic plugin downloads disabled: the plugin
// must already be installed. When it is not, the error says what to install and where it was
// looked for.
func newXLA(config string) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	b, err := xla.New(config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", missingPluginHint(config), err)
	}
	return b, nil
}

// missingPluginHint says where PJRT plugins are looked for and what to install for config.
func missingPluginHint(config string) string {
	name, _, _ := strings.Cut(config, ",")
	if name == "" {
		name = "cpu"
	}
	where := "~/.local/lib/go-xla, /usr/local/lib/go-xla and the system's library directories (LD_LIBRARY_PATH, /etc/ld.so.conf)"
	if p, ok := os.LookupEnv(pjrt.PJRTPluginPathsEnv); ok {
		where = pjrt.PJRTPluginPathsEnv + "=" + p
	}
	found := "none"
	if plugins := pjrt.AvailablePlugins(); len(plugins) > 0 {
		var names []string
		for n, path := range plugins {
			names = append(names, n+" ("+path+")")
		}
		found = strings.Join(names, ", ")
	}
	if filepath.IsAbs(name) {
		return fmt.Sprintf("cannot load the PJRT plugin %s", name)
	}
	hint := fmt.Sprintf("the xla backend needs the PJRT plugin %q, installed as pjrt_c_api_%s_plugin.so in %s (plugins found: %s)",
		name, name, where, found)
	if name == "cuda" {
		hint += "; for NVIDIA GPUs that is the xla_cuda_plugin.so of the jax-cuda13-pjrt (or jax-cuda12-pjrt) Python package, " +
			"linked or copied under that name, with the NVIDIA CUDA libraries on the library path"
	}
	return hint
}
