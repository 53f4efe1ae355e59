package fastcpu_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/fm-image/fm-image/internal/fastcpu"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
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
	cases := []struct {
		name string
		fn   func(in []*Node) *Node
		in   []*tensors.Tensor
	}{
		{"stats", func(in []*Node) *Node { return ReduceSum(in[0], 1, 3) }, []*tensors.Tensor{x}},
		{"stats-b64", func(in []*Node) *Node { return ReduceSum(in[0], 1, 3) }, []*tensors.Tensor{x64}},
		{"bias-grad-b64", func(in []*Node) *Node { return ReduceSum(in[0], 0, 1) }, []*tensors.Tensor{x64}},
		{"bias-grad", func(in []*Node) *Node { return ReduceSum(in[0], 0, 1, 2) }, []*tensors.Tensor{xi}},
		{"sub-mul-reduce", func(in []*Node) *Node {
			c := Sub(in[0], in[1])
			return ReduceSum(Mul(c, c), 1, 3)
		}, []*tensors.Tensor{x, st}},
		{"mul-div-mul-neg-reduce", func(in []*Node) *Node {
			return ReduceSum(Neg(Mul(Div(Mul(in[2], in[0]), in[1]), in[0])), 1, 3)
		}, []*tensors.Tensor{x, st, y}},
		{"mul-reduce-bias", func(in []*Node) *Node { return ReduceSum(Mul(in[0], in[1]), 0, 1, 2) }, []*tensors.Tensor{xi, xi}},
		{"scale-shift-silu", func(in []*Node) *Node {
			h := Add(Mul(in[0], in[1]), in[2])
			return Mul(h, Sigmoid(h))
		}, []*tensors.Tensor{xi, sc, sc}},
		{"div-mul-mul-add-add", func(in []*Node) *Node {
			return Add(Add(Mul(Mul(Div(in[0], in[1]), in[2]), in[0]), in[2]), in[3])
		}, []*tensors.Tensor{x, st, ch, y}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			exec, err := NewExec(backend, func(in []*Node) *Node { return c.fn(in) })
			if err != nil {
				b.Fatal(err)
			}
			defer exec.Finalize()
			args := make([]any, len(c.in))
			for i, t := range c.in {
				args[i] = t
			}
			exec.MustExec(args...)[0].FinalizeAll()
			b.ResetTimer()
			for range b.N {
				// Finalizing the result gives its buffer back to the backend's pool, as in
				// training steps, so that allocation is not what is measured.
				exec.MustExec(args...)[0].FinalizeAll()
			}
		})
	}
}
