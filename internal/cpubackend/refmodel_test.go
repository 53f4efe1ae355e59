package cpubackend

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// This file builds ref-unet-32 from /work/shared/docs/ref-unet-32.md for the backend's training
// test and benchmark, independently of package unet (whose graph could not be differentiated
// when this was written: no gradient for Rsqrt). NHWC, float32.

const (
	refChannels    = 3
	refTembDim     = 128
	refSinDim      = 64
	refGroups      = 8
	refImageSize   = 32
	refMaxFreq     = 1000.0
	refNormEpsilon = 1e-5
)

var refLevels = [...]int{32, 64, 128} // Channels per level (a constant table, never written).

// refSiLU is x * sigmoid(x).
func refSiLU(x *graph.Node) *graph.Node { return graph.Mul(x, graph.Sigmoid(x)) }

// refGroupNorm normalises x [B,H,W,C] over (H, W, channels of each of refGroups groups) with a
// learned per-channel scale and offset.
func refGroupNorm(ctx *context.Context, x *graph.Node) *graph.Node {
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	g := graph.Reshape(x, b, h*w, refGroups, c/refGroups)
	mean := graph.ReduceAndKeep(g, graph.ReduceMean, 1, 3)
	centred := graph.Sub(g, mean)
	variance := graph.ReduceAndKeep(graph.Square(centred), graph.ReduceMean, 1, 3)
	normed := graph.Div(centred, graph.Sqrt(graph.AddScalar(variance, refNormEpsilon)))
	normed = graph.Reshape(normed, b, h, w, c)
	scale := ctx.WithInitializer(initializers.One).VariableWithShape("scale", shapes.Make(dtypes.Float32, c)).ValueGraph(x.Graph())
	offset := ctx.WithInitializer(initializers.Zero).VariableWithShape("offset", shapes.Make(dtypes.Float32, c)).ValueGraph(x.Graph())
	return graph.Add(graph.Mul(normed, graph.Reshape(scale, 1, 1, 1, c)), graph.Reshape(offset, 1, 1, 1, c))
}

// refConvLayer is a same-padded stride-1 k x k convolution with bias.
func refConvLayer(ctx *context.Context, x *graph.Node, k, cout int) *graph.Node {
	return layers.Convolution(ctx, x).Filters(cout).KernelSize(k).PadSame().Done()
}

// refResBlock is ResBlock(in, out) of the spec.
func refResBlock(ctx *context.Context, x, temb *graph.Node, cout int) *graph.Node {
	cin := x.Shape().Dim(-1)
	h := refConvLayer(ctx.In("conv1"), refSiLU(refGroupNorm(ctx.In("norm1"), x)), 3, cout)
	t := layers.DenseWithBias(ctx.In("temb"), temb, cout)
	h = graph.Add(h, graph.Reshape(t, t.Shape().Dim(0), 1, 1, cout))
	h = refConvLayer(ctx.In("conv2"), refSiLU(refGroupNorm(ctx.In("norm2"), h)), 3, cout)
	skip := x
	if cin != cout {
		skip = refConvLayer(ctx.In("skip"), x, 1, cout)
	}
	return graph.Add(h, skip)
}

// refVelocity is ref-unet-32: x [B,32,32,3], t [B] -> v [B,32,32,3].
func refVelocity(ctx *context.Context, x, t *graph.Node) *graph.Node {
	g := x.Graph()
	// Sinusoidal embedding: frequencies geometric from 1 to refMaxFreq.
	half := refSinDim / 2
	freqs := make([]float32, half)
	for i := range freqs {
		freqs[i] = float32(math.Pow(refMaxFreq, float64(i)/float64(half-1)))
	}
	arg := graph.Mul(graph.InsertAxes(t, -1), graph.InsertAxes(graph.Const(g, freqs), 0))
	emb := graph.Concatenate([]*graph.Node{graph.Sin(arg), graph.Cos(arg)}, -1)
	temb := layers.DenseWithBias(ctx.In("time1"), emb, refTembDim)
	temb = layers.DenseWithBias(ctx.In("time2"), refSiLU(temb), refTembDim)

	h := refConvLayer(ctx.In("stem"), x, 3, refLevels[0])
	var skips [len(refLevels)]*graph.Node
	for level, c := range refLevels {
		h = refResBlock(ctx.Inf("down%d", level), h, temb, c)
		skips[level] = h
		if level < len(refLevels)-1 {
			d := h.Shape().Dimensions
			h = graph.ReduceMean(graph.Reshape(h, d[0], d[1]/2, 2, d[2]/2, 2, d[3]), 2, 4)
		}
	}
	for i := range 2 {
		h = refResBlock(ctx.Inf("middle%d", i), h, temb, refLevels[len(refLevels)-1])
	}
	for level := len(refLevels) - 1; level >= 0; level-- {
		h = graph.Concatenate([]*graph.Node{h, skips[level]}, -1)
		h = refResBlock(ctx.Inf("up%d", level), h, temb, refLevels[level])
		if level > 0 {
			d := h.Shape().Dimensions
			h = graph.BroadcastToDims(graph.Reshape(h, d[0], d[1], 1, d[2], 1, d[3]), d[0], d[1], 2, d[2], 2, d[3])
			h = graph.Reshape(h, d[0], 2*d[1], 2*d[2], d[3])
		}
	}
	return refConvLayer(ctx.In("head"), refSiLU(refGroupNorm(ctx.In("head_norm"), h)), 3, refChannels)
}

// refTrainFLOPsPerImage is the analytical training cost of ref-unet-32 per 32x32 image:
// 3 x forward, forward = 2 x the multiply-adds of convolutions and dense layers.
func refTrainFLOPsPerImage() float64 {
	var macs float64
	conv := func(s, k, cin, cout int) { macs += float64(s * s * k * k * cin * cout) }
	block := func(s, cin, cout int) {
		conv(s, 3, cin, cout)
		conv(s, 3, cout, cout)
		macs += float64(refTembDim * cout)
		if cin != cout {
			conv(s, 1, cin, cout)
		}
	}
	macs += float64(refSinDim*refTembDim + refTembDim*refTembDim)
	s := refImageSize
	conv(s, 3, refChannels, refLevels[0])
	prev := refLevels[0]
	sizes := make([]int, len(refLevels))
	for level, c := range refLevels {
		sizes[level] = s
		block(s, prev, c)
		prev = c
		if level < len(refLevels)-1 {
			s /= 2
		}
	}
	block(s, prev, prev)
	block(s, prev, prev)
	for level := len(refLevels) - 1; level >= 0; level-- {
		block(sizes[level], prev+refLevels[level], refLevels[level])
		prev = refLevels[level]
	}
	conv(refImageSize, 3, refLevels[0], refChannels)
	return 3 * 2 * macs
}
