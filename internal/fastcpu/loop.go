package fastcpu

// loopPlan walks an output array in row-major order together with operands read through
// arbitrary strides (0 for broadcast axes, negative for reversed ones). Axes of size 1 are
// dropped and adjacent axes that are contiguous for every operand are merged, so that the
// innermost loop ("run") is as long as possible. Kernels loop over runs and handle each run with
// a tight loop.
type loopPlan struct {
	dims    []int   // merged dimensions, outermost first (empty for a single element)
	strides [][]int // strides[k][axis] of operand k; operand 0 is the output (row-major)
	bases   []int   // starting offset of each operand
}

// rowMajorStrides returns the row-major strides of dims.
func rowMajorStrides(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// broadcastStrides returns the strides with which an operand of dims (same rank as outDims, or
// a scalar) is read when broadcast to outDims: 0 on axes where it has size 1.
func broadcastStrides(dims, outDims []int) []int {
	s := make([]int, len(outDims))
	if len(dims) == 0 {
		return s
	}
	rm := rowMajorStrides(dims)
	for i := range outDims {
		if dims[i] != 1 || outDims[i] == 1 {
			s[i] = rm[i]
		}
	}
	return s
}

// newLoopPlan builds a plan for outDims with the output as operand 0 (row-major) and the given
// operand strides (each of len(outDims)); bases are the operands' starting offsets (nil: 0).
func newLoopPlan(outDims []int, bases []int, operandStrides ...[]int) *loopPlan {
	k := len(operandStrides) + 1
	all := make([][]int, k)
	all[0] = rowMajorStrides(outDims)
	copy(all[1:], operandStrides)
	p := &loopPlan{strides: make([][]int, k), bases: make([]int, k)}
	if bases != nil {
		copy(p.bases[1:], bases)
	}
	// Keep axes of size > 1, merging an axis into the previous kept one when contiguous for all.
	for axis, d := range outDims {
		if d == 1 {
			continue
		}
		if n := len(p.dims); n > 0 {
			merge := true
			for j := range k {
				if p.strides[j][n-1] != all[j][axis]*d {
					merge = false
					break
				}
			}
			if merge {
				p.dims[n-1] *= d
				for j := range k {
					p.strides[j][n-1] = all[j][axis]
				}
				continue
			}
		}
		p.dims = append(p.dims, d)
		for j := range k {
			p.strides[j] = append(p.strides[j], all[j][axis])
		}
	}
	return p
}

// runLen is the length of the innermost run.
func (p *loopPlan) runLen() int {
	if len(p.dims) == 0 {
		return 1
	}
	return p.dims[len(p.dims)-1]
}

// runStride is operand k's stride within a run.
func (p *loopPlan) runStride(k int) int {
	if len(p.dims) == 0 {
		return 0
	}
	return p.strides[k][len(p.dims)-1]
}

// numRuns is the number of runs.
func (p *loopPlan) numRuns() int {
	n := 1
	for i := 0; i < len(p.dims)-1; i++ {
		n *= p.dims[i]
	}
	return n
}

// forRuns calls fn for runs [lo, hi) with the starting offset of each operand in offs (offs has
// one entry per operand and is overwritten).
func (p *loopPlan) forRuns(lo, hi int, offs []int, fn func(offs []int)) {
	if lo >= hi {
		return
	}
	outer := len(p.dims) - 1
	if outer <= 0 {
		copy(offs, p.bases)
		fn(offs)
		return
	}
	// Unravel lo into an index over the outer axes.
	idx := make([]int, outer)
	r := lo
	for a := outer - 1; a >= 0; a-- {
		idx[a] = r % p.dims[a]
		r /= p.dims[a]
	}
	for k := range offs {
		o := p.bases[k]
		for a := range outer {
			o += idx[a] * p.strides[k][a]
		}
		offs[k] = o
	}
	for run := lo; run < hi; run++ {
		fn(offs)
		// Advance the odometer.
		for a := outer - 1; a >= 0; a-- {
			idx[a]++
			for k := range offs {
				offs[k] += p.strides[k][a]
			}
			if idx[a] < p.dims[a] {
				break
			}
			for k := range offs {
				offs[k] -= p.strides[k][a] * p.dims[a]
			}
			idx[a] = 0
		}
	}
}
