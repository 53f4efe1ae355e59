package unet

import (
	"encoding/json"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Velocity builds the velocity model's graph: x [B,H,W,C] (C = ImageChannels)
// and t [B] -> v [B,H,W,C].
//
// Variables are created in ctx's current scope on first use (initialised
// deterministically from [ParamInitSeed]) and reused afterwards; variables
// that already exist (for example loaded from a checkpoint) must have the
// shapes the config implies. Like every GoMLX graph function it panics on
// errors; callers at package boundaries recover (see [Check] for the
// non-panicking validation).
//
// Layout (ref-unet-32 is the case Levels=3, BlocksPerLevel=1, MiddleBlocks=2):
//
//	temb = MLP(sinusoidal(t))
//	h = Conv3x3(x)
//	down: per level, BlocksPerLevel residual blocks (+attention), keep h as the level's skip, then 2x2 average pooling except at the lowest level
//	middle: MiddleBlocks residual blocks at the lowest resolution
//	up: per level from the lowest, concatenate the skip on channels, BlocksPerLevel residual blocks, then 2x nearest upsampling except at the top
//	v = Conv3x3_zero(SiLU(GroupNorm(h)))
func Velocity(ctx *context.Context, cfg Config, x, t *Node) *Node {
	return VelocityLabeled(ctx, cfg, x, t, nil)
}

// VelocityLabeled is [Velocity] for class-conditional models: labels [B]
// (int32) holds each image's class in [0, NumClasses), or NumClasses for "no
// label" (the unconditional velocity used by classifier-free guidance). The
// label's learned embedding is added to the time embedding. With nil labels
// every image is unlabelled; for models without classes labels must be nil.
func VelocityLabeled(ctx *context.Context, cfg Config, x, t, labels *Node) *Node {
	return build(ctx, cfg, x, t, nil, labels)
}

// AverageVelocity builds the flow map's average velocity u(x, t, d) over
// [t, t+d] of a model with StepInput: x [B,H,W,C], t and d [B] ->
// [B,H,W,C]; u(x, t, 0) is the velocity v(x, t) that [Velocity] returns.
func AverageVelocity(ctx *context.Context, cfg Config, x, t, d *Node) *Node {
	if !cfg.StepInput {
		panic(fmt.Errorf("average velocity of a model without a step input (step_input=false)"))
	}
	if ds := d.Shape(); ds.Rank() != 1 || ds.Dim(0) != x.Shape().Dim(0) {
		panic(fmt.Errorf("d has shape %s: the model needs [%d], one step size per image", ds, x.Shape().Dim(0)))
	}
	return build(ctx, cfg, x, t, d, nil)
}

// build is the U-Net; d (nil: 0) is the step size of a StepInput model.
func build(ctx *context.Context, cfg Config, x, t, d, labels *Node) *Node {
	if err := Check(cfg, x, t); err != nil {
		panic(err)
	}
	if labels != nil && cfg.NumClasses == 0 {
		panic(fmt.Errorf("labels given to a model without classes (num_classes=0)"))
	}
	ctx = ctx.Checked(false)
	temb := timeEmbedding(ctx.In("time"), cfg, t)
	if cfg.StepInput {
		if d == nil {
			d = ZerosLike(t)
		}
		temb = Add(temb, stepEmbedding(ctx.In("step"), cfg, ConvertDType(d, dtypes.Float32)))
	}
	if cfg.NumClasses > 0 {
		temb = Add(temb, labelEmbedding(ctx.In("label"), cfg, x, labels))
	}
	channels := cfg.LevelChannels()

	h := conv2D(ctx.In("stem"), x, 3, channels[0], false)
	skips := make([]*Node, len(channels))
	for level, ch := range channels {
		lctx := ctx.Inf("down%d", level)
		for i := range cfg.BlocksPerLevel {
			h = resBlock(lctx.Inf("block%d", i), cfg, h, temb, ch)
			if cfg.hasAttention(h.Shape().Dim(1)) {
				h = selfAttention(lctx.Inf("attn%d", i), cfg, h)
			}
		}
		skips[level] = h
		if level < len(channels)-1 {
			h = avgPool2(h)
		}
	}
	lowest := channels[len(channels)-1]
	for i := range cfg.MiddleBlocks {
		h = resBlock(ctx.Inf("middle%d", i), cfg, h, temb, lowest)
	}
	for level := len(channels) - 1; level >= 0; level-- {
		lctx := ctx.Inf("up%d", level)
		h = Concatenate([]*Node{h, skips[level]}, -1)
		for i := range cfg.BlocksPerLevel {
			h = resBlock(lctx.Inf("block%d", i), cfg, h, temb, channels[level])
			if cfg.hasAttention(h.Shape().Dim(1)) {
				h = selfAttention(lctx.Inf("attn%d", i), cfg, h)
			}
		}
		if level > 0 {
			h = upsample2(h)
		}
	}
	h = silu(groupNorm(ctx.In("head_norm"), h, cfg.GroupNormGroups))
	return conv2D(ctx.In("head"), h, 3, cfg.ImageChannels, true)
}

// Check validates cfg and the shapes of x [B,H,W,C] and t [B] against it.
func Check(cfg Config, x, t *Node) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	xs, ts := x.Shape(), t.Shape()
	if xs.Rank() != 4 || xs.Dim(1) != cfg.Height || xs.Dim(2) != cfg.Width || xs.Dim(3) != cfg.ImageChannels {
		return fmt.Errorf("x has shape %s: the model needs [B,%d,%d,%d]", xs, cfg.Height, cfg.Width, cfg.ImageChannels)
	}
	if ts.Rank() != 1 || ts.Dim(0) != xs.Dim(0) {
		return fmt.Errorf("t has shape %s: the model needs [%d], one time per image", ts, xs.Dim(0))
	}
	return nil
}

// labelEmbedding returns the learned embedding [B, TimeHiddenDim] of labels
// [B] (nil: all "no label"), from a table "embeddings" of NumClasses+1 rows
// whose last row is the "no label" token. The lookup is a one-hot matrix
// product, which differentiates without scatter operations.
func labelEmbedding(ctx *context.Context, cfg Config, x, labels *Node) *Node {
	g := x.Graph()
	rows := cfg.NumClasses + 1
	table := param(ctx, g, "embeddings", []int{rows, cfg.TimeHiddenDim}, initHe, 1, 1)
	if labels == nil {
		labels = Const(g, make([]int32, x.Shape().Dim(0)))
		labels = AddScalar(labels, cfg.NumClasses)
	}
	return MatMul(OneHot(ConvertDType(labels, dtypes.Int32), rows, dtypes.Float32), table)
}

// Model adapts a Config to the small interface that training and sampling
// (package training) use: Velocity, ImageShape and ConfigJSON (and, for
// class-conditional models, NumClasses and VelocityLabeled).
type Model struct{ Config Config }

// Velocity builds v(x, t); see the package-level [Velocity].
func (m Model) Velocity(ctx *context.Context, x, t *Node) *Node { return Velocity(ctx, m.Config, x, t) }

// VelocityLabeled builds v(x, t | label); see the package-level [VelocityLabeled].
func (m Model) VelocityLabeled(ctx *context.Context, x, t, labels *Node) *Node {
	return VelocityLabeled(ctx, m.Config, x, t, labels)
}

// NumClasses returns the number of classes of a class-conditional model (0
// for an unconditional one).
func (m Model) NumClasses() int { return m.Config.NumClasses }

// HasStepInput reports whether the model is a flow map (Config.StepInput).
func (m Model) HasStepInput() bool { return m.Config.StepInput }

// AverageVelocity builds u(x, t, d); see the package-level [AverageVelocity].
func (m Model) AverageVelocity(ctx *context.Context, x, t, d *Node) *Node {
	return AverageVelocity(ctx, m.Config, x, t, d)
}

// ImageShape returns the (height, width, channels) of the model's images.
func (m Model) ImageShape() (h, w, c int) {
	return m.Config.Height, m.Config.Width, m.Config.ImageChannels
}

// ConfigJSON returns the configuration as JSON (see [ParseConfig]).
func (m Model) ConfigJSON() ([]byte, error) { return json.Marshal(m.Config) }
