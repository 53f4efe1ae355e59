package unet

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// selfAttention is a residual multi-head self-attention layer over the H·W
// positions of x [B,H,W,C] -> [B,H,W,C]:
//
//	q, k, v = Conv1x1(GroupNorm(x)) split in `heads` heads of C/heads channels
//	x + Conv1x1_zero(softmax(q·kᵀ/√d)·v)
//
// The output projection starts at zero, so a new layer is the identity.
func selfAttention(ctx *context.Context, cfg Config, x *Node) *Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	heads := cfg.AttentionHeads
	dh := c / heads

	n := groupNorm(ctx.In("norm"), x, cfg.GroupNormGroups)
	q := Reshape(conv2D(ctx.In("query"), n, 1, c, false), b, h*w, heads, dh)
	k := Reshape(conv2D(ctx.In("key"), n, 1, c, false), b, h*w, heads, dh)
	v := Reshape(conv2D(ctx.In("value"), n, 1, c, false), b, h*w, heads, dh)

	scores := MulScalar(Einsum("bqhd,bkhd->bhqk", q, k), 1/math.Sqrt(float64(dh))) // [B, heads, HW, HW]
	weights := Softmax(scores, -1)
	attended := Einsum("bhqk,bkhd->bqhd", weights, v) // [B, HW, heads, dh]
	out := conv2D(ctx.In("out"), Reshape(attended, b, h, w, c), 1, c, true)
	return Add(x, out)
}
