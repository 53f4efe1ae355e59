package unet

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// resBlock is a time-conditioned residual block: x [B,H,W,Cin] and the time
// embedding temb [B,E] -> [B,H,W,cout].
//
//	h = Conv3x3(SiLU(GroupNorm(x)))
//	add:         h = h + Dense(temb)            (per channel, broadcast over H, W)
//	             h = Conv3x3(Dropout(SiLU(GroupNorm(h))))
//	scale-shift: h = GroupNorm(h)·(1+scale) + shift, scale = Dense(SiLU(temb)), shift = Dense(SiLU(temb))
//	             h = Conv3x3(Dropout(SiLU(h)))
//	return h + (Conv1x1(x) if Cin != cout else x)
func resBlock(ctx *context.Context, cfg Config, x, temb *Node, cout int) *Node {
	g := x.Graph()
	cin := x.Shape().Dim(-1)
	b := x.Shape().Dim(0)

	h := silu(groupNorm(ctx.In("norm0"), x, cfg.GroupNormGroups))
	h = conv2D(ctx.In("conv0"), h, 3, cout, false)

	switch cfg.Conditioning {
	case ConditionScaleShift:
		act := silu(temb)
		scale := Reshape(dense(ctx.In("time_scale"), act, cout, 1), b, 1, 1, cout)
		shift := Reshape(dense(ctx.In("time_shift"), act, cout, 1), b, 1, 1, cout)
		h = groupNorm(ctx.In("norm1"), h, cfg.GroupNormGroups)
		h = Add(Mul(h, OnePlus(scale)), shift)
	default: // ConditionAdd
		tproj := dense(ctx.In("time"), temb, cout, 1)
		h = Add(h, Reshape(tproj, b, 1, 1, cout))
		h = groupNorm(ctx.In("norm1"), h, cfg.GroupNormGroups)
	}
	h = silu(h)
	if cfg.Dropout > 0 && ctx.IsTraining(g) {
		h = layers.DropoutStatic(ctx, h, cfg.Dropout)
	}
	h = conv2D(ctx.In("conv1"), h, 3, cout, false)

	skip := x
	if cin != cout {
		skip = conv2D(ctx.In("skip"), x, 1, cout, false)
	}
	return Add(h, skip)
}
