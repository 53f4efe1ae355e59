package fastcpu

import (
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fusion of elementwise chains.
//
// A fused group is a tree of float32 elementwise nodes (unary and binary ops) with a common
// output shape, whose interior nodes each have a single consumer inside the group: no interior
// result is ever materialised. The group's leaves are external values read directly (same shape),
// as scalars, or through broadcast strides (size-1 axes of a binary op's operand, or the operand
// of a single-use BroadcastInDim that the group absorbs).
//
// The group runs as a small interpreter over blocks of fusedBlock elements: each instruction
// processes a whole block with the same run kernels as the unfused ops (binaryRunFloat,
// unaryRunFloat), so the op dispatch happens once per block, and all intermediate blocks stay in
// L1. Blocks are split over goroutines.

// fusedBlock is the number of elements one instruction processes at a time.
const fusedBlock = 512

// fusedOperand is an instruction operand: a leaf (leaf >= 0) or an earlier instruction's
// block (reg).
type fusedOperand struct{ leaf, reg int }

// fusedInstr is one elementwise op of a group.
type fusedInstr struct {
	op    backends.OpType
	unary bool
	a, b  fusedOperand
}

// fusedLeaf is an external input of a group.
type fusedLeaf struct {
	n      *node
	direct bool      // same shape as the output: read in place
	scalar bool      // one value
	plan   *loopPlan // otherwise: broadcast read (operand 0 the output, operand 1 the leaf)
}

// fusedGroup is a chain of float32 elementwise nodes computed in one blocked pass.
type fusedGroup struct {
	out    *node
	leaves []fusedLeaf
	instrs []fusedInstr // evaluation order; the last one produces out
	inputs []*node      // the leaves' nodes, for buffer-lifetime planning

	// reduce, when set, is a ReduceSum of out: the group's blocks are summed into reduce's
	// output (through rplan, the reduction's loop plan) instead of being stored.
	reduce *node
	rplan  *loopPlan
}

// fusableUnary and fusableBinary are the float32 ops a group may contain.
var fusableUnary = map[backends.OpType]bool{
	backends.OpTypeNeg: true, backends.OpTypeAbs: true, backends.OpTypeSqrt: true, backends.OpTypeRsqrt: true,
	backends.OpTypeExp: true, backends.OpTypeLog: true, backends.OpTypeLogistic: true, backends.OpTypeTanh: true,
	backends.OpTypeSin: true, backends.OpTypeCos: true, backends.OpTypeExpm1: true, backends.OpTypeLog1p: true,
}

var fusableBinary = map[backends.OpType]bool{
	backends.OpTypeAdd: true, backends.OpTypeSub: true, backends.OpTypeMul: true, backends.OpTypeDiv: true,
	backends.OpTypeMax: true, backends.OpTypeMin: true,
}

func isFusable(n *node) bool {
	return n.shape.DType == dtypes.Float32 && (fusableUnary[n.op] || fusableBinary[n.op])
}

// findFusions returns, for every node that belongs to a fused group, its group (for the group's
// final node) or nil (for interior nodes). Nodes in no group are absent.
func findFusions(nodes []*node, needed []bool, uses []int) map[int]*fusedGroup {
	consumers := make([][]*node, len(nodes))
	for _, n := range nodes {
		if needed[n.idx] {
			for _, in := range n.inputs {
				consumers[in.idx] = append(consumers[in.idx], n)
			}
		}
	}
	sameDims := func(a, b *node) bool { return slices.Equal(a.shape.Dimensions, b.shape.Dimensions) }
	// interior: a single-use fusable node feeding a fusable node of its shape, or a float32
	// BroadcastInDim all of whose uses are such nodes (each group reads it as a broadcast leaf).
	interior := func(m *node) bool {
		cs := consumers[m.idx]
		if !needed[m.idx] || len(cs) == 0 || len(cs) != uses[m.idx] {
			return false
		}
		for _, c := range cs {
			if !isFusable(c) || !sameDims(m, c) {
				return false
			}
		}
		if m.op == backends.OpTypeBroadcastInDim {
			return m.shape.DType == dtypes.Float32
		}
		return len(cs) == 1 && isFusable(m)
	}
	groups := make(map[int]*fusedGroup)
	for _, n := range nodes {
		if !needed[n.idx] || !isFusable(n) || interior(n) {
			continue
		}
		g := &fusedGroup{out: n}
		leafOf := make(map[*node]int)
		var emit func(m *node) fusedOperand
		addLeaf := func(src *node, bcast *node) fusedOperand {
			key := src
			if bcast != nil {
				key = bcast
			}
			if i, ok := leafOf[key]; ok {
				return fusedOperand{leaf: i}
			}
			l := fusedLeaf{n: src}
			outDims := n.shape.Dimensions
			switch {
			case bcast != nil:
				l.plan = newLoopPlan(outDims, nil, broadcastInDimStrides(src.shape.Dimensions, outDims, bcast.axes))
			case src.shape.Size() == 1:
				l.scalar = true
			case slices.Equal(src.shape.Dimensions, outDims):
				l.direct = true
			default:
				l.plan = newLoopPlan(outDims, nil, broadcastStrides(src.shape.Dimensions, outDims))
			}
			g.leaves = append(g.leaves, l)
			g.inputs = append(g.inputs, src)
			leafOf[key] = len(g.leaves) - 1
			return fusedOperand{leaf: len(g.leaves) - 1}
		}
		emit = func(m *node) fusedOperand {
			in := make([]fusedOperand, len(m.inputs))
			for i, x := range m.inputs {
				switch {
				case interior(x) && x.op == backends.OpTypeBroadcastInDim:
					groups[x.idx] = nil
					in[i] = addLeaf(x.inputs[0], x)
				case interior(x):
					groups[x.idx] = nil
					in[i] = emit(x)
				default:
					in[i] = addLeaf(x, nil)
				}
			}
			ins := fusedInstr{op: m.op, unary: len(in) == 1, a: in[0]}
			if len(in) == 2 {
				ins.b = in[1]
			}
			g.instrs = append(g.instrs, ins)
			return fusedOperand{leaf: -1, reg: len(g.instrs) - 1}
		}
		emit(n)
		// A single-use chain feeding a ReduceSum is reduced block by block, never materialised.
		if cs := consumers[n.idx]; len(cs) == 1 && uses[n.idx] == 1 && cs[0].op == backends.OpTypeReduceSum &&
			cs[0].shape.DType == dtypes.Float32 {
			g.reduce = cs[0]
			g.rplan = reducePlan(cs[0])
			groups[n.idx] = nil
			groups[cs[0].idx] = g
			continue
		}
		groups[n.idx] = g
	}
	return groups
}

func anyBroadcastLeaf(g *fusedGroup) bool {
	for _, l := range g.leaves {
		if l.plan != nil {
			return true
		}
	}
	return false
}

// broadcastInDimStrides returns the strides, over outDims, with which BroadcastInDim reads its
// operand of dims (operand axis i is output axis axes[i]).
func broadcastInDimStrides(dims, outDims, axes []int) []int {
	rm := rowMajorStrides(dims)
	st := make([]int, len(outDims))
	for i, a := range axes {
		if dims[i] != 1 {
			st[a] = rm[i]
		}
	}
	return st
}

// blockWalker walks flat element ranges of a loop plan's iteration space, reading operand 1,
// two axes at a time: the unit it hands out is one "row" of the innermost axis, and it advances
// over the second innermost axis with an increment, so short innermost runs (GroupNorm's
// channels per group) cost little per run. idx is scratch of len(p.dims) ints.
type blockWalker struct {
	p      *loopPlan
	idx    []int
	rl, ss int // innermost run length and operand-1 stride
	r1, s1 int // second innermost axis size and operand-1 stride (1 and 0 if absent)
	row    int // current index on the second innermost axis
	outer  int // operand-1 offset of the current outer position (axes before the last two)
}

// start positions the walker at flat element i0 and returns the offset within the run.
func (w *blockWalker) start(p *loopPlan, idx []int, i0 int) int {
	w.p, w.idx = p, idx
	last := len(p.dims) - 1
	w.rl, w.ss = p.dims[last], p.strides[1][last]
	w.r1, w.s1 = 1, 0
	nOuter := last
	if last >= 1 {
		w.r1, w.s1 = p.dims[last-1], p.strides[1][last-1]
		nOuter = last - 1
	}
	run := i0 / w.rl
	w.row = run % w.r1
	r := run / w.r1
	w.outer = p.bases[1]
	for a := nOuter - 1; a >= 0; a-- {
		idx[a] = r % p.dims[a]
		w.outer += idx[a] * p.strides[1][a]
		r /= p.dims[a]
	}
	return i0 % w.rl
}

// offset is operand 1's offset of the current run's first element.
func (w *blockWalker) offset() int { return w.outer + w.row*w.s1 }

// next moves to the next run.
func (w *blockWalker) next() {
	w.row++
	if w.row < w.r1 {
		return
	}
	w.row = 0
	p := w.p
	nOuter := len(p.dims) - 2
	for a := nOuter - 1; a >= 0; a-- {
		w.idx[a]++
		w.outer += p.strides[1][a]
		if w.idx[a] < p.dims[a] {
			return
		}
		w.outer -= p.strides[1][a] * p.dims[a]
		w.idx[a] = 0
	}
}

// gatherBlock writes elements [i0, i1) of the broadcast view described by p (operand 1 read
// from src) into dst. idx is scratch of at least len(p.dims) ints.
func gatherBlock(p *loopPlan, src, dst []float32, i0, i1 int, idx []int) {
	if len(p.dims) == 0 {
		dst[0] = src[p.bases[1]]
		return
	}
	var w blockWalker
	j := w.start(p, idx, i0)
	rl, ss := w.rl, w.ss
	o := 0
	for i := i0; i < i1; {
		cnt := min(rl-j, i1-i)
		d := dst[o : o+cnt]
		s0 := w.offset() + j*ss
		switch ss {
		case 1:
			copy(d, src[s0:s0+cnt])
		case 0:
			v := src[s0]
			for k := range d {
				d[k] = v
			}
		default:
			for k := range d {
				d[k] = src[s0]
				s0 += ss
			}
		}
		o += cnt
		i += cnt
		j = 0
		w.next()
	}
}

// run computes the group's final node into out.
func (g *fusedGroup) run(ec *execCtx, out any, vals []any) error {
	dst := out.([]float32)
	size := g.out.shape.Size()
	blocks := (size + fusedBlock - 1) / fusedBlock
	parts := 1
	var partials [][]float32
	if g.reduce != nil {
		// Each goroutine sums into its own partial output; part 0 into dst.
		parts = min(ec.parallelism, blocks)
		if size*(len(g.instrs)+1) < minParallelWork {
			parts = 1
		}
		partials = make([][]float32, parts)
		partials[0] = dst
		for i := 1; i < parts; i++ {
			partials[i] = ec.getF32(len(dst))
			defer ec.putF32(partials[i])
		}
		for _, p := range partials {
			clear(p)
		}
	}
	leafVals := make([][]float32, len(g.leaves))
	for i, l := range g.leaves {
		leafVals[i] = vals[l.n.idx].([]float32)
	}
	nRegs := len(g.instrs) + len(g.leaves)
	body := func(lo, hi int, sum []float32) {
		scratch := ec.getF32(nRegs * fusedBlock)
		defer ec.putF32(scratch)
		reg := func(k int) []float32 { return scratch[k*fusedBlock : (k+1)*fusedBlock] }
		nI := len(g.instrs)
		views := make([][]float32, len(g.leaves))
		idx := make([]int, len(g.out.shape.Dimensions)+1)
		strides := make([]int, len(g.leaves))
		operand := func(op fusedOperand, n int) ([]float32, int) {
			if op.leaf >= 0 {
				return views[op.leaf], strides[op.leaf]
			}
			return reg(op.reg)[:n], 1
		}
		for blk := lo; blk < hi; blk++ {
			i0 := blk * fusedBlock
			i1 := min(size, i0+fusedBlock)
			n := i1 - i0
			for li, l := range g.leaves {
				switch {
				case l.direct:
					views[li], strides[li] = leafVals[li][i0:i1], 1
				case l.scalar:
					views[li], strides[li] = leafVals[li][:1], 0
				default:
					buf := reg(nI + li)[:n]
					gatherBlock(l.plan, leafVals[li], buf, i0, i1, idx)
					views[li], strides[li] = buf, 1
				}
			}
			for k, ins := range g.instrs {
				var d []float32
				if k == nI-1 && sum == nil {
					d = dst[i0:i1]
				} else {
					d = reg(k)[:n]
				}
				a, sa := operand(ins.a, n)
				if ins.unary {
					unaryRunF32(ins.op, d, a)
					continue
				}
				b, sb := operand(ins.b, n)
				binaryRunF32(ins.op, d, a, b, sa, sb)
			}
			if sum != nil {
				reduceBlock(g.rplan, sum, reg(nI - 1)[:n], i0, i1, idx)
			}
		}
	}
	if g.reduce == nil {
		parallelFor(ec.parallelism, blocks, size*(len(g.instrs)+1), func(lo, hi int) { body(lo, hi, nil) })
		return nil
	}
	parallelFor(parts, parts, size*(len(g.instrs)+1), func(lo, hi int) {
		for part := lo; part < hi; part++ {
			body(blocks*part/parts, blocks*(part+1)/parts, partials[part])
		}
	})
	for _, p := range partials[1:] {
		combine(backends.OpTypeReduceSum, dst, p)
	}
	return nil
}

// reduceBlock adds the values v of input elements [i0, i1) of a reduction (plan p: operand 0
// the input in row-major order, operand 1 the output) into sum. idx is scratch.
func reduceBlock(p *loopPlan, sum, v []float32, i0, i1 int, idx []int) {
	if len(p.dims) == 0 {
		sum[p.bases[1]] += v[0]
		return
	}
	var w blockWalker
	j := w.start(p, idx, i0)
	rl, ds := w.rl, w.ss
	o := 0
	for i := i0; i < i1; {
		cnt := min(rl-j, i1-i)
		src := v[o : o+cnt]
		off := w.offset()
		if ds == 0 {
			sum[off] = reduceInto(backends.OpTypeReduceSum, sum[off], src)
		} else {
			d := sum[off+j*ds:]
			if ds == 1 {
				d = d[:cnt]
				for k, x := range src {
					d[k] += x
				}
			} else {
				for k, x := range src {
					d[k*ds] += x
				}
			}
		}
		o += cnt
		i += cnt
		j = 0
		w.next()
	}
}

// describe names the group's ops and leaf kinds (d: direct, s: scalar, b: broadcast), for
// profiles.
func (g *fusedGroup) describe() string {
	var sb strings.Builder
	for i, ins := range g.instrs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(ins.op.String())
	}
	if g.reduce != nil {
		sb.WriteString("->ReduceSum")
	}
	sb.WriteString(" leaves:")
	for _, l := range g.leaves {
		switch {
		case l.direct:
			sb.WriteByte('d')
		case l.scalar:
			sb.WriteByte('s')
		default:
			sb.WriteByte('b')
		}
	}
	return sb.String()
}
