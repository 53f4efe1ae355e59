package fastcpu_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

// BenchmarkGroupNormOps times the non-convolution op patterns of a ref-unet-32 GroupNorm + SiLU
// layer at batch 16, 32x32, 32 channels, 8 groups, each as its own graph.
//
//	GOEXPERIMENT=simd go test ./internal/fastcpu -run '^$' -bench GroupNormOps
//
// FASTCPU_BENCH_CONFIG is the backend configuration (e.g. "parallelism=1").
func BenchmarkGroupNormOps(b *testing.B) {
	backend, err := fastcpu.New(os.Getenv("FASTCPU_BENCH_CONFIG"))
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(1, 2))
	x := randTensor(rng, 16, 1024, 8, 4)
	x64 := randTensor(rng, 64, 1024, 8, 4)
	y := randTensor(rng, 16, 1024, 8, 4)
	st := randTensor(rng, 16, 1, 8, 1)
	ch := randTensor(rng, 1, 1, 8, 4)
	xi := randTensor(rng, 16, 32, 32, 32)
	sc := randTensor(rng, 16, 1, 1, 32)
	one := func(f func(in []*Node) *Node) func(in []*Node) []*Node {
		return func(in []*Node) []*Node { return []*Node{f(in)} }
	}
	cases := []opCase{
		{"stats", one(func(in []*Node) *Node { return ReduceSum(in[0], 1, 3) }), []*tensors.Tensor{x}},
		{"stats-b64", one(func(in []*Node) *Node { return ReduceSum(in[0], 1, 3) }), []*tensors.Tensor{x64}},
		{"bias-grad-b64", one(func(in []*Node) *Node { return ReduceSum(in[0], 0, 1) }), []*tensors.Tensor{x64}},
		{"bias-grad", one(func(in []*Node) *Node { return ReduceSum(in[0], 0, 1, 2) }), []*tensors.Tensor{xi}},
		{"sub-mul-reduce", one(func(in []*Node) *Node {
			c := Sub(in[0], in[1])
			return ReduceSum(Mul(c, c), 1, 3)
		}), []*tensors.Tensor{x, st}},
		{"mul-div-mul-neg-reduce", one(func(in []*Node) *Node {
			return ReduceSum(Neg(Mul(Div(Mul(in[2], in[0]), in[1]), in[0])), 1, 3)
		}), []*tensors.Tensor{x, st, y}},
		{"mul-reduce-bias", one(func(in []*Node) *Node { return ReduceSum(Mul(in[0], in[1]), 0, 1, 2) }), []*tensors.Tensor{xi, xi}},
		{"scale-shift-silu", one(func(in []*Node) *Node {
			h := Add(Mul(in[0], in[1]), in[2])
			return Mul(h, Sigmoid(h))
		}), []*tensors.Tensor{xi, sc, sc}},
		{"div-mul-mul-add-add", one(func(in []*Node) *Node {
			return Add(Add(Mul(Mul(Div(in[0], in[1]), in[2]), in[0]), in[2]), in[3])
		}), []*tensors.Tensor{x, st, ch, y}},
	}
	runOpCases(b, backend, cases)
}

// opCase is one graph of BenchmarkGroupNormOps or BenchmarkAdamUpdate.
type opCase struct {
	name string
	fn   func(in []*Node) []*Node
	in   []*tensors.Tensor
}

// BenchmarkAdamUpdate times an AdamW + EMA update of one [3, 3, 128, 128] weight (the fused
// group that dominates the optimizer step of ref-unet-32; its scalars are constants here).
func BenchmarkAdamUpdate(b *testing.B) {
	backend, err := fastcpu.New(os.Getenv("FASTCPU_BENCH_CONFIG"))
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(3, 4))
	p, g, m, v, ema := randTensor(rng, 3, 3, 128, 128), randTensor(rng, 3, 3, 128, 128), randTensor(rng, 3, 3, 128, 128),
		randTensor(rng, 3, 3, 128, 128), randTensor(rng, 3, 3, 128, 128)
	adam := func(in []*Node) []*Node {
		p, g, m, v, ema := in[0], in[1], in[2], in[3], in[4]
		g = MulScalar(g, 0.9)
		m = Add(MulScalar(m, 0.9), MulScalar(g, 0.1))
		v = Add(MulScalar(v, 0.999), MulScalar(Mul(g, g), 0.001))
		u := Div(MulScalar(m, 1.5), AddScalar(Sqrt(MulScalar(v, 1.2)), 1e-8))
		u = Add(u, MulScalar(p, 0.01))
		p = Sub(p, MulScalar(u, 1e-3))
		ema = Add(MulScalar(ema, 0.999), MulScalar(p, 0.001))
		return []*Node{p, m, v, ema}
	}
	runOpCases(b, backend, []opCase{{"3x3x128x128", adam, []*tensors.Tensor{p, g, m, v, ema}}})
}

// runOpCases runs each case as a sub-benchmark.
func runOpCases(b *testing.B, backend backends.Backend, cases []opCase) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			exec, err := NewExec(backend, c.fn)
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Finalize()
			args := make([]any, len(c.in))
			for i, t := range c.in {
				args[i] = t
			}
			finalize := func(outs []*tensors.Tensor) {
				for _, o := range outs {
					o.FinalizeAll()
				}
			}
			finalize(exec.MustExec(args...))
			b.ResetTimer()
			for range b.N {
				// Finalizing the results gives their buffers back to the backend's pool, as in
				// training steps, so that allocation is not what is measured.
				finalize(exec.MustExec(args...))
			}
		})
	}
}
