// Package backend chooses the GoMLX backend fm-image computes with. Select is the single entry
// point the rest of the project uses; it never reaches the network.
//
// The backends it knows: "fastcpu" (Default: the project's own CPU backend, package fastcpu),
// "fmcpu" and "fmcpu-filled" (the simplego-based backends of package fmcpu), "go" (GoMLX's plain
// simplego) and "xla" (XLA/PJRT, only in binaries built with the build tag xla; its automatic
// download of PJRT plugins is disabled, so it needs a PJRT plugin installed).
package backend

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fmcpu"
)

// Default is the backend Select returns when nothing else is asked for: the project's own CPU
// backend, package fastcpu.
const Default = fastcpu.Name

// validNames lists the backend names Select accepts, for error messages.
const validNames = `"fastcpu" (default), "fmcpu", "fmcpu-filled", "go", "xla[:plugin]" (only in binaries built with -tags xla)`

// init makes Default GoMLX's own default, so that even code that calls backends.New() without
// $GOMLX_BACKEND gets the project's backend rather than XLA (which would try to download a PJRT
// plugin). Importing this package is what every binary of the project does to get a backend.
func init() {
	backends.DefaultConfig = Default
}

// Select returns the backend named by spec, formatted "<name>[:<config>]" as GoMLX's
// GOMLX_BACKEND is. An empty spec means $GOMLX_BACKEND if it is set, else Default. Unknown names
// return an error that lists the valid ones.
func Select(spec string) (backends.Backend, error) {
	if spec == "" {
		spec = os.Getenv(backends.ConfigEnvVar)
	}
	if spec == "" {
		spec = Default
	}
	name, config, _ := strings.Cut(spec, ":")
	var (
		b   backends.Backend
		err error
	)
	switch name {
	case fastcpu.Name:
		b, err = fastcpu.New(config)
	case fmcpu.Name:
		b, err = fmcpu.New(config)
	case fmcpu.FilledInName:
		b, err = fmcpu.NewFilledIn(config)
	case simplego.BackendName:
		b, err = simplego.New(config)
	case "xla":
		b, err = newXLA(config)
	default:
		return nil, fmt.Errorf("backend: unknown backend %q (from %q); valid backends: %s", name, spec, validNames)
	}
	if err != nil {
		return nil, fmt.Errorf("backend: selecting backend %q: %w", spec, err)
	}
	return b, nil
}
