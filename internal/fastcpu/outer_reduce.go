package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Matrix products written as a broadcast multiply and a sum (ReduceSum(Mul(x, y)) with x and y
// broadcast over different axes of a rank-3 shape, as in ref-unet-32's time-embedding
// projections and their gradients): a fused group would gather both operands and multiply
// element by element over the whole rank-3 shape; this computes each output as a dot product
// of contiguous rows, or adds scaled contiguous rows into output rows.

// outerReduce is the plan of such a product. The output is [P, Q] (the two kept axes, in
// order); output element (p, q) is Σ_k x(p, k)·y(q, k), where x is the operand broadcast over
// q and y the one broadcast over p, read through strides.
type outerReduce struct {
	xLeaf, yLeaf int // leaf indices in the group
	P, Q, K      int
	// Strides of x along p and k, and of y along q and k.
	xp, xk, yq, yk int
	// dot: k is the innermost axis and xk = yk = 1 (dot products of contiguous rows);
	// otherwise q is innermost, yq = 1 (rows of y scaled by x(p, k) and added to output rows).
	dot bool
}

// newOuterReduce recognises a reducing group that is one Mul of two broadcast leaves over a
// rank-3 shape, each broadcast over a different kept axis, with one reduced axis; it returns
// nil otherwise or when neither loop order reads contiguous rows.
func newOuterReduce(g *fusedGroup) *outerReduce {
	if g.reduce == nil || g.keepOut || len(g.instrs) != 1 || len(g.leaves) != 2 || len(g.exports) != 0 {
		return nil
	}
	ins := g.instrs[0]
	if ins.op != backends.OpTypeMul || ins.unary || ins.a.leaf < 0 || ins.b.leaf < 0 || ins.a.leaf == ins.b.leaf {
		return nil
	}
	dims := g.out.shape.Dimensions
	if !slices.Equal(dims, g.dims) || len(dims) != 3 || len(g.reduce.axes) != 1 || g.out.shape.DType != dtypes.Float32 {
		return nil
	}
	k := g.reduce.axes[0]
	var kept []int
	for a := range 3 {
		if a != k {
			kept = append(kept, a)
		}
	}
	pAxis, qAxis := kept[0], kept[1]
	sa, sb := g.leaves[ins.a.leaf].strides, g.leaves[ins.b.leaf].strides
	if sa == nil || sb == nil || g.leaves[ins.a.leaf].view || g.leaves[ins.b.leaf].view {
		return nil // not broadcasts, or Slice views (read from a base offset)
	}
	o := &outerReduce{P: dims[pAxis], Q: dims[qAxis], K: dims[k]}
	switch {
	case sa[qAxis] == 0 && sb[pAxis] == 0:
		o.xLeaf, o.yLeaf = ins.a.leaf, ins.b.leaf
		o.xp, o.xk, o.yq, o.yk = sa[pAxis], sa[k], sb[qAxis], sb[k]
	case sb[qAxis] == 0 && sa[pAxis] == 0:
		o.xLeaf, o.yLeaf = ins.b.leaf, ins.a.leaf
		o.xp, o.xk, o.yq, o.yk = sb[pAxis], sb[k], sa[qAxis], sa[k]
	default:
		return nil
	}
	switch {
	case k == 2 && o.xk == 1 && o.yk == 1:
		o.dot = true
	case qAxis == 2 && o.yq == 1:
	default:
		return nil
	}
	return o
}

// run computes the product into dst ([P, Q] row-major), output rows split over goroutines
// (each output element is summed in k order by one goroutine).
func (o *outerReduce) run(ec *execCtx, g *fusedGroup, dst []float32, vals []any) {
	x := vals[root(g.leaves[o.xLeaf].n).idx].([]float32)
	y := vals[root(g.leaves[o.yLeaf].n).idx].([]float32)
	ec.parallelFor(o.P, o.P*o.Q*o.K, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			d := dst[p*o.Q : (p+1)*o.Q]
			if o.dot {
				xr := x[p*o.xp : p*o.xp+o.K]
				for q := range d {
					d[q] = rowDot(xr, y[q*o.yq:q*o.yq+o.K])
				}
				continue
			}
			clear(d)
			for k := range o.K {
				xv := x[p*o.xp+k*o.xk : p*o.xp+k*o.xk+1]
				mulAddRunF32(d, y[k*o.yk:k*o.yk+o.Q], xv, d, 1, 0, 1)
			}
		}
	})
}

// rowDot returns Σ a[i]·b[i] (len(b) >= len(a)): vector partial sums where available.
func rowDot(a, b []float32) float32 {
	t, done := simdDot(a, b)
	b = b[:len(a)]
	for i := done; i < len(a); i++ {
		t += a[i] * b[i]
	}
	return t
}
