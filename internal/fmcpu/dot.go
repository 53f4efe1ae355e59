package fmcpu

import (
	"runtime"
	"slices"

	"github.com/gomlx/gomlx/backends"
)

const (
	// smallCrossLimit mirrors simplego's choice of DotGeneral algorithm: products whose
	// lhsCross*rhsCross is at most this (16 blocks of 32x32 float32) use its "small" algorithm,
	// which is only parallel across batch axes.
	smallCrossLimit = 16 * 32 * 32

	// minSplitContraction is the contraction size from which a small-cross product without batch
	// axes is split across workers (below it the extra Reshape/ReduceSum is not worth it).
	minSplitContraction = 8192

	// maxSplit caps the number of parts a contraction is split into.
	maxSplit = 8
)

// dotGeneral emits DotGeneral(lhs, rhs). When simplego would run it on a single core — no batch
// axes, a small output (lhsCross*rhsCross <= smallCrossLimit) and a long contraction, as in
// kernel gradients — one contracting axis is split into P parts that become a batch axis, and the
// P partial products are summed: simplego then runs the parts in parallel.
func (b *Builder) dotGeneral(lhs backends.Op, lhsContract, lhsBatch []int, rhs backends.Op, rhsContract, rhsBatch []int) (backends.Op, error) {
	plain := func() (backends.Op, error) {
		return b.DotGeneral(lhs, slices.Clone(lhsContract), slices.Clone(lhsBatch), rhs, slices.Clone(rhsContract), slices.Clone(rhsBatch))
	}
	p := min(runtime.NumCPU(), maxSplit)
	if len(lhsBatch) > 0 || p < 2 {
		return plain()
	}
	lShape, err := b.shape(lhs, "DotGeneral lhs")
	if err != nil {
		return nil, err
	}
	rShape, err := b.shape(rhs, "DotGeneral rhs")
	if err != nil {
		return nil, err
	}
	contraction := 1
	for _, a := range lhsContract {
		contraction *= lShape.Dimensions[a]
	}
	cross := lShape.Size() / max(contraction, 1) * (rShape.Size() / max(contraction, 1))
	if cross > smallCrossLimit || contraction < minSplitContraction {
		return plain()
	}
	// Split the outermost contracting axis of lhs divisible by p.
	pick := -1
	for i, a := range lhsContract {
		if lShape.Dimensions[a]%p == 0 && (pick < 0 || a < lhsContract[pick]) {
			pick = i
		}
	}
	if pick < 0 {
		return plain()
	}
	split := func(op backends.Op, dims []int, contract []int) (backends.Op, []int, int, error) {
		axis := contract[pick]
		newDims := slices.Concat(dims[:axis], []int{p, dims[axis] / p}, dims[axis+1:])
		reshaped, err := b.Reshape(op, newDims...)
		if err != nil {
			return nil, nil, 0, err
		}
		newContract := make([]int, len(contract))
		for j, a := range contract {
			switch {
			case j == pick:
				newContract[j] = axis + 1
			case a > axis:
				newContract[j] = a + 1
			default:
				newContract[j] = a
			}
		}
		return reshaped, newContract, axis, nil
	}
	l2, lc2, lAxis, err := split(lhs, lShape.Dimensions, lhsContract)
	if err != nil {
		return nil, err
	}
	r2, rc2, rAxis, err := split(rhs, rShape.Dimensions, rhsContract)
	if err != nil {
		return nil, err
	}
	parts, err := b.DotGeneral(l2, lc2, []int{lAxis}, r2, rc2, []int{rAxis})
	if err != nil {
		return nil, err
	}
	return b.Builder.ReduceSum(parts, 0)
}
