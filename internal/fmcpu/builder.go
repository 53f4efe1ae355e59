package fmcpu

import (
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Builder is the computation builder of Backend. It embeds simplego's builder (every op it does
// not override, and Compile, come from there) and overrides Reverse, Pad, ConvGeneral, Mul,
// BroadcastInDim and ReduceSum.
//
// All the overrides compose simplego ops, so the ops they return are simplego nodes. Ops that a
// rewrite builds and then leaves unused are pruned by simplego at compile time.
type Builder struct {
	*simplego.Builder

	lower bool

	// muls maps the result of every Mul built here to its two operands, and bcasts every
	// BroadcastInDim result to its operand and axes: ReduceSum reads them to recognise
	// contractions.
	muls   map[backends.Op][2]backends.Op
	bcasts map[backends.Op]broadcastRecord
}

// broadcastRecord is how a BroadcastInDim result was built.
type broadcastRecord struct {
	x    backends.Op
	axes []int
}

// Compile-time check.
var _ backends.Builder = (*Builder)(nil)

// shape returns the shape of op, with context on error.
func (b *Builder) shape(op backends.Op, what string) (shapes.Shape, error) {
	s, err := b.OpShape(op)
	if err != nil {
		return s, errors.WithMessagef(err, "fmcpu: shape of %s", what)
	}
	return s, nil
}

// scalarZero returns a constant scalar 0 of dtype.
func (b *Builder) scalarZero(dtype dtypes.DType) (backends.Op, error) {
	goType := dtype.GoType()
	if goType == nil {
		return nil, errors.Errorf("fmcpu: no Go type for dtype %s", dtype)
	}
	flat := reflect.MakeSlice(reflect.SliceOf(goType), 1, 1).Interface()
	op, err := b.Constant(flat)
	if err != nil {
		return nil, errors.WithMessagef(err, "fmcpu: zero constant of %s", dtype)
	}
	return op, nil
}

// sliceAxis slices x along one axis, keeping the others whole.
func (b *Builder) sliceAxis(x backends.Op, dims []int, axis, start, limit, stride int) (backends.Op, error) {
	starts := make([]int, len(dims))
	limits := slices.Clone(dims)
	strides := make([]int, len(dims))
	for i := range strides {
		strides[i] = 1
	}
	starts[axis], limits[axis], strides[axis] = start, limit, stride
	return b.Slice(x, starts, limits, strides)
}

// Reverse implements backends.Builder: x with the given axes reversed, built from one Slice per
// element of each reversed axis and a Concatenate (Reverse is only applied to small kernel axes).
func (b *Builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	xShape, err := b.shape(x, "Reverse operand")
	if err != nil {
		return nil, err
	}
	rank := xShape.Rank()
	for _, axis := range axes {
		if axis < 0 {
			axis += rank
		}
		if axis < 0 || axis >= rank {
			return nil, errors.Errorf("fmcpu: Reverse axis %d out of range for shape %s", axis, xShape)
		}
		n := xShape.Dimensions[axis]
		if n <= 1 {
			continue
		}
		parts := make([]backends.Op, n)
		for i := range n {
			parts[i], err = b.sliceAxis(x, xShape.Dimensions, axis, n-1-i, n-i, 1)
			if err != nil {
				return nil, errors.WithMessagef(err, "fmcpu: Reverse(%s, axis=%d)", xShape, axis)
			}
		}
		x, err = b.Concatenate(axis, parts...)
		if err != nil {
			return nil, errors.WithMessagef(err, "fmcpu: Reverse(%s, axis=%d)", xShape, axis)
		}
	}
	return x, nil
}

// Pad implements backends.Builder with XLA semantics: per axis, Interior copies of fillValue are
// inserted between consecutive elements, then Start/End values are added (positive) or removed
// (negative) at the edges. fillValue must be a scalar. It is composed of Reshape, BroadcastInDim,
// Concatenate and Slice.
func (b *Builder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	xShape, err := b.shape(x, "Pad operand")
	if err != nil {
		return nil, err
	}
	fillShape, err := b.shape(fillValue, "Pad fill value")
	if err != nil {
		return nil, err
	}
	if !fillShape.IsScalar() || fillShape.DType != xShape.DType {
		return nil, errors.Errorf("fmcpu: Pad fill value must be a scalar of %s, got %s", xShape.DType, fillShape)
	}
	if len(axesConfig) > xShape.Rank() {
		return nil, errors.Errorf("fmcpu: Pad got %d axes configurations for shape %s", len(axesConfig), xShape)
	}
	dims := slices.Clone(xShape.Dimensions)
	wrap := func(err error, axis int) error {
		return errors.WithMessagef(err, "fmcpu: Pad(%s, %+v) at axis %d", xShape, axesConfig, axis)
	}
	fillOf := func(d []int) (backends.Op, error) {
		return b.BroadcastInDim(fillValue, shapes.Make(xShape.DType, d...), nil)
	}
	for axis, conf := range axesConfig {
		if conf.Interior < 0 {
			return nil, errors.Errorf("fmcpu: Pad with negative interior padding %d at axis %d", conf.Interior, axis)
		}
		n := dims[axis]
		// Interior: view as [..., n, 1, ...], append [..., n, p, ...] of fill on the new axis,
		// flatten to n*(1+p) and drop the trailing p.
		if p := conf.Interior; p > 0 && n > 1 {
			expDims := slices.Insert(slices.Clone(dims), axis+1, 1)
			xe, err := b.Reshape(x, expDims...)
			if err != nil {
				return nil, wrap(err, axis)
			}
			fillDims := slices.Clone(expDims)
			fillDims[axis+1] = p
			f, err := fillOf(fillDims)
			if err != nil {
				return nil, wrap(err, axis)
			}
			xe, err = b.Concatenate(axis+1, xe, f)
			if err != nil {
				return nil, wrap(err, axis)
			}
			flatDims := slices.Clone(dims)
			flatDims[axis] = n * (1 + p)
			if x, err = b.Reshape(xe, flatDims...); err != nil {
				return nil, wrap(err, axis)
			}
			newN := n + (n-1)*p
			if x, err = b.sliceAxis(x, flatDims, axis, 0, newN, 1); err != nil {
				return nil, wrap(err, axis)
			}
			dims[axis] = newN
			n = newN
		}
		// Negative edges: crop.
		start, limit := 0, n
		if conf.Start < 0 {
			start = -conf.Start
		}
		if conf.End < 0 {
			limit = n + conf.End
		}
		if limit < start || (limit == start && (conf.Start <= 0 && conf.End <= 0)) {
			return nil, errors.Errorf("fmcpu: Pad(%s, %+v) crops axis %d to nothing", xShape, axesConfig, axis)
		}
		switch {
		case limit == start:
			dims[axis] = 0 // Only the positive edges below remain.
		case start > 0 || limit < n:
			if x, err = b.sliceAxis(x, dims, axis, start, limit, 1); err != nil {
				return nil, wrap(err, axis)
			}
			dims[axis] = limit - start
		}
		// Positive edges: concatenate fill blocks.
		parts := make([]backends.Op, 0, 3)
		if conf.Start > 0 {
			d := slices.Clone(dims)
			d[axis] = conf.Start
			f, err := fillOf(d)
			if err != nil {
				return nil, wrap(err, axis)
			}
			parts = append(parts, f)
		}
		if dims[axis] > 0 {
			parts = append(parts, x)
		}
		if conf.End > 0 {
			d := slices.Clone(dims)
			d[axis] = conf.End
			f, err := fillOf(d)
			if err != nil {
				return nil, wrap(err, axis)
			}
			parts = append(parts, f)
		}
		switch {
		case len(parts) == 1:
			x = parts[0]
		case len(parts) > 1:
			if x, err = b.Concatenate(axis, parts...); err != nil {
				return nil, wrap(err, axis)
			}
		}
		dims[axis] += max(conf.Start, 0) + max(conf.End, 0)
	}
	return x, nil
}

// dtypeOf returns op's dtype (InvalidDType if op is not from this builder).
func (b *Builder) dtypeOf(op backends.Op) dtypes.DType {
	s, err := b.OpShape(op)
	if err != nil {
		return dtypes.InvalidDType
	}
	return s.DType
}

// Finalize implements backends.Builder: it releases simplego's builder and the side tables.
func (b *Builder) Finalize() {
	b.muls, b.bcasts = nil, nil
	b.Builder.Finalize()
}
