package fmcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// Mul implements backends.Builder: simplego's Mul, remembered so that ReduceSum can recognise a
// contraction.
func (b *Builder) Mul(lhs, rhs backends.Op) (backends.Op, error) {
	op, err := b.Builder.Mul(lhs, rhs)
	if err != nil {
		return nil, err
	}
	if b.lower && b.muls != nil {
		b.muls[op] = [2]backends.Op{lhs, rhs}
	}
	return op, nil
}

// BroadcastInDim implements backends.Builder: simplego's BroadcastInDim, remembered so that
// ReduceSum can see through explicit broadcasts of Mul operands.
func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, broadcastAxes []int) (backends.Op, error) {
	op, err := b.Builder.BroadcastInDim(x, outputShape, broadcastAxes)
	if err != nil {
		return nil, err
	}
	if b.lower && b.bcasts != nil {
		b.bcasts[op] = broadcastRecord{x: x, axes: slices.Clone(broadcastAxes)}
	}
	return op, nil
}

// ReduceSum implements backends.Builder. If x is a Mul (built here) of two operands that,
// after broadcasting, form a contraction over at least one reduced axis — the pattern graph emits
// for the gradient of DotGeneral — it is emitted as one DotGeneral (plus Reshape/Transpose), and
// the broadcast product is never materialised. Otherwise it is simplego's ReduceSum.
func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	if b.lower {
		if pair, ok := b.muls[x]; ok {
			op, err := b.contractionAsDot(x, pair[0], pair[1], axes)
			if err != nil {
				return nil, errors.WithMessage(err, "fmcpu: rewriting ReduceSum(Mul) as DotGeneral")
			}
			if op != nil {
				return op, nil
			}
		}
	}
	return b.Builder.ReduceSum(x, axes...)
}

// operandView describes one Mul operand as seen through broadcasting: src is the tensor before
// broadcasting and full[j] tells whether output axis j of the Mul is carried by src (not
// broadcast, and of size > 1).
type operandView struct {
	src  backends.Op
	full []bool
}

// viewOperand returns how op covers the Mul output dims.
func (b *Builder) viewOperand(op backends.Op, outDims []int) (operandView, error) {
	v := operandView{src: op, full: make([]bool, len(outDims))}
	if rec, ok := b.bcasts[op]; ok {
		xs, err := b.shape(rec.x, "broadcast operand")
		if err != nil {
			return v, err
		}
		v.src = rec.x
		for i, j := range rec.axes {
			v.full[j] = outDims[j] > 1 && xs.Dimensions[i] == outDims[j]
		}
		return v, nil
	}
	s, err := b.shape(op, "Mul operand")
	if err != nil {
		return v, err
	}
	if s.Rank() != len(outDims) {
		return v, errors.Errorf("Mul operand %s does not match output rank %d", s, len(outDims))
	}
	for j, d := range s.Dimensions {
		v.full[j] = outDims[j] > 1 && d == outDims[j]
	}
	return v, nil
}

// contractionAsDot returns ReduceSum(Mul(lhs, rhs), axes) as a DotGeneral, or nil (and no error)
// if the pattern is not a contraction.
func (b *Builder) contractionAsDot(mul, lhs, rhs backends.Op, axes []int) (backends.Op, error) {
	mulShape, err := b.shape(mul, "Mul")
	if err != nil {
		return nil, err
	}
	if mulShape.DType != dtypes.Float32 && mulShape.DType != dtypes.Float64 {
		return nil, nil
	}
	dims := mulShape.Dimensions
	rank := len(dims)
	if rank == 0 {
		return nil, nil
	}
	reduced := make([]bool, rank)
	if len(axes) == 0 {
		for j := range reduced {
			reduced[j] = true
		}
	}
	for _, a := range axes {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			return nil, nil // Let simplego report the error.
		}
		reduced[a] = true
	}
	lv, err := b.viewOperand(lhs, dims)
	if err != nil {
		return nil, err
	}
	rv, err := b.viewOperand(rhs, dims)
	if err != nil {
		return nil, err
	}

	// Position of each Mul axis in the squeezed lhs/rhs.
	lPos, rPos := make([]int, rank), make([]int, rank)
	var lDims, rDims []int
	for j := range rank {
		lPos[j], rPos[j] = -1, -1
		if lv.full[j] {
			lPos[j] = len(lDims)
			lDims = append(lDims, dims[j])
		}
		if rv.full[j] {
			rPos[j] = len(rDims)
			rDims = append(rDims, dims[j])
		}
	}
	var lContract, rContract, lBatch, rBatch []int
	var batchAx, lCrossAx, rCrossAx []int // Mul axes of the DotGeneral output, in its order
	var finalDims []int
	for j := range rank {
		l, r := lv.full[j], rv.full[j]
		switch {
		case dims[j] == 1:
			// Trivial axis: present in the output only if not reduced.
		case l && r && reduced[j]:
			lContract = append(lContract, lPos[j])
			rContract = append(rContract, rPos[j])
		case l && r:
			lBatch = append(lBatch, lPos[j])
			rBatch = append(rBatch, rPos[j])
			batchAx = append(batchAx, j)
		case reduced[j]:
			return nil, nil // Sum over an axis only one operand carries: not a plain contraction.
		case l:
			lCrossAx = append(lCrossAx, j)
		case r:
			rCrossAx = append(rCrossAx, j)
		default:
			return nil, errors.Errorf("Mul axis %d (dim %d) is carried by neither operand", j, dims[j])
		}
		if !reduced[j] {
			finalDims = append(finalDims, dims[j])
		}
	}
	if len(lContract) == 0 {
		return nil, nil
	}

	squeeze := func(src backends.Op, d []int) (backends.Op, error) {
		s, err := b.shape(src, "Mul operand source")
		if err != nil {
			return nil, err
		}
		if slices.Equal(s.Dimensions, d) {
			return src, nil
		}
		if len(d) == 0 {
			return b.Reshape(src)
		}
		return b.Reshape(src, d...)
	}
	l, err := squeeze(lv.src, lDims)
	if err != nil {
		return nil, err
	}
	r, err := squeeze(rv.src, rDims)
	if err != nil {
		return nil, err
	}
	dot, err := b.dotGeneral(l, lContract, lBatch, r, rContract, rBatch)
	if err != nil {
		return nil, err
	}

	// DotGeneral output order is batch, lhs cross, rhs cross; the wanted order is ascending Mul axis.
	order := slices.Concat(batchAx, lCrossAx, rCrossAx)
	want := slices.Clone(order)
	slices.Sort(want)
	perm := make([]int, len(want))
	for p, j := range want {
		perm[p] = slices.Index(order, j)
	}
	if !isIdentity(perm) {
		if dot, err = b.Transpose(dot, perm...); err != nil {
			return nil, err
		}
	}
	if len(finalDims) != len(order) {
		if dot, err = b.Reshape(dot, finalDims...); err != nil {
			return nil, err
		}
	}
	return dot, nil
}
