package unet

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// ParamInitSeed is the context hyperparameter (int64) that seeds the
// initialisation of the model's variables. Each variable draws from its own
// stream derived from this seed and the variable's scope and name, so the
// initial weights do not depend on the order in which variables are created.
const ParamInitSeed = "unet_init_seed"

// SetInitSeed sets the seed from which Velocity initialises new variables.
func SetInitSeed(ctx *context.Context, seed int64) { ctx.SetParam(ParamInitSeed, seed) }

// initKind says how a new variable is filled.
type initKind int

const (
	initZeros initKind = iota // all zeros (biases, zero-initialised output layers)
	initOnes                  // all ones (GroupNorm gains)
	initHe                    // normal with stddev sqrt(scale/fanIn)
)

// param returns the value of variable name in ctx's current scope, creating it
// with the given shape and initialisation if it does not exist yet.
//
// fanIn is the number of inputs each output of the layer sums over; scale is
// the variance gain (2 for He initialisation, 1 for layers followed by a
// residual sum).
func param(ctx *context.Context, g *Graph, name string, dims []int, kind initKind, fanIn int, scale float64) *Node {
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), name); v != nil {
		want := shapes.Make(dtypes.Float32, dims...)
		if !v.Shape().Equal(want) {
			panic(fmt.Errorf("variable %s/%s has shape %s, the model config needs %s: the weights belong to a different model",
				ctx.Scope(), name, v.Shape(), want))
		}
		return v.ValueGraph(g)
	}
	size := 1
	for _, d := range dims {
		size *= d
	}
	values := make([]float32, size)
	switch kind {
	case initOnes:
		for i := range values {
			values[i] = 1
		}
	case initHe:
		seed := context.GetParamOr(ctx, ParamInitSeed, int64(0))
		h := fnv.New64a()
		_, _ = h.Write([]byte(ctx.Scope() + "/" + name))
		rng := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
		std := math.Sqrt(scale / float64(max(fanIn, 1)))
		for i := range values {
			values[i] = float32(rng.NormFloat64() * std)
		}
	}
	v := ctx.VariableWithValue(name, tensors.FromFlatDataAndDimensions(values, dims...))
	return v.ValueGraph(g)
}
