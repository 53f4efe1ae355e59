// Package fmcpu provides fm-image's simplego-based GoMLX backends: GoMLX's pure-Go backend
// (simplego) with the operations a convolutional U-Net needs to train filled in, and rewritten
// where simplego is slow. The default backend, package fastcpu, is the project's own rewrite;
// these remain selectable by name (see package backend) as references and benchmark baselines.
//
// It registers two GoMLX backends:
//
//   - Name ("fmcpu"), the default until package fastcpu replaced it. It wraps simplego and
//     (1) implements Reverse and Pad (positive, negative and interior padding), which simplego lacks
//     and which the gradients of Convolve, Slice and the pooling ops emit;
//     (2) lowers every ConvGeneral without groups (any axes layout, strides, paddings, input and
//     kernel dilations) to one patch extraction (Slice + Concatenate) and one DotGeneral, instead of
//     simplego's direct convolution loop;
//     (3) recognises the broadcast Mul followed by ReduceSum that graph emits for the gradient of a
//     DotGeneral and emits a DotGeneral instead, so no [M, K, N] product is materialised;
//     (4) splits long contractions with small outputs (kernel gradients), which simplego would run
//     on one core, into parallel partial products;
//     (5) runs simplego with ops_sequential (its parallel op scheduler can deadlock on U-Net graphs);
//     DotGeneral itself stays parallel.
//   - FilledInName ("fmcpu-filled"): simplego with only the missing pieces filled in (Reverse, Pad,
//     normalisation of empty strides/dilations in ConvGeneral) and convolutions left to simplego's
//     direct loop. It is the benchmark baseline.
//
// This package is GoMLX-facing: like GoMLX itself it wraps errors with github.com/pkg/errors.
package fmcpu

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/pkg/errors"
)

// Name is the name under which the project's default backend is registered with GoMLX
// (usable in GOMLX_BACKEND).
const Name = "fmcpu"

// FilledInName is the registered name of the baseline backend built by NewFilledIn.
const FilledInName = "fmcpu-filled"

// init registers both backends with GoMLX under their names.
func init() {
	backends.Register(Name, New)
	backends.Register(FilledInName, NewFilledIn)
}

// New returns the project's CPU backend: simplego (configured with ops_sequential, followed by
// config, a comma-separated list of simplego options such as "parallelism=2") wrapped so that
// Reverse and Pad work, convolutions run as matrix products and DotGeneral gradients are not
// materialised as broadcast products.
func New(config string) (backends.Backend, error) {
	return newBackend(Name, config, true)
}

// NewFilledIn returns simplego (configured with ops_sequential followed by config) with only the
// missing operations filled in: Reverse, Pad and normalisation of empty ConvGeneral
// strides/dilations. Convolutions use simplego's direct loop. It exists as the baseline for
// benchmarks of New.
func NewFilledIn(config string) (backends.Backend, error) {
	return newBackend(FilledInName, config, false)
}

func newBackend(name, config string, lower bool) (backends.Backend, error) {
	sgConfig := "ops_sequential"
	if config != "" {
		sgConfig += "," + config
	}
	inner, err := simplego.New(sgConfig)
	if err != nil {
		return nil, errors.Wrapf(err, "fmcpu: creating simplego backend for %q with config %q", name, sgConfig)
	}
	sg, ok := inner.(*simplego.Backend)
	if !ok {
		return nil, errors.Errorf("fmcpu: simplego.New returned %T, expected *simplego.Backend", inner)
	}
	caps := sg.Capabilities().Clone()
	caps.Operations[backends.OpTypeReverse] = true
	caps.Operations[backends.OpTypePad] = true
	return &Backend{Backend: sg, name: name, lower: lower, caps: caps}, nil
}

// Backend is the wrapper backend returned by New and NewFilledIn. It embeds simplego's backend
// (buffers, execution and every op it does not override come from there) and hands out Builders
// that override single ops.
type Backend struct {
	*simplego.Backend

	name  string
	lower bool // lower convolutions and Mul+ReduceSum to DotGeneral
	caps  backends.Capabilities
}

// Compile-time check.
var _ backends.Backend = (*Backend)(nil)

// Name implements backends.Backend: Name or FilledInName.
func (b *Backend) Name() string { return b.name }

// String implements backends.Backend; the same as Name.
func (b *Backend) String() string { return b.name }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	if b.lower {
		return "fm-image CPU backend (simplego with convolutions lowered to DotGeneral)"
	}
	return "simplego with Reverse and Pad filled in (benchmark baseline)"
}

// Capabilities implements backends.Backend: simplego's plus Reverse and Pad.
func (b *Backend) Capabilities() backends.Capabilities { return b.caps }

// Builder implements backends.Backend, returning a *Builder that wraps simplego's builder.
func (b *Backend) Builder(name string) backends.Builder {
	inner := b.Backend.Builder(name).(*simplego.Builder)
	return &Builder{
		Builder: inner,
		lower:   b.lower,
		muls:    make(map[backends.Op][2]backends.Op),
		bcasts:  make(map[backends.Op]broadcastRecord),
	}
}
