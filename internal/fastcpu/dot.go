package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
)

// dotParams is DotGeneral's plan, fixed at build time: the product is computed as batch GEMMs
// C[b] = op(A[b]) · op(B[b]) of size m×k by k×n, where A and B are the operands themselves when
// their axes are already in a usable order, or transposed copies otherwise.
type dotParams struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int

	batch, m, n, k int
	lhsPerm        []int // nil: lhs used in place
	rhsPerm        []int // nil: rhs used in place
	transA, transB kernels.Transpose
}

// DotGeneral implements backends.Builder: output axes are the batch axes, then lhs's free axes,
// then rhs's free axes.
func (b *Builder) DotGeneral(lhs backends.Op, lhsContractingAxes, lhsBatchAxes []int,
	rhs backends.Op, rhsContractingAxes, rhsBatchAxes []int) (backends.Op, error) {
	op := backends.OpTypeDotGeneral
	ns, err := b.in(op, lhs, rhs)
	if err != nil {
		return nil, err
	}
	ls, rs := ns[0].shape, ns[1].shape
	if ls.DType != rs.DType {
		return nil, errorf(op, "dtypes differ: %s and %s", ls, rs)
	}
	p := &dotParams{}
	if p.lhsContract, err = normAxes("DotGeneral lhs contracting", lhsContractingAxes, ls.Rank()); err != nil {
		return nil, err
	}
	if p.lhsBatch, err = normAxes("DotGeneral lhs batch", lhsBatchAxes, ls.Rank()); err != nil {
		return nil, err
	}
	if p.rhsContract, err = normAxes("DotGeneral rhs contracting", rhsContractingAxes, rs.Rank()); err != nil {
		return nil, err
	}
	if p.rhsBatch, err = normAxes("DotGeneral rhs batch", rhsBatchAxes, rs.Rank()); err != nil {
		return nil, err
	}
	if len(p.lhsContract) != len(p.rhsContract) || len(p.lhsBatch) != len(p.rhsBatch) {
		return nil, errorf(op, "lhs and rhs have different numbers of contracting or batch axes")
	}
	p.batch, p.k = 1, 1
	var outDims []int
	for i, a := range p.lhsBatch {
		d := ls.Dimensions[a]
		if rs.Dimensions[p.rhsBatch[i]] != d {
			return nil, errorf(op, "batch axes sizes differ: %s and %s", ls, rs)
		}
		p.batch *= d
		outDims = append(outDims, d)
	}
	for i, a := range p.lhsContract {
		d := ls.Dimensions[a]
		if rs.Dimensions[p.rhsContract[i]] != d {
			return nil, errorf(op, "contracting axes sizes differ: %s and %s", ls, rs)
		}
		p.k *= d
	}
	lhsFree := freeAxes(ls.Rank(), p.lhsContract, p.lhsBatch)
	rhsFree := freeAxes(rs.Rank(), p.rhsContract, p.rhsBatch)
	p.m, p.n = 1, 1
	for _, a := range lhsFree {
		p.m *= ls.Dimensions[a]
		outDims = append(outDims, ls.Dimensions[a])
	}
	for _, a := range rhsFree {
		p.n *= rs.Dimensions[a]
		outDims = append(outDims, rs.Dimensions[a])
	}
	// lhs: [batch, free, contract] (NoTrans) or [batch, contract, free] (Trans), else transposed.
	switch {
	case isIdentityPerm(concat(p.lhsBatch, lhsFree, p.lhsContract)):
		p.transA = kernels.NoTrans
	case isIdentityPerm(concat(p.lhsBatch, p.lhsContract, lhsFree)):
		p.transA = kernels.Trans
	default:
		p.lhsPerm = concat(p.lhsBatch, lhsFree, p.lhsContract)
		p.transA = kernels.NoTrans
	}
	// rhs: [batch, contract, free] (NoTrans) or [batch, free, contract] (Trans), else transposed.
	switch {
	case isIdentityPerm(concat(p.rhsBatch, p.rhsContract, rhsFree)):
		p.transB = kernels.NoTrans
	case isIdentityPerm(concat(p.rhsBatch, rhsFree, p.rhsContract)):
		p.transB = kernels.Trans
	default:
		p.rhsPerm = concat(p.rhsBatch, p.rhsContract, rhsFree)
		p.transB = kernels.NoTrans
	}
	n := b.newNode(op, shapes.Make(ls.DType, outDims...), ns[0], ns[1])
	n.data = p
	return n, nil
}

// freeAxes returns the axes of a rank that are neither contracting nor batch, in order.
func freeAxes(rank int, contract, batch []int) []int {
	var free []int
	for a := range rank {
		if !slices.Contains(contract, a) && !slices.Contains(batch, a) {
			free = append(free, a)
		}
	}
	return free
}

func concat(parts ...[]int) []int {
	var out []int
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func isIdentityPerm(p []int) bool {
	for i, a := range p {
		if a != i {
			return false
		}
	}
	return true
}

// execDot runs DotGeneral.
func execDot(ec *execCtx, n *node, out any, ins []any) error {
	p := n.data.(*dotParams)
	switch c := out.(type) {
	case []float32:
		return dotF32(ec, n, p, c, ins[0].([]float32), ins[1].([]float32))
	case []float64:
		a, b := ins[0].([]float64), ins[1].([]float64)
		if p.lhsPerm != nil {
			a = transposeCopy(a, n.inputs[0].shape.Dimensions, p.lhsPerm)
		}
		if p.rhsPerm != nil {
			b = transposeCopy(b, n.inputs[1].shape.Dimensions, p.rhsPerm)
		}
		naiveBatchedGemm(p, c, a, b)
		return nil
	}
	return errorf(n.op, "dtype %s not supported (float32 and float64 only)", n.shape.DType)
}

// dotF32 runs a float32 DotGeneral on the GEMM.
func dotF32(ec *execCtx, n *node, p *dotParams, c, a, b []float32) error {
	if p.lhsPerm != nil {
		t := ec.getF32(len(a))
		defer ec.putF32(t)
		stridedCopy(ec, transposePlan(n.inputs[0].shape.Dimensions, p.lhsPerm), t, a, len(a))
		a = t
	}
	if p.rhsPerm != nil {
		t := ec.getF32(len(b))
		defer ec.putF32(t)
		stridedCopy(ec, transposePlan(n.inputs[1].shape.Dimensions, p.rhsPerm), t, b, len(b))
		b = t
	}
	lda := p.k
	if p.transA {
		lda = p.m
	}
	ldb := p.n
	if p.transB {
		ldb = p.k
	}
	if p.k == 0 {
		clear(c)
		return nil
	}
	err := ec.ws.SgemmBatched(p.transA, p.transB, p.m, p.n, p.k, 1,
		a, max(lda, 1), p.m*p.k, b, max(ldb, 1), p.k*p.n, 0, c, max(p.n, 1), p.m*p.n, p.batch)
	if err != nil {
		return errorf(n.op, "%v", err)
	}
	return nil
}

// transposeCopy returns x [dims] permuted by perm in a new slice (used by the float64 path).
func transposeCopy[T any](x []T, dims, perm []int) []T {
	out := make([]T, len(x))
	p := transposePlan(dims, perm)
	rl, ss := p.runLen(), p.runStride(1)
	offs := make([]int, 2)
	p.forRuns(0, p.numRuns(), offs, func(offs []int) {
		o := offs[1]
		for i := range rl {
			out[offs[0]+i] = x[o]
			o += ss
		}
	})
	return out
}

// naiveBatchedGemm is the float64 reference product (tests and rare float64 graphs).
func naiveBatchedGemm(p *dotParams, c, a, b []float64) {
	for bt := range p.batch {
		ab, bb, cb := a[bt*p.m*p.k:], b[bt*p.k*p.n:], c[bt*p.m*p.n:]
		for i := range p.m {
			for j := range p.n {
				var s float64
				for l := range p.k {
					var x, y float64
					if p.transA {
						x = ab[l*p.m+i]
					} else {
						x = ab[i*p.k+l]
					}
					if p.transB {
						y = bb[j*p.k+l]
					} else {
						y = bb[l*p.n+j]
					}
					s += x * y
				}
				cb[i*p.n+j] = s
			}
		}
	}
}

// Dot implements backends.Builder (XLA Dot: vector·vector, matrix·vector, matrix·matrix) as a
// DotGeneral contracting lhs's last axis with rhs's first.
func (b *Builder) Dot(lhs, rhs backends.Op) (backends.Op, error) {
	ns, err := b.in(backends.OpTypeDot, lhs, rhs)
	if err != nil {
		return nil, err
	}
	lr, rr := ns[0].shape.Rank(), ns[1].shape.Rank()
	if lr < 1 || lr > 2 || rr < 1 || rr > 2 {
		return nil, errorf(backends.OpTypeDot, "operands must be vectors or matrices, got %s and %s", ns[0].shape, ns[1].shape)
	}
	return b.DotGeneral(lhs, []int{lr - 1}, nil, rhs, []int{0}, nil)
}
