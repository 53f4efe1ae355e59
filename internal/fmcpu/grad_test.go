package fmcpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// gradInput is one float64 input of a gradient check.
type gradInput struct {
	dims []int
}

// checkGradients compares graph.Gradient of L = sum(fn(inputs) * R), R fixed random, with central
// finite differences in float64, for every element of every input.
func checkGradients(t *testing.T, backend backends.Backend, rng *rand.Rand, inputs []gradInput,
	fn func(in []*graph.Node) *graph.Node) {
	t.Helper()
	values := make([][]float64, len(inputs))
	tens := make([]*tensors.Tensor, len(inputs))
	for i, in := range inputs {
		values[i] = randFlat(rng, prod(in.dims))
		tens[i] = tensorOf(values[i], in.dims...)
	}
	// Output shape, then the random projection R.
	out, outDims := execOne(t, backend, fn, tens...)
	r := tensorOf(randFlat(rng, len(out)), outDims...)

	loss := func(in []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(fn(in[:len(in)-1]), in[len(in)-1]))
	}
	gradExec, err := graph.NewExec(backend, func(in []*graph.Node) []*graph.Node {
		return graph.Gradient(loss(in), in[:len(in)-1]...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gradExec.Finalize()
	lossExec, err := graph.NewExec(backend, loss)
	if err != nil {
		t.Fatal(err)
	}
	defer lossExec.Finalize()

	args := make([]any, 0, len(tens)+1)
	for _, tt := range tens {
		args = append(args, tt)
	}
	args = append(args, r)
	grads, err := gradExec.Exec(args...)
	if err != nil {
		t.Fatalf("gradient: %v", err)
	}
	evalLoss := func(i int, perturbed []float64) float64 {
		a := make([]any, len(args))
		copy(a, args)
		a[i] = tensorOf(perturbed, inputs[i].dims...)
		res, err := lossExec.Exec(a...)
		if err != nil {
			t.Fatalf("loss: %v", err)
		}
		return flat64(t, res[0])[0]
	}
	const eps = 1e-5
	for i := range inputs {
		got := flat64(t, grads[i])
		want := make([]float64, len(values[i]))
		p := append([]float64(nil), values[i]...)
		for e := range p {
			p[e] = values[i][e] + eps
			up := evalLoss(i, p)
			p[e] = values[i][e] - eps
			down := evalLoss(i, p)
			p[e] = values[i][e]
			want[e] = (up - down) / (2 * eps)
		}
		assertClose(t, fmt.Sprintf("gradient of input %d", i), got, want, 1e-6)
	}
}

func TestConvGradients(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(11, 12))
	tests := []struct {
		name   string
		x, k   []int
		stride int
		same   bool
		nchw   bool
		dil    int
	}{
		{"3x3_same", []int{2, 6, 5, 3}, []int{3, 3, 3, 4}, 1, true, false, 1},
		{"1x1", []int{2, 5, 5, 3}, []int{1, 1, 3, 2}, 1, true, false, 1},
		{"3x3_valid_odd", []int{1, 7, 5, 2}, []int{3, 3, 2, 3}, 1, false, false, 1},
		{"3x3_stride2_even", []int{2, 6, 6, 2}, []int{3, 3, 2, 3}, 2, true, false, 1},
		{"3x3_stride2_odd", []int{1, 7, 7, 3}, []int{3, 3, 3, 2}, 2, true, false, 1},
		{"1x1_stride2", []int{2, 6, 6, 2}, []int{1, 1, 2, 3}, 2, false, false, 1},
		{"3x3_same_nchw", []int{2, 3, 6, 5}, []int{4, 3, 3, 3}, 1, true, true, 1},
		{"3x3_dilated", []int{1, 7, 7, 2}, []int{3, 3, 2, 2}, 1, true, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkGradients(t, backend, rng, []gradInput{{tc.x}, {tc.k}}, func(in []*graph.Node) *graph.Node {
				c := graph.Convolve(in[0], in[1]).Strides(tc.stride).Dilations(tc.dil)
				if tc.nchw {
					// x [B,C,H,W], kernel [O,I,H,W].
					c = c.AxesConfig(backends.ConvolveAxesConfig{
						InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
						KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
						OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
					})
				}
				if tc.same {
					c = c.PadSame()
				} else {
					c = c.NoPadding()
				}
				return c.Done()
			})
		})
	}
}

func TestSliceAndPoolGradients(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(13, 14))
	tests := []struct {
		name string
		x    []int
		fn   func(x *graph.Node) *graph.Node
	}{
		{"slice_strided", []int{5, 7}, func(x *graph.Node) *graph.Node {
			return graph.Slice(x, graph.AxisRange(1, 5).Stride(2), graph.AxisRange(0, 7).Stride(3))
		}},
		{"slice_offsets", []int{3, 6, 4}, func(x *graph.Node) *graph.Node {
			return graph.Slice(x, graph.AxisRange(1), graph.AxisRange(2, 5), graph.AxisRange(1, 3))
		}},
		{"meanpool_2x2", []int{2, 6, 6, 3}, func(x *graph.Node) *graph.Node {
			return graph.MeanPool(x).Window(2).Done()
		}},
		{"meanpool_3x3_stride2_same_odd", []int{2, 7, 5, 2}, func(x *graph.Node) *graph.Node {
			return graph.MeanPool(x).Window(3).Strides(2).PadSame().Done()
		}},
		{"sumpool_2x2_odd", []int{1, 5, 7, 2}, func(x *graph.Node) *graph.Node {
			return graph.SumPool(x).Window(2).Done()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkGradients(t, backend, rng, []gradInput{{tc.x}}, func(in []*graph.Node) *graph.Node {
				return tc.fn(in[0])
			})
		})
	}
}

// TestDotGeneralGradients covers the Mul+ReduceSum rewrite through graph's own DotGeneral
// gradient, including a Dense-like rank-3 input and batch axes.
func TestDotGeneralGradients(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(15, 16))
	tests := []struct {
		name string
		a, b []int
		fn   func(a, b *graph.Node) *graph.Node
	}{
		{"matmul", []int{5, 7}, []int{7, 3}, func(a, b *graph.Node) *graph.Node {
			return graph.DotGeneral(a, []int{1}, nil, b, []int{0}, nil)
		}},
		{"dense_rank3", []int{2, 3, 5}, []int{5, 4}, func(a, b *graph.Node) *graph.Node {
			return graph.DotGeneral(a, []int{2}, nil, b, []int{0}, nil)
		}},
		{"batched", []int{3, 4, 5}, []int{3, 5, 2}, func(a, b *graph.Node) *graph.Node {
			return graph.DotGeneral(a, []int{2}, []int{0}, b, []int{1}, []int{0})
		}},
		{"contract_first_axes", []int{5, 2, 3}, []int{5, 3, 4}, func(a, b *graph.Node) *graph.Node {
			return graph.DotGeneral(a, []int{0, 2}, nil, b, []int{0, 1}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkGradients(t, backend, rng, []gradInput{{tc.a}, {tc.b}}, func(in []*graph.Node) *graph.Node {
				return tc.fn(in[0], in[1])
			})
		})
	}
}
