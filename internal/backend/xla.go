//go:build xla

package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaCompiledIn tells whether the xla backend is linked in (build tag xla).
const xlaCompiledIn = true

// newXLA returns GoMLX's XLA/PJRT backend with config (the PJRT plugin name, e.g. "cpu"), with
// automatic plugin downloads disabled: the plugin must already be installed.
func newXLA(config string) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	b, err := xla.New(config)
	if err != nil {
		return nil, fmt.Errorf("creating xla backend with config %q (is a PJRT plugin installed?): %w", config, err)
	}
	return b, nil
}
