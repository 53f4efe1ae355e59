package fastcpu

// fusedGroup is a chain of float32 elementwise nodes computed in one blocked pass.
type fusedGroup struct {
	inputs []*node // external inputs of the group
}

// findFusions returns, for every node that belongs to a fused group, its group (for the group's
// final node) or nil (for interior nodes). Nodes in no group are absent.
func findFusions(nodes []*node, needed []bool, uses []int) map[int]*fusedGroup {
	return nil
}

// run computes the group's final node into out.
func (g *fusedGroup) run(ec *execCtx, out any, vals []any) error { return nil }
