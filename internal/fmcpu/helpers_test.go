package fmcpu

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// newTestBackend returns a fresh fmcpu backend.
func newTestBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := New("")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// randFlat returns n normal random values.
func randFlat(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func prod(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// strides returns row-major strides for dims.
func rowMajorStrides(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// tensorOf makes a float64 tensor.
func tensorOf(flat []float64, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

// flat64 returns a tensor's values as float64 (it must hold float32 or float64).
func flat64(t testing.TB, x *tensors.Tensor) []float64 {
	t.Helper()
	if x.DType() == dtypes.Float32 {
		f, err := tensors.CopyFlatData[float32](x)
		if err != nil {
			t.Fatalf("reading tensor: %v", err)
		}
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	f, err := tensors.CopyFlatData[float64](x)
	if err != nil {
		t.Fatalf("reading tensor: %v", err)
	}
	return f
}

// assertClose checks got against want elementwise with a mixed absolute/relative tolerance.
func assertClose(t testing.TB, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(got[i]) {
			t.Fatalf("%s: element %d: got %.10g, want %.10g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// execOne runs fn on backend with the given inputs and returns its single output's values.
func execOne(t testing.TB, backend backends.Backend, fn func(inputs []*graph.Node) *graph.Node, inputs ...*tensors.Tensor) ([]float64, []int) {
	t.Helper()
	exec, err := graph.NewExec(backend, fn)
	if err != nil {
		t.Fatalf("NewExec: %v", err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	return flat64(t, outs[0]), outs[0].Shape().Dimensions
}

// opTypeOf reads the op type of a simplego node (an unexported field) for tests that check which
// op a rewrite emitted.
func opTypeOf(op backends.Op) backends.OpType {
	return backends.OpType(reflect.ValueOf(op).Elem().FieldByName("opType").Int())
}
