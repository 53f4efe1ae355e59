//go:build xla

package cpubackend

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
	"github.com/pkg/errors"
)

// xlaCompiledIn tells whether the xla backend is linked in (build tag xla).
const xlaCompiledIn = true

// newXLA returns GoMLX's XLA/PJRT backend with config (the PJRT plugin name, e.g. "cpu"), with
// automatic plugin downloads disabled: the plugin must already be installed.
func newXLA(config string) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	b, err := xla.New(config)
	if err != nil {
		return nil, errors.WithMessagef(err, "cpubackend: creating xla backend with config %q (is a PJRT plugin installed?)", config)
	}
	return b, nil
}
