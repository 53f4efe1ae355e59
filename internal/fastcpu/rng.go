package fastcpu

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Random bits (RNGBitGenerator), for dropout and any other in-graph randomness.
//
// The generator is counter-based: with the state s = [key, counter, stream] (uint64[3],
// backends.RNGStateShape), value i of a call is mix(base + (counter+i)·γ), base =
// mix(key) ^ stream·γ, where mix is SplitMix64's finaliser and γ its odd increment
// (SplitMix64 passes BigCrush). The new state is [key, counter+n, stream] for n values, so
// the next call draws fresh numbers. Both results are pure functions of the input state,
// which is why they are recorded as two ordinary nodes (one computes the values, the other
// the new state) rather than one node with two outputs. The values do not match XLA's or
// simplego's Philox streams; they are reproducible for a given state on any machine and
// any number of goroutines.

const rngGamma = 0x9e3779b97f4a7c15

// rngMix is SplitMix64's output function.
func rngMix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rngParams is the node.data of both nodes of an RNGBitGenerator.
type rngParams struct {
	newState bool // this node computes the advanced state, not the values
	values   int  // the number of values the call draws
}

// RNGBitGenerator implements backends.Builder: shape's worth of random bits (any integer
// dtype) from state, and the advanced state.
func (b *Builder) RNGBitGenerator(state backends.Op, shape shapes.Shape) (newState, values backends.Op, err error) {
	op := backends.OpTypeRNGBitGenerator
	ns, err := b.in(op, state)
	if err != nil {
		return nil, nil, err
	}
	if !ns[0].shape.Equal(backends.RNGStateShape) {
		return nil, nil, errorf(op, "state must be shaped %s, got %s", backends.RNGStateShape, ns[0].shape)
	}
	if !shape.DType.IsInt() {
		return nil, nil, errorf(op, "random bits need an integer dtype, got %s", shape.DType)
	}
	v := b.newNode(op, shape.Clone(), ns[0])
	v.data = &rngParams{values: shape.Size()}
	s := b.newNode(op, ns[0].shape.Clone(), ns[0])
	s.data = &rngParams{newState: true, values: shape.Size()}
	return s, v, nil
}

// execRNG runs either node of an RNGBitGenerator.
func execRNG(ec *execCtx, n *node, out any, ins []any) error {
	state := ins[0].([]uint64)
	size := n.shape.Size()
	if p := n.data.(*rngParams); p.newState {
		dst := out.([]uint64)
		dst[0], dst[1], dst[2] = state[0], state[1]+uint64(p.values), state[2]
		return nil
	}
	base := rngMix(state[0]) ^ state[2]*rngGamma
	counter := state[1]
	draw := func(i int) uint64 { return rngMix(base + (counter+uint64(i))*rngGamma) }
	var fill func(lo, hi int)
	switch dst := out.(type) {
	case []uint64:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 0) }
	case []int64:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 0) }
	case []uint32:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 32) }
	case []int32:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 32) }
	case []uint16:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 48) }
	case []int16:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 48) }
	case []uint8:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 56) }
	case []int8:
		fill = func(lo, hi int) { fillBits(dst, lo, hi, draw, 56) }
	default:
		return errorf(n.op, "random bits of dtype %s not implemented", n.shape.DType)
	}
	ec.parallelFor(size, size*8, fill)
	return nil
}

// fillBits sets dst[i] for i in [lo, hi) to the top bits of draw(i) (the draw
// shifted right by shift, truncated to T).
func fillBits[T uint8 | uint16 | uint32 | uint64 | int8 | int16 | int32 | int64](dst []T, lo, hi int,
	draw func(int) uint64, shift uint) {
	for i := lo; i < hi; i++ {
		dst[i] = T(draw(i) >> shift)
	}
}
