package fastcpu

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Fusion of elementwise chains.
//
// A fused group is a set of float32 elementwise nodes (unary and binary ops) with a common
// output shape, computed together. Members used only inside the group are never materialised;
// members also used elsewhere ("exports") are written to their own buffers in the same pass. The
// group's leaves are external values read directly (same shape), as scalars, or through
// broadcast strides (size-1 axes of a binary op's operand, or the operand of a BroadcastInDim
// whose every use is fusable, which is then never materialised), or through the strides and
// offset of a Slice whose every use is fusable (a window of its operand read in place, the
// Slice never materialised).
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
	// mulAdd: the instruction computes a·b + c (an Add of a Mul computed only for it; see
	// fuseMulAdd). dead: a Mul folded into a later mulAdd, not computed.
	mulAdd, dead bool
	c            fusedOperand
	// mulAdd2: a mulAdd whose addend is itself a product c·e of a Mul used only there: the
	// instruction computes a·b + c·e (Adam's moment and EMA updates) in one pass.
	mulAdd2 bool
	e       fusedOperand
	// export is the index in fusedGroup.exports of the node this instruction computes when
	// that value is also needed outside the group (written to its own buffer), else -1.
	export int
}

// fusedLeaf is an external input of a group.
type fusedLeaf struct {
	n      *node
	direct bool // same shape as the output: read in place
	scalar bool // one value
	// strides are the leaf's strides over the output's axes (unmerged; plan merges them), for
	// broadcast leaves.
	strides []int
	plan    *loopPlan // otherwise: broadcast read (operand 0 the output, operand 1 the leaf)
	// view: the leaf is a Slice's window of n, read in place through strides and a base
	// offset (plan); the Slice itself is never materialised.
	view bool
	// period and segment describe a broadcast read that repeats with period `period` within
	// segments of `segment` elements (a per-channel vector: one segment; GroupNorm statistics:
	// one segment per image); 0 when it does not. Blocks then gather one period and tile it,
	// and regather only when a block starts a new segment.
	period, segment int
}

// periodicity returns the period and segment of a broadcast read (see fusedLeaf), or 0, 0: the
// view repeats when some axis with stride 0 has only the axes after it varying.
func periodicity(p *loopPlan) (period, segment int) {
	inner := 1
	for j := len(p.dims) - 1; j >= 0; j-- {
		if p.strides[1][j] == 0 && j < len(p.dims)-1 {
			return inner, inner * p.dims[j]
		}
		inner *= p.dims[j]
	}
	return 0, 0
}

// fusedGroup is a chain of float32 elementwise nodes computed in one blocked pass.
type fusedGroup struct {
	out *node
	// dims are the iteration dims over which the leaves' strides and plans are expressed: out's
	// dims, or a refinement of them covering members of other dims read through Reshapes
	// (the same size and row-major order; see refineDims).
	dims   []int
	leaves []fusedLeaf
	instrs []fusedInstr // evaluation order; the last one produces out
	inputs []*node      // the leaves' nodes, for buffer-lifetime planning
	// exports are members whose values are also used outside the group: the executor gives
	// each a buffer (in vals) before run, and run fills it.
	exports []*node
	// bs is the block size: fusedBlock rounded down to a multiple of the periodic leaves' period.
	bs int

	// reduce, when set, is a ReduceSum of out: the group's blocks are summed into reduce's
	// output (through rplan, the reduction's loop plan) instead of being stored.
	reduce *node
	rplan  *loopPlan
	// keepOut: the group also writes out (its step is out's), and reduce, whose input is out
	// or a Reshape of it, is a side result computed in the same pass (the executor gives it a
	// buffer before run, as for exports).
	keepOut bool
	// rows, when set, sums whole blocks row by row (see rowsReduction; blocks then hold whole
	// rows) instead of walking rplan's runs.
	rows *rowsReduction
	// outer, when set, computes the group (a matrix product written as a broadcast multiply
	// and a sum) directly; see outerReduce.
	outer *outerReduce
	// phys is the scratch block ("register") each instruction writes, -1 for instructions
	// that write an export or the output (or are dead); nPhys blocks in all (see allocRegs).
	phys  []int
	nPhys int
	// mulRows: with rows, the last instruction is a Mul whose products go straight into the
	// row sums (multiply-adds), never stored.
	mulRows bool
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

// findFusions returns, for every node that belongs to a fused group, its group (for the node
// whose step runs the group: the group's final node, or the ReduceSum it feeds) or nil (for the
// other members, and for BroadcastInDim nodes read as broadcast leaves). Nodes in no group are
// absent.
//
// Groups are grown backwards from the last unassigned fusable node r over fusable inputs of the
// same shape, or of the same size read through Reshapes. A member with uses outside the group is
// exported (also written to its own buffer) provided all those uses come after r (a use by a
// group formed earlier comes at that group's step); otherwise it is left out, with anything
// that only fed it.
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
	// absorbedBroadcast: a float32 BroadcastInDim all of whose uses are fusable nodes of its
	// shape; every group reads it as a broadcast leaf and it is never materialised.
	absorbedBroadcast := func(m *node) bool {
		cs := consumers[m.idx]
		if m.op != backends.OpTypeBroadcastInDim || m.shape.DType != dtypes.Float32 || !needed[m.idx] ||
			len(cs) == 0 || len(cs) != uses[m.idx] {
			return false
		}
		for _, c := range cs {
			if !isFusable(c) || !sameDims(m, c) {
				return false
			}
		}
		return true
	}
	// absorbedSlice: a float32 Slice all of whose uses are fusable nodes of its shape; every
	// group reads the sliced window of its operand in place (a strided leaf) and the Slice is
	// never materialised (the gradient of a channel concatenation feeding skip-connection Adds).
	absorbedSlice := func(m *node) bool {
		cs := consumers[m.idx]
		if m.op != backends.OpTypeSlice || m.shape.DType != dtypes.Float32 || !needed[m.idx] ||
			len(cs) == 0 || len(cs) != uses[m.idx] {
			return false
		}
		for _, c := range cs {
			if !isFusable(c) || !sameDims(m, c) {
				return false
			}
		}
		return true
	}
	// effConsumers returns m's consumers with Reshapes of m replaced by their own consumers
	// (recursively): a group may hold m and the nodes that read it through Reshapes (the same
	// values in the same order). escapes: some Reshape of m is a graph output.
	var effConsumers func(m *node) (cs []*node, escapes bool)
	effConsumers = func(m *node) (cs []*node, escapes bool) {
		for _, c := range consumers[m.idx] {
			if c.op != backends.OpTypeReshape {
				cs = append(cs, c)
				continue
			}
			sub, esc := effConsumers(c)
			cs = append(cs, sub...)
			escapes = escapes || esc || uses[c.idx] > len(consumers[c.idx])
		}
		return cs, escapes
	}
	groups := make(map[int]*fusedGroup)
	assigned := make([]bool, len(nodes))
	// runsAt is, for a node assigned to a group, the index of the node whose step runs the
	// group: always after any group formed later in this loop (groups are formed from the
	// last node backwards). at is the position at which a node's value is computed.
	runsAt := make([]int, len(nodes))
	at := func(c *node) int {
		if assigned[c.idx] {
			return runsAt[c.idx]
		}
		return c.idx
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		r := nodes[i]
		if !needed[r.idx] || !isFusable(r) || assigned[r.idx] {
			continue
		}
		// Phase 1: candidates reachable backwards through fusable nodes of r's shape, or of
		// r's size read through Reshapes when the group's iteration dims can be refined to
		// cover theirs (see refineDims).
		inS := map[int]bool{r.idx: true}
		stack := []*node{r}
		iter := r.shape.Dimensions
		for len(stack) > 0 {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, x := range m.inputs {
				x = throughReshapes(x)
				if inS[x.idx] || assigned[x.idx] || !needed[x.idx] || !isFusable(x) || x.shape.Size() != r.shape.Size() {
					continue
				}
				if !sameDims(x, r) {
					ref, ok := refineDims(iter, x.shape.Dimensions)
					if !ok {
						continue
					}
					iter = ref
				}
				inS[x.idx] = true
				stack = append(stack, x)
			}
		}
		// Phase 2: drop members used before r's step by nodes outside the group (a member of a
		// group formed earlier here is used at that group's step), and members that no longer
		// feed the group, until stable.
		for changed := true; changed; {
			changed = false
			for idx := range inS {
				if idx == r.idx {
					continue
				}
				inside, early := 0, false
				cs, _ := effConsumers(nodes[idx])
				for _, c := range cs {
					if inS[c.idx] {
						inside++
					} else if at(c) < r.idx {
						early = true
					}
				}
				if early || inside == 0 {
					delete(inS, idx)
					changed = true
				}
			}
		}
		members := make([]*node, 0, len(inS))
		for idx := range inS {
			members = append(members, nodes[idx])
		}
		slices.SortFunc(members, func(a, b *node) int { return a.idx - b.idx })

		g := &fusedGroup{out: r, dims: r.shape.Dimensions}
		for _, m := range members {
			if !sameDims(m, r) {
				g.dims, _ = refineDims(g.dims, m.shape.Dimensions) // exists: a coarsening of iter
			}
		}
		type leafKey struct {
			n    *node
			dims string
		}
		leafOf := make(map[leafKey]int)
		regOf := make(map[int]int)
		// addLeaf adds a leaf read by a member of dims outDims (same size as g.dims).
		addLeaf := func(src *node, bcast *node, outDims []int) fusedOperand {
			key := leafKey{src, fmt.Sprint(outDims)}
			if bcast != nil {
				key.n = bcast
			}
			if i, ok := leafOf[key]; ok {
				return fusedOperand{leaf: i}
			}
			l := fusedLeaf{n: src}
			switch {
			case bcast != nil && bcast.op == backends.OpTypeSlice:
				var base int
				l.strides, base = sliceStrides(src.shape.Dimensions, bcast.data.(*sliceParams))
				l.plan = newLoopPlan(outDims, []int{base}, l.strides)
				l.view = true
			case bcast != nil:
				l.strides = broadcastInDimStrides(src.shape.Dimensions, outDims, bcast.axes)
				l.plan = newLoopPlan(outDims, nil, l.strides)
			case src.shape.Size() == 1:
				l.scalar = true
			case slices.Equal(src.shape.Dimensions, outDims):
				l.direct = true
			default:
				l.strides = broadcastStrides(src.shape.Dimensions, outDims)
				l.plan = newLoopPlan(outDims, nil, l.strides)
			}
			if l.plan != nil && !slices.Equal(outDims, g.dims) {
				l.strides = refineStrides(outDims, g.dims, l.strides)
				l.plan = newLoopPlan(g.dims, l.plan.bases[1:], l.strides)
			}
			g.leaves = append(g.leaves, l)
			g.inputs = append(g.inputs, src)
			leafOf[key] = len(g.leaves) - 1
			return fusedOperand{leaf: len(g.leaves) - 1}
		}
		for _, m := range members {
			in := make([]fusedOperand, len(m.inputs))
			for k, x := range m.inputs {
				switch {
				case inS[throughReshapes(x).idx]:
					in[k] = fusedOperand{leaf: -1, reg: regOf[throughReshapes(x).idx]}
				case absorbedBroadcast(x), absorbedSlice(x):
					groups[x.idx] = nil
					in[k] = addLeaf(x.inputs[0], x, m.shape.Dimensions)
				default:
					in[k] = addLeaf(x, nil, m.shape.Dimensions)
				}
			}
			ins := fusedInstr{op: m.op, unary: len(in) == 1, a: in[0], export: -1}
			if len(in) == 2 {
				ins.b = in[1]
			}
			if m != r {
				cs, escapes := effConsumers(m)
				outside := escapes || uses[m.idx] > len(consumers[m.idx]) // a graph output
				for _, c := range cs {
					outside = outside || !inS[c.idx]
				}
				if outside {
					ins.export = len(g.exports)
					g.exports = append(g.exports, m)
				}
			}
			regOf[m.idx] = len(g.instrs)
			g.instrs = append(g.instrs, ins)
		}
		g.fuseMulAdd()
		g.chooseBlock()
		for _, m := range members {
			assigned[m.idx] = true
			runsAt[m.idx] = r.idx
			if m != r {
				groups[m.idx] = nil
			}
		}
		// A single-use final node feeding a ReduceSum is reduced block by block, never
		// materialised, if no exported value is needed before the ReduceSum runs.
		if cs := consumers[r.idx]; len(cs) == 1 && uses[r.idx] == 1 && cs[0].op == backends.OpTypeReduceSum &&
			cs[0].shape.DType == dtypes.Float32 && exportsUsedAfter(g, effConsumers, at, inS, cs[0].idx) {
			for _, m := range members {
				runsAt[m.idx] = cs[0].idx
			}
			g.reduce = cs[0]
			g.rplan = reducePlan(cs[0])
			g.setupRows()
			g.allocRegs()
			g.outer = newOuterReduce(g)
			groups[r.idx] = nil
			groups[cs[0].idx] = g
			continue
		}
		// Otherwise a ReduceSum of the final node (or of a Reshape of it: GroupNorm statistics)
		// is computed in the same pass as a side result, saving a pass over the values.
		if c := sideReduction(r, consumers, needed); c != nil {
			g.reduce, g.keepOut = c, true
			g.rplan = reducePlan(c)
			g.setupRows()
			groups[c.idx] = nil
		}
		g.allocRegs()
		groups[r.idx] = g
	}
	return groups
}

// sideReduction returns a float32 ReduceSum whose input is r or reached from r through
// Reshapes only (the same values in the same order), or nil. The ReduceSum can then be
// computed in r's group's pass, at r's step: earlier than its own position, which is safe as
// it depends on nothing else.
func sideReduction(r *node, consumers [][]*node, needed []bool) *node {
	for _, c := range consumers[r.idx] {
		if !needed[c.idx] {
			continue
		}
		switch {
		case c.op == backends.OpTypeReduceSum && c.shape.DType == dtypes.Float32:
			return c
		case c.op == backends.OpTypeReshape:
			if d := sideReduction(c, consumers, needed); d != nil {
				return d
			}
		}
	}
	return nil
}

// fuseMulAdd turns each Add one of whose operands is a Mul used nowhere else (not by another
// instruction, not exported) into one multiply-add instruction a·b + c (fused, one rounding,
// where the CPU has FMA) and marks the Mul dead: one pass over the block instead of two. Adam's
// moment updates, GroupNorm's scale and shift and their gradients have this form.
func (g *fusedGroup) fuseMulAdd() {
	uses := make([]int, len(g.instrs))
	for _, ins := range g.instrs {
		ops := []fusedOperand{ins.a, ins.b}
		if ins.unary {
			ops = ops[:1]
		}
		for _, op := range ops {
			if op.leaf < 0 {
				uses[op.reg]++
			}
		}
	}
	for k := range g.instrs {
		ins := &g.instrs[k]
		if ins.op != backends.OpTypeAdd || ins.unary {
			continue
		}
		for side, op := range []fusedOperand{ins.a, ins.b} {
			if op.leaf >= 0 {
				continue
			}
			m := &g.instrs[op.reg]
			if m.op != backends.OpTypeMul || m.unary || m.dead || m.mulAdd || m.export >= 0 || uses[op.reg] != 1 {
				continue
			}
			other := ins.b
			if side == 1 {
				other = ins.a
			}
			ins.mulAdd, ins.a, ins.b, ins.c = true, m.a, m.b, other
			m.dead = true
			if other.leaf < 0 {
				m2 := &g.instrs[other.reg]
				if m2.op == backends.OpTypeMul && !m2.unary && !m2.dead && !m2.mulAdd && m2.export < 0 && uses[other.reg] == 1 {
					ins.mulAdd2, ins.c, ins.e = true, m2.a, m2.b
					m2.dead = true
				}
			}
			break
		}
	}
}

// operands returns the instruction's operands.
func (ins *fusedInstr) operands() []fusedOperand {
	switch {
	case ins.unary:
		return []fusedOperand{ins.a}
	case ins.mulAdd2:
		return []fusedOperand{ins.a, ins.b, ins.c, ins.e}
	case ins.mulAdd:
		return []fusedOperand{ins.a, ins.b, ins.c}
	}
	return []fusedOperand{ins.a, ins.b}
}

// allocRegs assigns each instruction whose value lives only in scratch (not an export, not
// the output of an elementwise group) a scratch block, reusing the blocks of values no longer
// needed: a group's working set is then a few blocks, which stay in L1, instead of one block
// per instruction. An instruction may write the block of an operand it reads for the last
// time: every kernel reads an element before writing the same element.
func (g *fusedGroup) allocRegs() {
	n := len(g.instrs)
	last := make([]int, n) // the last instruction reading each instruction's value
	for k := range g.instrs {
		if g.instrs[k].dead {
			continue
		}
		for _, op := range g.instrs[k].operands() {
			if op.leaf < 0 {
				last[op.reg] = k
			}
		}
	}
	g.phys = make([]int, n)
	g.nPhys = 0
	var free []int
	for k := range g.instrs {
		ins := &g.instrs[k]
		g.phys[k] = -1
		if ins.dead {
			continue
		}
		for _, op := range ins.operands() {
			if op.leaf < 0 && last[op.reg] == k {
				if p := g.phys[op.reg]; p >= 0 && !slices.Contains(free, p) {
					free = append(free, p)
				}
			}
		}
		if ins.export >= 0 || (k == n-1 && (g.reduce == nil || g.keepOut)) {
			continue
		}
		if len(free) > 0 {
			g.phys[k] = free[len(free)-1]
			free = free[:len(free)-1]
		} else {
			g.phys[k] = g.nPhys
			g.nPhys++
		}
	}
}

// chooseBlock picks the block size and marks the broadcast leaves that can be tiled from one
// period per block: the block is a multiple k·period of the most common period (at most
// fusedBlock) such that blocks never straddle a segment of those leaves.
func (g *fusedGroup) chooseBlock() {
	g.bs = fusedBlock
	size := g.out.shape.Size()
	counts := make(map[int]int)
	period := 0
	for _, l := range g.leaves {
		if l.plan == nil {
			continue
		}
		if p, _ := periodicity(l.plan); p > 0 && p <= fusedBlock {
			counts[p]++
			if period == 0 || counts[p] > counts[period] {
				period = p
			}
		}
	}
	if period == 0 {
		return
	}
	fits := func(k int) bool {
		for _, l := range g.leaves {
			if l.plan == nil {
				continue
			}
			if p, seg := periodicity(l.plan); p == period && seg < size && (seg/p)%k != 0 {
				return false
			}
		}
		return true
	}
	k := fusedBlock / period
	for k > 1 && !fits(k) {
		k--
	}
	g.bs = k * period
	for i := range g.leaves {
		l := &g.leaves[i]
		if l.plan == nil {
			continue
		}
		if p, seg := periodicity(l.plan); p == period && (seg >= size || seg%g.bs == 0) {
			l.period, l.segment = p, seg
		}
	}
}

// setupRows makes a reducing group sum by rows (g.rows) when its reduction has the form
// rowsReduction describes with a tail of 8 to fusedBlock elements and blocks can hold whole
// rows: the block size is already a multiple of the tail, or no periodic leaf constrains it.
func (g *fusedGroup) setupRows() {
	rr, ok := newRowsReduction(g.rplan, fusedBlock)
	if !ok || rr.tail < 8 {
		return
	}
	if g.bs%rr.tail != 0 {
		for _, l := range g.leaves {
			if l.period > 0 {
				return
			}
		}
		g.bs = fusedBlock / rr.tail * rr.tail
	}
	g.rows = &rr
	last := g.instrs[len(g.instrs)-1]
	g.mulRows = !g.keepOut && last.op == backends.OpTypeMul && !last.unary && !last.mulAdd && last.export < 0
}

// exportsUsedAfter tells whether every use of the group's exported values outside the group
// comes after node index pos (at gives the position at which a consumer is computed).
func exportsUsedAfter(g *fusedGroup, effConsumers func(*node) ([]*node, bool), at func(*node) int,
	inS map[int]bool, pos int) bool {
	for _, x := range g.exports {
		cs, _ := effConsumers(x)
		for _, c := range cs {
			if !inS[c.idx] && at(c) < pos {
				return false
			}
		}
	}
	return true
}

// throughReshapes follows Reshapes from x to the node whose values they present.
func throughReshapes(x *node) *node {
	for x.op == backends.OpTypeReshape {
		x = x.inputs[0]
	}
	return x
}

// refineDims returns the coarsest dims that refine both a and b (dims of the same size): each
// axis of either is a run of consecutive axes of the result, so an index over the result maps
// to an index over either by grouping axes. Size-1 axes are dropped (a is returned as is when
// the two are equal). ok is false when no such dims exist ([6, 4] and [4, 6]).
func refineDims(a, b []int) (dims []int, ok bool) {
	if slices.Equal(a, b) {
		return a, true
	}
	var i, j int
	pa, pb := 1, 1
	for {
		for pa == 1 && i < len(a) {
			pa, i = a[i], i+1
		}
		for pb == 1 && j < len(b) {
			pb, j = b[j], j+1
		}
		if pa == 1 || pb == 1 {
			return dims, pa == 1 && pb == 1
		}
		switch {
		case pa%pb == 0:
			dims = append(dims, pb)
			pa, pb = pa/pb, 1
		case pb%pa == 0:
			dims = append(dims, pa)
			pa, pb = 1, pb/pa
		default:
			return nil, false
		}
	}
}

// refineStrides maps strides over dims to strides over ref, a refinement of dims from
// refineDims: an axis of dims split into ref axes (d1, ..., dk) gives them its stride times
// the products d2···dk, ..., dk, 1.
func refineStrides(dims, ref, strides []int) []int {
	out := make([]int, len(ref))
	j := 0
	for a, d := range dims {
		if d == 1 {
			continue
		}
		start := j
		for p := 1; p < d; j++ {
			p *= ref[j]
		}
		inner := strides[a]
		for k := j - 1; k >= start; k-- {
			out[k] = inner
			inner *= ref[k]
		}
	}
	return out
}

// sliceStrides returns the strides, over the Slice's output axes, and the starting offset with
// which Slice (parameters sp) reads its row-major operand of dims.
func sliceStrides(dims []int, sp *sliceParams) (strides []int, base int) {
	rm := rowMajorStrides(dims)
	strides = make([]int, len(dims))
	for i := range dims {
		strides[i] = rm[i] * sp.strides[i]
		base += sp.starts[i] * rm[i]
	}
	return strides, base
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
	if g.outer != nil {
		g.outer.run(ec, g, dst, vals)
		return nil
	}
	sumDst := dst // the reduction's output
	if g.keepOut {
		sumDst = vals[g.reduce.idx].([]float32)
	}
	size := g.out.shape.Size()
	bs := g.bs
	blocks := (size + bs - 1) / bs
	parts := 1
	var partials [][]float32
	if g.reduce != nil {
		// Each goroutine sums into its own partial output; part 0 into sumDst.
		parts = min(ec.parallelism, blocks)
		if size*(len(g.instrs)+1) < minParallelWork {
			parts = 1
		}
		partials = make([][]float32, parts)
		partials[0] = sumDst
		for i := 1; i < parts; i++ {
			partials[i] = ec.getF32(len(sumDst))
			defer ec.putF32(partials[i])
		}
		for _, p := range partials {
			clear(p)
		}
	}
	leafVals := make([][]float32, len(g.leaves))
	for i, l := range g.leaves {
		leafVals[i] = vals[root(l.n).idx].([]float32)
	}
	exportVals := make([][]float32, len(g.exports))
	for i, x := range g.exports {
		exportVals[i] = vals[x.idx].([]float32)
	}
	nRegs := g.nPhys + len(g.leaves)
	body := func(lo, hi int, sum []float32) {
		scratch := ec.getF32(nRegs * bs)
		defer ec.putF32(scratch)
		var rows *rowsAccumulator
		if sum != nil && g.rows != nil {
			acc := ec.getF32(g.rows.tail)
			defer ec.putF32(acc)
			clear(acc)
			rows = &rowsAccumulator{rr: g.rows, dst: sum, acc: acc, curO: -1}
			defer rows.flush()
		}
		reg := func(k int) []float32 { return scratch[k*bs : (k+1)*bs] }
		segOf := make([]int, len(g.leaves)) // segment each periodic leaf's buffer holds
		for i := range segOf {
			segOf[i] = -1
		}
		nI := len(g.instrs)
		views := make([][]float32, len(g.leaves))
		idx := make([]int, len(g.dims)+len(g.out.shape.Dimensions)+1)
		strides := make([]int, len(g.leaves))
		results := make([][]float32, len(g.instrs))
		operand := func(op fusedOperand) ([]float32, int) {
			if op.leaf >= 0 {
				return views[op.leaf], strides[op.leaf]
			}
			return results[op.reg], 1
		}
		for blk := lo; blk < hi; blk++ {
			i0 := blk * bs
			i1 := min(size, i0+bs)
			n := i1 - i0
			for li, l := range g.leaves {
				switch {
				case l.direct:
					views[li], strides[li] = leafVals[li][i0:i1], 1
				case l.scalar:
					views[li], strides[li] = leafVals[li][:1], 0
				case l.period > 0:
					buf := reg(g.nPhys + li)
					if seg := i0 / l.segment; seg != segOf[li] {
						gatherBlock(l.plan, leafVals[li], buf[:l.period], i0, i0+l.period, idx)
						for f := l.period; f < bs; f *= 2 {
							copy(buf[f:], buf[:f])
						}
						segOf[li] = seg
					}
					views[li], strides[li] = buf[:n], 1
				default:
					buf := reg(g.nPhys + li)[:n]
					gatherBlock(l.plan, leafVals[li], buf, i0, i1, idx)
					views[li], strides[li] = buf, 1
				}
			}
			mulDone := false
			for k, ins := range g.instrs {
				if ins.dead {
					continue
				}
				if k == nI-1 && rows != nil && g.mulRows {
					a, sa := operand(ins.a)
					b, sb := operand(ins.b)
					if sa == 1 && sb == 1 {
						rows.addMul(a[:n], b[:n], i0/g.rows.tail)
						mulDone = true
						break
					}
				}
				var d []float32
				switch {
				case k == nI-1 && (sum == nil || g.keepOut):
					d = dst[i0:i1]
				case ins.export >= 0:
					d = exportVals[ins.export][i0:i1]
				default:
					d = reg(g.phys[k])[:n]
				}
				results[k] = d
				a, sa := operand(ins.a)
				if ins.unary {
					unaryRunF32(ins.op, d, a)
					continue
				}
				b, sb := operand(ins.b)
				if ins.mulAdd2 {
					c, sc := operand(ins.c)
					e, se := operand(ins.e)
					mulAdd2RunF32(d, a, b, c, e, sa, sb, sc, se)
					continue
				}
				if ins.mulAdd {
					c, sc := operand(ins.c)
					mulAddRunF32(d, a, b, c, sa, sb, sc)
					continue
				}
				binaryRunF32(ins.op, d, a, b, sa, sb)
			}
			switch {
			case mulDone:
			case rows != nil:
				rows.add(results[nI-1], i0/g.rows.tail)
			case sum != nil:
				reduceBlock(g.rplan, sum, results[nI-1], i0, i1, idx)
			}
		}
	}
	if g.reduce == nil {
		ec.parallelFor(blocks, size*(len(g.instrs)+1), func(lo, hi int) { body(lo, hi, nil) })
		return nil
	}
	ec.parallelForN(parts, parts, size*(len(g.instrs)+1), func(lo, hi int) {
		for part := lo; part < hi; part++ {
			body(blocks*part/parts, blocks*(part+1)/parts, partials[part])
		}
	})
	for _, p := range partials[1:] {
		combine(backends.OpTypeReduceSum, sumDst, p)
	}
	return nil
}

// mulAddRunF32 computes dst[i] = a[i·sa]·b[i·sb] + c[i·sc] for strides in {0, 1}, a and b not
// both broadcast: fused multiply-adds where available, else a multiply and an add.
func mulAddRunF32(dst, a, b, c []float32, sa, sb, sc int) {
	if sa == 0 {
		a, b, sa, sb = b, a, sb, sa
	}
	if sa == 1 && simdMulAdd(dst, a, b, c, sb, sc) {
		return
	}
	for i := range dst {
		dst[i] = a[i*sa]*b[i*sb] + c[i*sc]
	}
}

// mulAdd2RunF32 computes dst[i] = a[i·sa]·b[i·sb] + c[i·sc]·e[i·se] for strides in {0, 1}:
// vector loops when each product has a vector factor, else scalar.
func mulAdd2RunF32(dst, a, b, c, e []float32, sa, sb, sc, se int) {
	if sa == 0 {
		a, b, sa, sb = b, a, sb, sa
	}
	if sc == 0 {
		c, e, sc, se = e, c, se, sc
	}
	if sa == 1 && sc == 1 && simdMulAdd2(dst, a, b, c, e, sb, se) {
		return
	}
	for i := range dst {
		dst[i] = a[i*sa]*b[i*sb] + c[i*sc]*e[i*se]
	}
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
			sum[off] += sumF32(src)
		} else {
			d := sum[off+j*ds:]
			if ds == 1 {
				d = d[:cnt]
				if !simdBinary(backends.OpTypeAdd, d, d, src, 1, 1) {
					for k, x := range src {
						d[k] += x
					}
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

// describe names the group's ops and leaf kinds (d: direct, s: scalar, b: broadcast, v: slice view), for
// profiles.
func (g *fusedGroup) describe() string {
	var sb strings.Builder
	for i, ins := range g.instrs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(ins.op.String())
	}
	switch {
	case g.keepOut:
		sb.WriteString("+ReduceSum")
	case g.reduce != nil:
		sb.WriteString("->ReduceSum")
	}
	sb.WriteString(" leaves:")
	for _, l := range g.leaves {
		switch {
		case l.direct:
			sb.WriteByte('d')
		case l.scalar:
			sb.WriteByte('s')
		case l.view:
			sb.WriteByte('v')
		default:
			sb.WriteByte('b')
		}
	}
	return sb.String()
}
