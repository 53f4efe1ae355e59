package unet

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// conv2D applies a same-padded, stride-1 convolution with a k×k kernel and a
// bias: x [B,H,W,Cin] -> [B,H,W,Cout]. Variables "kernel" [k,k,Cin,Cout] and
// "bias" [Cout] live in ctx's scope. With zeroInit the kernel starts at zero
// (used for the output layer, so an untrained model predicts v = 0).
func conv2D(ctx *context.Context, x *Node, k, cout int, zeroInit bool) *Node {
	g := x.Graph()
	cin := x.Shape().Dim(-1)
	kind := initHe
	if zeroInit {
		kind = initZeros
	}
	kernel := param(ctx, g, "kernel", []int{k, k, cin, cout}, kind, k*k*cin, 2)
	bias := param(ctx, g, "bias", []int{cout}, initZeros, 0, 0)
	return addPerChannel(Convolve(x, kernel).Strides(1).PadSame().Done(), bias)
}

// dense applies an affine map to the last axis: x [..., Cin] -> [..., Cout],
// with variables "weights" [Cin,Cout] and "bias" [Cout] in ctx's scope.
func dense(ctx *context.Context, x *Node, cout int, gain float64) *Node {
	g := x.Graph()
	cin := x.Shape().Dim(-1)
	w := param(ctx, g, "weights", []int{cin, cout}, initHe, cin, gain)
	b := param(ctx, g, "bias", []int{cout}, initZeros, 0, 0)
	return addPerChannel(MatMul(x, w), b)
}

// denseZero is dense with the weights initialised to zero.
func denseZero(ctx *context.Context, x *Node, cout int) *Node {
	g := x.Graph()
	w := param(ctx, g, "weights", []int{x.Shape().Dim(-1), cout}, initZeros, 0, 0)
	b := param(ctx, g, "bias", []int{cout}, initZeros, 0, 0)
	return addPerChannel(MatMul(x, w), b)
}

// groupNorm normalises x [B,H,W,C] over (H, W, channels of a group) for each
// of `groups` channel groups, then applies a learned per-channel gain "gain"
// [C] and offset "offset" [C].
func groupNorm(ctx *context.Context, x *Node, groups int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	b, h, w, c := dims[0], dims[1], dims[2], dims[3]
	grouped := Reshape(x, b, h*w, groups, c/groups)
	mean := ReduceAndKeep(grouped, ReduceMean, 1, 3)
	centred := Sub(grouped, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, 1, 3)
	// Sqrt + Div rather than Rsqrt: GoMLX v0.26.0 has no gradient for Rsqrt.
	normed := Div(centred, Sqrt(AddScalar(variance, 1e-5)))
	normed = Reshape(normed, b, h, w, c)
	gain := param(ctx, g, "gain", []int{c}, initOnes, 0, 0)
	offset := param(ctx, g, "offset", []int{c}, initZeros, 0, 0)
	return addPerChannel(mulPerChannel(normed, gain), offset)
}

// silu is x·sigmoid(x), the activation used throughout the U-Net.
func silu(x *Node) *Node { return Mul(x, Sigmoid(x)) }

// avgPool2 halves the spatial size by 2x2 averaging: [B,H,W,C] -> [B,H/2,W/2,C].
// It is written as Reshape + ReduceMean so that its gradient needs no Pad.
func avgPool2(x *Node) *Node {
	d := x.Shape().Dimensions
	r := Reshape(x, d[0], d[1]/2, 2, d[2]/2, 2, d[3])
	return ReduceMean(r, 2, 4)
}

// upsample2 doubles the spatial size by nearest-neighbour repetition:
// [B,H,W,C] -> [B,2H,2W,C].
func upsample2(x *Node) *Node {
	d := x.Shape().Dimensions
	r := Reshape(x, d[0], d[1], 1, d[2], 1, d[3])
	r = BroadcastToDims(r, d[0], d[1], 2, d[2], 2, d[3])
	return Reshape(r, d[0], 2*d[1], 2*d[2], d[3])
}

// perChannel reshapes a [C] vector to broadcast against the last axis of x.
func perChannel(x, v *Node) *Node {
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = v.Shape().Dim(0)
	return Reshape(v, dims...)
}

// addPerChannel adds v [C] to every position of x [..., C].
func addPerChannel(x, v *Node) *Node { return Add(x, perChannel(x, v)) }

// mulPerChannel multiplies every position of x [..., C] by v [C].
func mulPerChannel(x, v *Node) *Node { return Mul(x, perChannel(x, v)) }
