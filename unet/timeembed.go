package unet

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// sinusoidalEmbedding embeds times t [B] as [B, dim]: dim/2 sines followed by
// dim/2 cosines of t·f_i, with frequencies f_i spaced geometrically from 1 to
// maxFreq.
func sinusoidalEmbedding(t *Node, dim int, maxFreq float64) *Node {
	g := t.Graph()
	half := dim / 2
	freqs := make([]float32, half)
	for i := range freqs {
		frac := 0.0
		if half > 1 {
			frac = float64(i) / float64(half-1)
		}
		freqs[i] = float32(math.Exp(frac * math.Log(maxFreq)))
	}
	args := Mul(InsertAxes(ConvertDType(t, dtypes.Float32), -1), Const(g, [][]float32{freqs})) // [B, half]
	return Concatenate([]*Node{Sin(args), Cos(args)}, -1)
}

// timeEmbedding maps t [B] to the embedding the residual blocks receive,
// [B, TimeHiddenDim]: sinusoidal embedding -> Dense -> SiLU -> Dense.
func timeEmbedding(ctx *context.Context, cfg Config, t *Node) *Node {
	e := sinusoidalEmbedding(t, cfg.TimeEmbedDim, cfg.MaxFrequency)
	e = dense(ctx.In("dense0"), e, cfg.TimeHiddenDim, 2)
	e = silu(e)
	return dense(ctx.In("dense1"), e, cfg.TimeHiddenDim, 1)
}

// stepEmbedding maps step sizes d [B] to [B, TimeHiddenDim]: the same
// sinusoidal embedding and MLP shape as the time, with the last layer
// zero-initialised so that a new flow-map model starts as d-independent.
func stepEmbedding(ctx *context.Context, cfg Config, d *Node) *Node {
	e := sinusoidalEmbedding(d, cfg.TimeEmbedDim, cfg.MaxFrequency)
	e = dense(ctx.In("dense0"), e, cfg.TimeHiddenDim, 2)
	e = silu(e)
	return denseZero(ctx.In("dense1"), e, cfg.TimeHiddenDim)
}
