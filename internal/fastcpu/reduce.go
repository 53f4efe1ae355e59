package fastcpu

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
)

// reduce records a reduction over axes.
func (b *Builder) reduce(op backends.OpType, x backends.Op, axes []int) (backends.Op, error) {
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 { // XLA/GoMLX convention: no axes means all axes.
		axes = make([]int, ns[0].shape.Rank())
		for i := range axes {
			axes[i] = i
		}
	}
	axes, err = normAxes(op.String(), axes, ns[0].shape.Rank())
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ReduceOp(ns[0].shape, axes)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	n := b.newNode(op, shape, ns[0])
	n.axes = axes
	return n, nil
}

// ReduceSum implements backends.Builder.
func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceSum, x, axes)
}

// ReduceMax implements backends.Builder.
func (b *Builder) ReduceMax(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMax, x, axes)
}

// ReduceMin implements backends.Builder.
func (b *Builder) ReduceMin(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMin, x, axes)
}

// ReduceProduct implements backends.Builder.
func (b *Builder) ReduceProduct(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceProduct, x, axes)
}

// reducePlan iterates the input in row-major order (operand 0) with the output (operand 1) read
// through strides that are 0 on reduced axes.
func reducePlan(n *node) *loopPlan {
	in := n.inputs[0].shape.Dimensions
	reduced := make([]bool, len(in))
	for _, a := range n.axes {
		reduced[a] = true
	}
	outDims := make([]int, 0, len(in))
	for a, d := range in {
		if !reduced[a] {
			outDims = append(outDims, d)
		}
	}
	outRM := rowMajorStrides(outDims)
	st := make([]int, len(in))
	j := 0
	for a := range in {
		if !reduced[a] {
			st[a] = outRM[j]
			j++
		}
	}
	return newLoopPlan(in, nil, st)
}

// reduceIdentity is the starting value of a reduction.
func reduceIdentity[T number](op backends.OpType) T {
	switch op {
	case backends.OpTypeReduceProduct:
		return 1
	case backends.OpTypeReduceMax:
		return lowest[T]()
	case backends.OpTypeReduceMin:
		return highest[T]()
	}
	return 0
}

// lowest returns the smallest value of T (-Inf for floats).
func lowest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return T(math.Inf(-1))
	case int8:
		return T(any(int8(math.MinInt8)).(int8))
	case int16:
		return T(any(int16(math.MinInt16)).(int16))
	case int32:
		return T(any(int32(math.MinInt32)).(int32))
	case int64:
		return T(any(int64(math.MinInt64)).(int64))
	}
	return 0 // unsigned
}

// highest returns the largest value of T (+Inf for floats).
func highest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return T(math.Inf(1))
	case int8:
		return T(any(int8(math.MaxInt8)).(int8))
	case int16:
		return T(any(int16(math.MaxInt16)).(int16))
	case int32:
		return T(any(int32(math.MaxInt32)).(int32))
	case int64:
		return T(any(int64(math.MaxInt64)).(int64))
	case uint8:
		return T(any(uint8(math.MaxUint8)).(uint8))
	case uint16:
		return T(any(uint16(math.MaxUint16)).(uint16))
	case uint32:
		return T(any(uint32(math.MaxUint32)).(uint32))
	case uint64:
		return T(any(uint64(math.MaxUint64)).(uint64))
	}
	return 0
}

// reduceRuns reduces runs [lo, hi) of plan p from src into dst. When the run is short and the
// axis before it reduced too (as in GroupNorm statistics), pairs of axes are handled together
// to keep the per-run overhead low.
func reduceRuns[T number](p *loopPlan, op backends.OpType, dst, src []T, lo, hi int) {
	rl, ds := p.runLen(), p.runStride(1)
	offs := make([]int, 2)
	p.forRuns(lo, hi, offs, func(offs []int) {
		s := src[offs[0] : offs[0]+rl]
		if ds == 0 {
			dst[offs[1]] = reduceInto(op, dst[offs[1]], s)
			return
		}
		d := dst[offs[1]:]
		switch op {
		case backends.OpTypeReduceSum:
			if ds == 1 {
				d = d[:len(s)]
				for i, x := range s {
					d[i] += x
				}
				return
			}
			for i, x := range s {
				d[i*ds] += x
			}
		case backends.OpTypeReduceProduct:
			for i, x := range s {
				d[i*ds] *= x
			}
		case backends.OpTypeReduceMax:
			for i, x := range s {
				d[i*ds] = max(d[i*ds], x)
			}
		case backends.OpTypeReduceMin:
			for i, x := range s {
				d[i*ds] = min(d[i*ds], x)
			}
		}
	})
}

// reduceInto combines acc with the reduction of s.
func reduceInto[T number](op backends.OpType, acc T, s []T) T {
	switch op {
	case backends.OpTypeReduceSum:
		// Four partial sums: shorter dependency chains, slightly better accuracy.
		var a0, a1, a2, a3 T
		i := 0
		for ; i+4 <= len(s); i += 4 {
			a0 += s[i]
			a1 += s[i+1]
			a2 += s[i+2]
			a3 += s[i+3]
		}
		for ; i < len(s); i++ {
			a0 += s[i]
		}
		return acc + (a0 + a1) + (a2 + a3)
	case backends.OpTypeReduceProduct:
		for _, x := range s {
			acc *= x
		}
	case backends.OpTypeReduceMax:
		for _, x := range s {
			acc = max(acc, x)
		}
	case backends.OpTypeReduceMin:
		for _, x := range s {
			acc = min(acc, x)
		}
	}
	return acc
}

// reduceRows2D handles plans whose two innermost axes are (kept with stride 1, reduced): it sums
// each row of a [rows, rl] block into consecutive outputs, one callback per block.
func reduceRows2D[T number](p *loopPlan, op backends.OpType, dst, src []T, lo, hi int) {
	last := len(p.dims) - 1
	rows, rl := p.dims[last-1], p.dims[last]
	inner := &loopPlan{dims: p.dims[:last], strides: [][]int{p.strides[0][:last], p.strides[1][:last]}, bases: p.bases}
	// Each run of inner is now a block of rows; its operand-0 run stride is rl.
	offs := make([]int, 2)
	inner.forRuns(lo, hi, offs, func(offs []int) {
		s := src[offs[0] : offs[0]+rows*rl]
		d := dst[offs[1] : offs[1]+rows]
		for r := range d {
			d[r] = reduceInto(op, d[r], s[r*rl:(r+1)*rl])
		}
	})
}

// combine merges a partial result src into dst.
func combine[T number](op backends.OpType, dst, src []T) {
	src = src[:len(dst)]
	switch op {
	case backends.OpTypeReduceSum:
		for i, x := range src {
			dst[i] += x
		}
	case backends.OpTypeReduceProduct:
		for i, x := range src {
			dst[i] *= x
		}
	case backends.OpTypeReduceMax:
		for i, x := range src {
			dst[i] = max(dst[i], x)
		}
	case backends.OpTypeReduceMin:
		for i, x := range src {
			dst[i] = min(dst[i], x)
		}
	}
}

// reduceTyped runs a reduction. Large inputs are split over goroutines by runs: the first part
// writes the output, the others private partial outputs that are combined at the end.
func reduceTyped[T number](ec *execCtx, p *loopPlan, op backends.OpType, dst, src []T) {
	id := reduceIdentity[T](op)
	fillSlice(dst, id)
	runsFn := reduceRuns[T]
	runs := p.numRuns()
	if last := len(p.dims) - 1; last >= 1 && p.strides[1][last] == 0 && p.strides[1][last-1] == 1 && p.dims[last] < 64 {
		runsFn = reduceRows2D[T]
		runs /= p.dims[last-1]
	}
	parts := min(ec.parallelism, runs)
	if len(src) < 4*minParallelWork || parts < 2 {
		runsFn(p, op, dst, src, 0, runs)
		return
	}
	partials := make([][]T, parts)
	partials[0] = dst
	for i := 1; i < parts; i++ {
		partials[i] = make([]T, len(dst))
		fillSlice(partials[i], id)
	}
	ec.parallelForN(parts, parts, len(src), func(lo, hi int) {
		for part := lo; part < hi; part++ {
			runsFn(p, op, partials[part], src, runs*part/parts, runs*(part+1)/parts)
		}
	})
	for i := 1; i < parts; i++ {
		combine(op, dst, partials[i])
	}
}

// execReduce runs a reduction node.
func execReduce(ec *execCtx, n *node, out any, ins []any) error {
	p := reducePlan(n)
	switch d := out.(type) {
	case []float32:
		if n.op == backends.OpTypeReduceSum && reduceSumRowsF32(ec, p, d, ins[0].([]float32)) {
			return nil
		}
		reduceTyped(ec, p, n.op, d, ins[0].([]float32))
	case []float64:
		reduceTyped(ec, p, n.op, d, ins[0].([]float64))
	case []int32:
		reduceTyped(ec, p, n.op, d, ins[0].([]int32))
	case []int64:
		reduceTyped(ec, p, n.op, d, ins[0].([]int64))
	case []uint32:
		reduceTyped(ec, p, n.op, d, ins[0].([]uint32))
	case []uint64:
		reduceTyped(ec, p, n.op, d, ins[0].([]uint64))
	default:
		return errorf(n.op, "dtype %s not supported", n.shape.DType)
	}
	return nil
}

// reduceSumRowsF32 is the fast path of float32 ReduceSum for plans shaped
// [kept axes..., one reduced axis R, tail...] (bias gradients [B·H·W, C] -> [C]; GroupNorm
// statistics [B, H·W, G, C/G] -> [B, G]; pooling; see rowsReduction): for each outer position
// it adds the R contiguous tail-long rows into an accumulator (addRowsF32), then folds the
// accumulator into the output. It reports false when the plan does not have that shape.
//
// The work is split in a fixed way (by outer positions, or for fewer outer positions than
// goroutines by rows, the partial sums combined in part order), so results do not depend on
// timing.
func reduceSumRowsF32(ec *execCtx, p *loopPlan, dst, src []float32) bool {
	rr, ok := newRowsReduction(p, 1<<16)
	if !ok {
		return false
	}
	outer, r, tail := rr.outer, rr.r, rr.tail
	clear(dst)
	if outer >= ec.parallelism || len(src) < 4*minParallelWork {
		ec.parallelFor(outer, len(src), func(lo, hi int) {
			acc := ec.getF32(tail)
			defer ec.putF32(acc)
			for o := lo; o < hi; o++ {
				clear(acc)
				addRowsF32(acc, src[o*r*tail:(o+1)*r*tail])
				rr.fold(dst, acc, o)
			}
		})
		return true
	}
	// Few outer positions (bias gradients): split the rows, then combine in part order.
	parts := min(ec.parallelism, r)
	accs := make([][]float32, parts)
	for i := range accs {
		accs[i] = ec.getF32(tail)
	}
	for o := range outer {
		ec.parallelForN(parts, parts, len(src), func(lo, hi int) {
			for part := lo; part < hi; part++ {
				r0, r1 := r*part/parts, r*(part+1)/parts
				clear(accs[part])
				addRowsF32(accs[part], src[(o*r+r0)*tail:(o*r+r1)*tail])
			}
		})
		for _, a := range accs[1:] {
			combine(backends.OpTypeReduceSum, accs[0], a)
		}
		rr.fold(dst, accs[0], o)
	}
	for _, a := range accs {
		ec.putF32(a)
	}
	return true
}
