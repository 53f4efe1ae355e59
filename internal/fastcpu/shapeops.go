package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// sliceParams are Slice's arguments.
type sliceParams struct{ starts, limits, strides []int }

// padParams are Pad's arguments.
type padParams struct{ axes []backends.PadAxis }

// Reshape implements backends.Builder. At run time it is a free alias of its operand.
func (b *Builder) Reshape(x backends.Op, dimensions ...int) (backends.Op, error) {
	op := backends.OpTypeReshape
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ReshapeOp(ns[0].shape, dimensions)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	return b.newNode(op, shape, ns[0]), nil
}

// Transpose implements backends.Builder.
func (b *Builder) Transpose(x backends.Op, permutation ...int) (backends.Op, error) {
	op := backends.OpTypeTranspose
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.TransposeOp(ns[0].shape, permutation)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	n := b.newNode(op, shape, ns[0])
	n.axes = slices.Clone(permutation)
	return n, nil
}

// BroadcastInDim implements backends.Builder: input axis i maps to output axis broadcastAxes[i].
func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, broadcastAxes []int) (backends.Op, error) {
	op := backends.OpTypeBroadcastInDim
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	if err := shapeinference.BroadcastInDimOp(ns[0].shape, outputShape, broadcastAxes); err != nil {
		return nil, errorf(op, "%v", err)
	}
	n := b.newNode(op, outputShape.Clone(), ns[0])
	n.axes = slices.Clone(broadcastAxes)
	return n, nil
}

// Slice implements backends.Builder.
func (b *Builder) Slice(x backends.Op, starts, limits, strides []int) (backends.Op, error) {
	op := backends.OpTypeSlice
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	rank := ns[0].shape.Rank()
	if len(strides) == 0 {
		strides = make([]int, rank)
		for i := range strides {
			strides[i] = 1
		}
	}
	shape, err := shapeinference.SliceOp(ns[0].shape, starts, limits, strides)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	n := b.newNode(op, shape, ns[0])
	n.data = &sliceParams{slices.Clone(starts), slices.Clone(limits), slices.Clone(strides)}
	return n, nil
}

// Concatenate implements backends.Builder.
func (b *Builder) Concatenate(axis int, operands ...backends.Op) (backends.Op, error) {
	op := backends.OpTypeConcatenate
	ns, err := b.in(op, operands...)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, errorf(op, "no operands")
	}
	ins := make([]shapes.Shape, len(ns))
	for i, n := range ns {
		ins[i] = n.shape
	}
	shape, err := shapeinference.ConcatenateOp(ins, axis)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	if axis < 0 {
		axis += shape.Rank()
	}
	n := b.newNode(op, shape, ns...)
	n.axes = []int{axis}
	return n, nil
}

// Reverse implements backends.Builder.
func (b *Builder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	op := backends.OpTypeReverse
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	axes, err = normAxes("Reverse", axes, ns[0].shape.Rank())
	if err != nil {
		return nil, err
	}
	n := b.newNode(op, ns[0].shape, ns[0])
	n.axes = axes
	return n, nil
}

// Pad implements backends.Builder with XLA semantics: per axis, Interior fill values between
// elements, then Start/End values added (positive) or removed (negative) at the edges.
func (b *Builder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	op := backends.OpTypePad
	ns, err := b.in(op, x, fillValue)
	if err != nil {
		return nil, err
	}
	xs, fs := ns[0].shape, ns[1].shape
	if !fs.IsScalar() || fs.DType != xs.DType {
		return nil, errorf(op, "fill value must be a scalar of %s, got %s", xs.DType, fs)
	}
	if len(axesConfig) > xs.Rank() {
		return nil, errorf(op, "%d axes configurations for shape %s", len(axesConfig), xs)
	}
	conf := make([]backends.PadAxis, xs.Rank())
	copy(conf, axesConfig)
	shape := xs.Clone()
	for i, c := range conf {
		if c.Interior < 0 {
			return nil, errorf(op, "negative interior padding at axis %d", i)
		}
		d := xs.Dimensions[i]
		if d > 0 {
			d += (d - 1) * c.Interior
		}
		d += c.Start + c.End
		if d < 0 {
			return nil, errorf(op, "axis %d of %s padded with %+v has negative size", i, xs, c)
		}
		shape.Dimensions[i] = d
	}
	n := b.newNode(op, shape, ns[0], ns[1])
	n.data = &padParams{conf}
	return n, nil
}

// Iota implements backends.Builder: values 0, 1, ... along iotaAxis, repeated on other axes.
func (b *Builder) Iota(shape shapes.Shape, iotaAxis int) (backends.Op, error) {
	op := backends.OpTypeIota
	if _, err := b.in(op); err != nil {
		return nil, err
	}
	if iotaAxis < 0 {
		iotaAxis += shape.Rank()
	}
	if iotaAxis < 0 || iotaAxis >= shape.Rank() {
		return nil, errorf(op, "axis %d out of range for %s", iotaAxis, shape)
	}
	n := b.newNode(op, shape.Clone())
	n.axes = []int{iotaAxis}
	return n, nil
}

// ---- Kernels ----

// stridedCopy copies src into dst along a loop plan (operand 0 = dst, operand 1 = src).
func stridedCopy[T any](ec *execCtx, p *loopPlan, dst, src []T, size int) {
	rl, ss, ds := p.runLen(), p.runStride(1), p.runStride(0)
	if len(p.dims) == 2 && ss == 1 && ds == 1 {
		// Rows of contiguous runs (channel slices and concatenations of NHWC tensors): a plain
		// loop over rows, no per-run callback.
		s0, s1 := p.strides[0][0], p.strides[1][0]
		ec.parallelFor(p.dims[0], size, func(lo, hi int) {
			d, s := p.bases[0]+lo*s0, p.bases[1]+lo*s1
			for range hi - lo {
				copy(dst[d:d+rl], src[s:s+rl])
				d += s0
				s += s1
			}
		})
		return
	}
	ec.parallelFor(p.numRuns(), size, func(lo, hi int) {
		offs := make([]int, 2)
		p.forRuns(lo, hi, offs, func(offs []int) {
			d := dst[offs[0]:]
			s := src[offs[1]:]
			if ss == 1 && ds == 1 {
				copy(d[:rl], s[:rl])
				return
			}
			o := offs[1]
			for i := range rl {
				d[i*ds] = src[o]
				o += ss
			}
		})
	})
}

// copyAny dispatches stridedCopy on the flat slices' type.
func copyAny(ec *execCtx, p *loopPlan, dst, src any, size int) bool {
	switch d := dst.(type) {
	case []float32:
		stridedCopy(ec, p, d, src.([]float32), size)
	case []float64:
		stridedCopy(ec, p, d, src.([]float64), size)
	case []int8:
		stridedCopy(ec, p, d, src.([]int8), size)
	case []int16:
		stridedCopy(ec, p, d, src.([]int16), size)
	case []int32:
		stridedCopy(ec, p, d, src.([]int32), size)
	case []int64:
		stridedCopy(ec, p, d, src.([]int64), size)
	case []uint8:
		stridedCopy(ec, p, d, src.([]uint8), size)
	case []uint16:
		stridedCopy(ec, p, d, src.([]uint16), size)
	case []uint32:
		stridedCopy(ec, p, d, src.([]uint32), size)
	case []uint64:
		stridedCopy(ec, p, d, src.([]uint64), size)
	case []bool:
		stridedCopy(ec, p, d, src.([]bool), size)
	default:
		return false
	}
	return true
}

// transposePlan returns the plan that reads x [dims] as its permutation perm.
func transposePlan(dims, perm []int) *loopPlan {
	rm := rowMajorStrides(dims)
	outDims := make([]int, len(perm))
	st := make([]int, len(perm))
	for i, a := range perm {
		outDims[i] = dims[a]
		st[i] = rm[a]
	}
	return newLoopPlan(outDims, nil, st)
}

// execTranspose runs Transpose.
func execTranspose(ec *execCtx, n *node, out any, ins []any) error {
	p := transposePlan(n.inputs[0].shape.Dimensions, n.axes)
	if !copyAny(ec, p, out, ins[0], n.shape.Size()) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// execBroadcastInDim runs BroadcastInDim.
func execBroadcastInDim(ec *execCtx, n *node, out any, ins []any) error {
	in := n.inputs[0].shape.Dimensions
	outDims := n.shape.Dimensions
	rm := rowMajorStrides(in)
	st := make([]int, len(outDims))
	for i, a := range n.axes {
		if in[i] != 1 {
			st[a] = rm[i]
		}
	}
	p := newLoopPlan(outDims, nil, st)
	if !copyAny(ec, p, out, ins[0], n.shape.Size()) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// execSlice runs Slice.
func execSlice(ec *execCtx, n *node, out any, ins []any) error {
	sp := n.data.(*sliceParams)
	rm := rowMajorStrides(n.inputs[0].shape.Dimensions)
	st := make([]int, len(rm))
	base := 0
	for i := range rm {
		st[i] = rm[i] * sp.strides[i]
		base += rm[i] * sp.starts[i]
	}
	p := newLoopPlan(n.shape.Dimensions, []int{base}, st)
	if !copyAny(ec, p, out, ins[0], n.shape.Size()) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// execReverse runs Reverse.
func execReverse(ec *execCtx, n *node, out any, ins []any) error {
	dims := n.shape.Dimensions
	st := rowMajorStrides(dims)
	base := 0
	for _, a := range n.axes {
		base += (dims[a] - 1) * st[a]
		st[a] = -st[a]
	}
	p := newLoopPlan(dims, []int{base}, st)
	if !copyAny(ec, p, out, ins[0], n.shape.Size()) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// execConcatenate runs Concatenate: each operand is copied into its slab of the output.
func execConcatenate(ec *execCtx, n *node, out any, ins []any) error {
	axis := n.axes[0]
	outDims := n.shape.Dimensions
	outRM := rowMajorStrides(outDims)
	offset := 0
	for i, in := range n.inputs {
		dims := in.shape.Dimensions
		if dims[axis] == 0 {
			continue
		}
		p := copyPlan(dims, []int{offset * outRM[axis], 0}, outRM, rowMajorStrides(dims))
		if !copyAny(ec, p, out, ins[i], in.shape.Size()) {
			return errorf(n.op, "dtype %s not supported", n.shape.DType)
		}
		offset += dims[axis]
	}
	return nil
}

// execPad runs Pad: fill, then a strided copy of the kept part of the input.
func execPad(ec *execCtx, n *node, out any, ins []any) error {
	conf := n.data.(*padParams).axes
	inDims := n.inputs[0].shape.Dimensions
	outDims := n.shape.Dimensions
	inRM, outRM := rowMajorStrides(inDims), rowMajorStrides(outDims)
	if !fillAny(out, ins[1]) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	// For each axis: input indices [lo, hi) land inside the output at start + i*(interior+1).
	copyDims := make([]int, len(inDims))
	srcBase, dstBase := 0, 0
	dstSt := make([]int, len(inDims))
	for a, c := range conf {
		step := c.Interior + 1
		lo := 0
		if c.Start < 0 {
			lo = (-c.Start + step - 1) / step
		}
		hi := inDims[a]
		for hi > lo && c.Start+(hi-1)*step >= outDims[a] {
			hi--
		}
		if hi <= lo {
			return nil // nothing of the input survives
		}
		copyDims[a] = hi - lo
		srcBase += lo * inRM[a]
		dstBase += (c.Start + lo*step) * outRM[a]
		dstSt[a] = outRM[a] * step
	}
	size := 1
	for _, d := range copyDims {
		size *= d
	}
	q := copyPlan(copyDims, []int{dstBase, srcBase}, dstSt, inRM)
	if !copyAny(ec, q, out, ins[0], size) {
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// copyPlan builds a loop plan over dims for a copy: operand 0 (destination) and operand 1
// (source) have explicit strides and bases; axes are merged where both are contiguous.
func copyPlan(dims []int, bases []int, st0, st1 []int) *loopPlan {
	p := &loopPlan{strides: make([][]int, 2), bases: []int{bases[0], bases[1]}}
	for a, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(p.dims); n > 0 && p.strides[0][n-1] == st0[a]*d && p.strides[1][n-1] == st1[a]*d {
			p.dims[n-1] *= d
			p.strides[0][n-1], p.strides[1][n-1] = st0[a], st1[a]
			continue
		}
		p.dims = append(p.dims, d)
		p.strides[0] = append(p.strides[0], st0[a])
		p.strides[1] = append(p.strides[1], st1[a])
	}
	return p
}

// fillAny sets every element of dst to the scalar in fill (a one-element slice).
func fillAny(dst, fill any) bool {
	switch d := dst.(type) {
	case []float32:
		fillSlice(d, fill.([]float32)[0])
	case []float64:
		fillSlice(d, fill.([]float64)[0])
	case []int32:
		fillSlice(d, fill.([]int32)[0])
	case []int64:
		fillSlice(d, fill.([]int64)[0])
	case []uint32:
		fillSlice(d, fill.([]uint32)[0])
	case []uint64:
		fillSlice(d, fill.([]uint64)[0])
	case []int8:
		fillSlice(d, fill.([]int8)[0])
	case []uint8:
		fillSlice(d, fill.([]uint8)[0])
	case []bool:
		fillSlice(d, fill.([]bool)[0])
	default:
		return false
	}
	return true
}

func fillSlice[T any](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

// iotaFill writes the index along axis into every element.
func iotaFill[T number](dst []T, dims []int, axis int) {
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	n := dims[axis]
	for i := range dst {
		dst[i] = T((i / inner) % n)
	}
}

// execIota runs Iota.
func execIota(ec *execCtx, n *node, out any, ins []any) error {
	dims, axis := n.shape.Dimensions, n.axes[0]
	switch d := out.(type) {
	case []float32:
		iotaFill(d, dims, axis)
	case []float64:
		iotaFill(d, dims, axis)
	case []int32:
		iotaFill(d, dims, axis)
	case []int64:
		iotaFill(d, dims, axis)
	case []uint32:
		iotaFill(d, dims, axis)
	case []uint64:
		iotaFill(d, dims, axis)
	case []int8:
		iotaFill(d, dims, axis)
	case []uint8:
		iotaFill(d, dims, axis)
	default:
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}
