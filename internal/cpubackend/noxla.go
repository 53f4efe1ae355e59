//go:build !xla

package cpubackend

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/pkg/errors"
)

// xlaCompiledIn tells whether the xla backend is linked in (build tag xla).
const xlaCompiledIn = false

// newXLA reports that this binary was built without the XLA backend.
func newXLA(config string) (backends.Backend, error) {
	return nil, errors.Errorf("cpubackend: the xla backend (config %q) is not compiled into this binary; "+
		"rebuild with `go build -tags xla` and install a PJRT plugin (nothing is downloaded at run time)", config)
}
