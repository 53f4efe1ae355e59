package cpubackend

import (
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/pkg/errors"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

// Default is the backend Select returns when nothing else is asked for: the project's own CPU
// backend, package fastcpu (about 20x faster than Name on the U-Net's training step).
const Default = fastcpu.Name

// validNames lists the backend names Select accepts, for error messages.
const validNames = `"fastcpu" (default), "fmcpu", "fmcpu-filled", "go", "xla[:plugin]" (only in binaries built with -tags xla)`

// Select returns the backend named by spec, formatted "<name>[:<config>]" as GoMLX's
// GOMLX_BACKEND is. An empty spec means $GOMLX_BACKEND if it is set, else Default.
//
// Accepted names: "fastcpu" (Default: the project's own backend, see package fastcpu), Name
// ("fmcpu": simplego with the gaps filled and convolutions lowered to matrix products),
// FilledInName ("fmcpu-filled"), "go" (plain simplego, with its own default scheduler) and "xla"
// (XLA/PJRT, only in binaries built with the build tag xla; its automatic download of PJRT plugins
// is disabled, so it needs a PJRT plugin installed). Unknown names return an error that lists the
// valid ones. Select never reaches the network.
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
	case Name:
		b, err = New(config)
	case FilledInName:
		b, err = NewFilledIn(config)
	case simplego.BackendName:
		b, err = simplego.New(config)
	case "xla":
		b, err = newXLA(config)
	default:
		return nil, errors.Errorf("cpubackend: unknown backend %q (from %q); valid backends: %s", name, spec, validNames)
	}
	if err != nil {
		return nil, errors.WithMessagef(err, "cpubackend: selecting backend %q", spec)
	}
	return b, nil
}
