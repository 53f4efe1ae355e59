//go:build !xla

package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// xlaCompiledIn tells whether the xla backend is linked in (build tag xla).
const xlaCompiledIn = false

// newXLA reports that this binary was built without the XLA backend.
func newXLA(config string) (backends.Backend, error) {
	return nil, fmt.Errorf("the xla backend (config %q) is not compiled into this binary; "+
		"rebuild with `go build -tags xla` and install a PJRT plugin (nothing is downloaded at run time)", config)
}
