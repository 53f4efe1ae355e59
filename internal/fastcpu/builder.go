package fastcpu

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/notimplemented"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// node is one recorded op. Nodes are created in topological order (inputs first), so a node's
// index in Builder.nodes is a valid execution order.
type node struct {
	idx    int
	op     backends.OpType
	shape  shapes.Shape
	inputs []*node
	// Op parameters; which ones are set depends on op.
	axes  []int // reductions, Transpose permutation, BroadcastInDim axes, Reverse axes, Concatenate axis (axes[0]), Iota axis
	data  any   // constant flat data; *dotParams; *convParams; *sliceParams; *padParams
	name  string
	dtype dtypes.DType // ConvertDType target
}

// Builder records a computation graph for the fastcpu backend. It implements backends.Builder;
// ops this package does not implement return "fastcpu: op X not implemented".
type Builder struct {
	notimplemented.Builder

	backend  *Backend
	name     string
	nodes    []*node
	params   []*node
	compiled bool
}

// Compile-time check.
var _ backends.Builder = (*Builder)(nil)

func newBuilder(backend *Backend, name string) *Builder {
	b := &Builder{backend: backend, name: name}
	b.Builder.ErrFn = func(op backends.OpType) error {
		return errors.Errorf("fastcpu: op %s not implemented (builder %q)", op, name)
	}
	return b
}

// Name implements backends.Builder.
func (b *Builder) Name() string { return b.name }

// newNode records a node.
func (b *Builder) newNode(op backends.OpType, shape shapes.Shape, inputs ...*node) *node {
	n := &node{idx: len(b.nodes), op: op, shape: shape, inputs: inputs}
	b.nodes = append(b.nodes, n)
	return n
}

// in converts ops built by this builder to nodes, with an error naming the calling op otherwise.
func (b *Builder) in(opType backends.OpType, ops ...backends.Op) ([]*node, error) {
	if b.compiled {
		return nil, errors.Errorf("fastcpu: %s called on builder %q after Compile", opType, b.name)
	}
	out := make([]*node, len(ops))
	for i, op := range ops {
		n, ok := op.(*node)
		if !ok || n == nil || n.idx >= len(b.nodes) || b.nodes[n.idx] != n {
			return nil, errors.Errorf("fastcpu: %s: operand #%d (%T) was not built by this builder", opType, i, op)
		}
		out[i] = n
	}
	return out, nil
}

// OpShape implements backends.Builder.
func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	ns, err := b.in(backends.OpTypeInvalid, op)
	if err != nil {
		return shapes.Invalid(), err
	}
	return ns[0].shape, nil
}

// Parameter implements backends.Builder: an input of the computation.
func (b *Builder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (backends.Op, error) {
	if sharding != nil {
		return nil, errors.Errorf("fastcpu: parameter %q: sharding is not supported", name)
	}
	if _, err := makeFlat(shape.DType, 0); err != nil {
		return nil, errors.WithMessagef(err, "parameter %q", name)
	}
	n := b.newNode(backends.OpTypeParameter, shape)
	n.name = name
	b.params = append(b.params, n)
	return n, nil
}

// Constant implements backends.Builder: flat is a Go slice of a supported dtype, copied.
func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice {
		return nil, errors.Errorf("fastcpu: Constant needs a flat slice, got %T", flat)
	}
	dtype := dtypes.FromGoType(v.Type().Elem())
	shape := shapes.Make(dtype, dims...)
	if shape.Size() != v.Len() {
		return nil, errors.Errorf("fastcpu: Constant of %d values for shape %s", v.Len(), shape)
	}
	f, err := makeFlat(dtype, v.Len())
	if err != nil {
		return nil, errors.WithMessage(err, "Constant")
	}
	reflect.Copy(reflect.ValueOf(f), v)
	n := b.newNode(backends.OpTypeConstant, shape)
	n.data = f
	return n, nil
}

// Identity implements backends.Builder (a free alias of x).
func (b *Builder) Identity(x backends.Op) (backends.Op, error) {
	ns, err := b.in(backends.OpTypeIdentity, x)
	if err != nil {
		return nil, err
	}
	return b.newNode(backends.OpTypeIdentity, ns[0].shape, ns[0]), nil
}

// DeviceAssignment implements backends.Builder: only device 0 exists.
func (b *Builder) DeviceAssignment(devices ...backends.DeviceNum) error {
	for _, d := range devices {
		if d != 0 {
			return errors.Errorf("fastcpu: only device 0 exists, got %d", d)
		}
	}
	return nil
}

// OpCounts returns how many nodes of each op type the builder has recorded so far (for
// instrumentation: which ops a model's graphs use).
func (b *Builder) OpCounts() map[string]int {
	counts := make(map[string]int)
	for _, n := range b.nodes {
		counts[n.op.String()]++
	}
	return counts
}

// normAxes checks and normalises axes (negative counts from the end) for a rank.
func normAxes(what string, axes []int, rank int) ([]int, error) {
	out := slices.Clone(axes)
	for i, a := range out {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			return nil, errors.Errorf("fastcpu: %s: axis %d out of range for rank %d", what, axes[i], rank)
		}
		out[i] = a
	}
	return out, nil
}

// errorf builds an error prefixed with the package and op name.
func errorf(op backends.OpType, format string, args ...any) error {
	return errors.Errorf("fastcpu: %s: %s", op, fmt.Sprintf(format, args...))
}
