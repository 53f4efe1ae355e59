package fastcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/pkg/errors"
)

// isAlias tells whether a node's result is its first input's memory (no computation).
func isAlias(n *node) bool {
	return n.op == backends.OpTypeReshape || n.op == backends.OpTypeIdentity
}

// root follows aliases to the node that owns the memory of n's result.
func root(n *node) *node {
	for isAlias(n) {
		n = n.inputs[0]
	}
	return n
}

// plan turns the builder's nodes into an Executable: it keeps the nodes the outputs need (in
// creation order, which is topological), fuses elementwise chains, and schedules every buffer's
// release after its last use.
func plan(b *Builder, outs []*node) (*Executable, error) {
	nodes := b.nodes
	needed := make([]bool, len(nodes))
	stack := make([]*node, 0, len(outs))
	stack = append(stack, outs...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[n.idx] {
			continue
		}
		needed[n.idx] = true
		stack = append(stack, n.inputs...)
	}
	e := &Executable{backend: b.backend, name: b.name, numNodes: len(nodes), params: b.params, outputs: outs}
	e.dtypes = make([]dtypes.DType, len(nodes))
	for i, n := range nodes {
		e.dtypes[i] = n.shape.DType
	}
	paramPos := make(map[int]int, len(b.params))
	for i, p := range b.params {
		paramPos[p.idx] = i
	}
	// Consumers count (by node), used by fusion to know which intermediates escape a chain.
	uses := make([]int, len(nodes))
	for _, n := range nodes {
		if needed[n.idx] {
			for _, in := range n.inputs {
				uses[in.idx]++
			}
		}
	}
	for _, o := range outs {
		uses[o.idx]++
	}
	var groups map[int]*fusedGroup
	if !b.backend.noFusion {
		groups = findFusions(nodes, needed, uses)
	}
	for _, n := range nodes {
		if !needed[n.idx] {
			continue
		}
		switch {
		case n.op == backends.OpTypeParameter:
			continue
		case n.op == backends.OpTypeConstant:
			e.consts = append(e.consts, n)
			continue
		case isAlias(n):
			e.steps = append(e.steps, step{n: n, alias: true})
			continue
		}
		if g, ok := groups[n.idx]; ok {
			if g == nil {
				continue // an interior node of a fused group: computed inside the group's step
			}
			e.steps = append(e.steps, step{n: n, fused: g})
			continue
		}
		k, ok := implementedOps[n.op]
		if !ok || k == nil {
			return nil, errors.Errorf("fastcpu: op %s not implemented (builder %q)", n.op, b.name)
		}
		e.steps = append(e.steps, step{n: n, kernel: k})
	}
	// Last use of every root.
	lastUse := make(map[int]int)
	for si := range e.steps {
		st := &e.steps[si]
		if st.alias {
			// Reads no data: its consumers read its root (exec.go), and a fused group may
			// never materialise a Reshape's input whose every reader is in the group.
			continue
		}
		var ins []*node
		if st.fused != nil {
			ins = st.fused.inputs
		} else {
			ins = st.n.inputs
		}
		for _, in := range ins {
			lastUse[root(in).idx] = si
		}
	}
	escaping := make(map[int]bool)
	e.outRoots = make([]int, len(outs))
	e.outCopy = make([]bool, len(outs))
	for i, o := range outs {
		r := root(o)
		e.outRoots[i] = r.idx
		if r.op == backends.OpTypeParameter || r.op == backends.OpTypeConstant || escaping[r.idx] {
			e.outCopy[i] = true
		}
		escaping[r.idx] = true
	}
	for r, si := range lastUse {
		n := nodes[r]
		switch {
		case n.op == backends.OpTypeConstant:
		case n.op == backends.OpTypeParameter:
			e.steps[si].freeParams = append(e.steps[si].freeParams, paramPos[r])
		case escaping[r]:
		default:
			e.steps[si].frees = append(e.steps[si].frees, r)
		}
	}
	for si := range e.steps {
		e.steps[si].pickInPlace(nodes)
	}
	return e, nil
}

// pickInPlace lets an elementwise fused group write its result over a same-shape input read
// in place (a direct leaf) whose memory is freed at this step anyway: the output then needs no
// buffer of its own, and its stores hit cache lines the group has just read instead of
// allocating new ones. Each block reads a leaf's elements before the group's last instruction
// overwrites the same elements, so this is safe.
func (st *step) pickInPlace(nodes []*node) {
	g := st.fused
	if g == nil || (g.reduce != nil && !g.keepOut) || g.out.shape.DType != dtypes.Float32 {
		return
	}
	for _, l := range g.leaves {
		if !l.direct {
			continue
		}
		r := root(l.n).idx
		if i := slices.Index(st.frees, r); i >= 0 && nodes[r].shape.DType == dtypes.Float32 {
			st.inPlace, st.hasInPlace = r, true
			st.frees = slices.Delete(st.frees, i, i+1)
			return
		}
	}
}
