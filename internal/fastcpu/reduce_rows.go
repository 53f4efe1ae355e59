package fastcpu

import "github.com/gomlx/gomlx/backends"

// Row-wise sums for the ReduceSum plans that dominate U-Net training: GroupNorm statistics
// ([B, H·W, G, C/G] -> [B, G]) and bias gradients ([B·H·W, C] -> [C]). Such a plan has the form
// [kept outer axes..., one reduced axis R, tail axes...]: its input is, for every outer position,
// R contiguous "rows" of tail elements. The rows of one outer position are added into one
// tail-long accumulator with vector adds (kept in registers when the tail is short), and the
// accumulator is folded into the output once per outer position through the tail axes' plan
// (for GroupNorm: 32 channels folded into 8 groups).

// maxRegisterTail is the longest row addRowsF32 sums column chunk by column chunk (accumulators
// in registers, rows read with a stride); longer rows are added one after the other.
const maxRegisterTail = 256

// rowsReduction describes a float32 ReduceSum plan of the form above.
type rowsReduction struct {
	outer, r, tail int
	// tailPlan maps a tail-long accumulator (operand 0, row-major) to the output (operand 1,
	// base 0: add outerBase).
	tailPlan *loopPlan
	// outerDims and outerStrides are the kept outer axes and their output strides.
	outerDims, outerStrides []int
}

// newRowsReduction recognises a reduction plan p (operand 0 the input in row-major order,
// operand 1 the output with stride 0 on reduced axes; see reducePlan) of the form
// [outer..., R, tail...] with a tail of at most maxTail elements. It reports false otherwise,
// including when the innermost axis is the reduced one (no tail).
func newRowsReduction(p *loopPlan, maxTail int) (rowsReduction, bool) {
	dims, out := p.dims, p.strides[1]
	a := -1
	for i := range dims {
		if out[i] == 0 {
			a = i
			break
		}
	}
	if a < 0 || a == len(dims)-1 {
		return rowsReduction{}, false
	}
	rr := rowsReduction{outer: 1, r: dims[a], tail: 1, outerDims: dims[:a], outerStrides: out[:a]}
	for _, d := range dims[:a] {
		rr.outer *= d
	}
	for _, d := range dims[a+1:] {
		rr.tail *= d
	}
	if rr.tail > maxTail {
		return rowsReduction{}, false
	}
	rr.tailPlan = &loopPlan{dims: dims[a+1:], strides: [][]int{rowMajorStrides(dims[a+1:]), out[a+1:]}, bases: []int{0, 0}}
	return rr, true
}

// outerBase is the output offset of outer position o.
func (rr *rowsReduction) outerBase(o int) int {
	off := 0
	for i := len(rr.outerDims) - 1; i >= 0; i-- {
		off += (o % rr.outerDims[i]) * rr.outerStrides[i]
		o /= rr.outerDims[i]
	}
	return off
}

// fold adds acc (the sum of some rows of outer position o, tail elements) into dst, run by
// run of the tail plan: vector adds for runs kept in the output (bias gradients), vector sums
// for runs reduced to one output (GroupNorm groups, pooling windows).
func (rr *rowsReduction) fold(dst, acc []float32, o int) {
	tp := *rr.tailPlan
	tp.bases = []int{0, rr.outerBase(o)}
	rl, ds := tp.runLen(), tp.runStride(1)
	if ds != 0 && ds != 1 {
		reduceRuns(&tp, backends.OpTypeReduceSum, dst, acc, 0, tp.numRuns())
		return
	}
	offs := make([]int, 2)
	tp.forRuns(0, tp.numRuns(), offs, func(offs []int) {
		s := acc[offs[0] : offs[0]+rl]
		if ds == 0 {
			dst[offs[1]] += sumF32(s)
			return
		}
		d := dst[offs[1] : offs[1]+rl]
		if !simdBinary(backends.OpTypeAdd, d, d, s, 1, 1) {
			for i, x := range s {
				d[i] += x
			}
		}
	})
}

// rowsAccumulator sums a stream of whole rows, in increasing row order, into an output: rows
// of one outer position go to acc, which is folded into the output when the outer position
// changes and at flush.
type rowsAccumulator struct {
	rr   *rowsReduction
	dst  []float32
	acc  []float32 // tail elements
	curO int       // outer position acc holds, -1 when empty
}

// add adds rows [row0, row0+len(v)/tail) with values v.
func (ra *rowsAccumulator) add(v []float32, row0 int) { ra.addMul(v, nil, row0) }

// addMul adds rows [row0, row0+len(v)/tail) with values v·w (elementwise; v alone when w is
// nil), the products never stored.
func (ra *rowsAccumulator) addMul(v, w []float32, row0 int) {
	tail, r := ra.rr.tail, ra.rr.r
	nrows := len(v) / tail
	for k := 0; k < nrows; {
		o := (row0 + k) / r
		if o != ra.curO {
			ra.flush()
			ra.curO = o
		}
		cnt := min(nrows-k, (o+1)*r-(row0+k))
		if w == nil {
			addRowsF32(ra.acc, v[k*tail:(k+cnt)*tail])
		} else {
			addRowsMulF32(ra.acc, v[k*tail:(k+cnt)*tail], w[k*tail:(k+cnt)*tail])
		}
		k += cnt
	}
}

// flush folds acc into the output and clears it.
func (ra *rowsAccumulator) flush() {
	if ra.curO >= 0 {
		ra.rr.fold(ra.dst, ra.acc, ra.curO)
		clear(ra.acc)
		ra.curO = -1
	}
}

// addRowsF32 adds the rows of src (row-major [len(src)/len(acc), len(acc)]) into acc:
// acc[j] += Σ_r src[r·len(acc)+j]. Each column's rows are added in order.
func addRowsF32(acc, src []float32) {
	w := len(acc)
	if w == 0 {
		return
	}
	rows := len(src) / w
	if w > maxRegisterTail {
		for r := range rows {
			row := src[r*w : (r+1)*w]
			if !simdBinary(backends.OpTypeAdd, acc, acc, row, 1, 1) {
				for j, x := range row {
					acc[j] += x
				}
			}
		}
		return
	}
	j := simdAddRows(acc, src, rows)
	if j >= w {
		return
	}
	// Remaining columns, four at a time.
	for ; j+4 <= w; j += 4 {
		a0, a1, a2, a3 := acc[j], acc[j+1], acc[j+2], acc[j+3]
		for r := range rows {
			s := src[r*w+j : r*w+j+4]
			a0 += s[0]
			a1 += s[1]
			a2 += s[2]
			a3 += s[3]
		}
		acc[j], acc[j+1], acc[j+2], acc[j+3] = a0, a1, a2, a3
	}
	for ; j < w; j++ {
		a := acc[j]
		for r := range rows {
			a += src[r*w+j]
		}
		acc[j] = a
	}
}

// sumF32 returns the sum of s: vector partial sums where available, else reduceInto's four.
func sumF32(s []float32) float32 {
	acc, done := simdSum(s)
	return reduceInto(backends.OpTypeReduceSum, acc, s[done:])
}

// addRowsMulF32 adds the rows of a·b (elementwise; a and b row-major [len(a)/len(acc),
// len(acc)]) into acc, like addRowsF32 but with multiply-adds and the products never stored.
func addRowsMulF32(acc, a, b []float32) {
	w := len(acc)
	if w == 0 {
		return
	}
	rows := len(a) / w
	b = b[:len(a)]
	j := 0
	if w <= maxRegisterTail {
		j = simdAddRowsMul(acc, a, b, rows)
	}
	for ; j < w; j++ {
		s := acc[j]
		for r := range rows {
			s += a[r*w+j] * b[r*w+j]
		}
		acc[j] = s
	}
}
