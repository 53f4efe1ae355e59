package fastcpu_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

// TestRandomUniform draws uniform float32 values through RNGBitGenerator (as dropout does)
// and checks their range and moments, that the state advances, that the same state gives the
// same values with 1 or 2 goroutines, and that consecutive draws differ.
func TestRandomUniform(t *testing.T) {
	const n = 1 << 16
	draw := func(config string, state []uint64) (values []float32, next []uint64) {
		t.Helper()
		backend, err := fastcpu.New(config)
		if err != nil {
			t.Fatal(err)
		}
		defer backend.Finalize()
		exec, err := NewExec(backend, func(s *Node) (*Node, *Node) {
			return RandomUniform(s, shapes.Make(dtypes.Float32, n))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		out, err := exec.Exec(tensors.FromValue(state))
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[1]), tensors.MustCopyFlatData[uint64](out[0])
	}
	state := []uint64{42, 7, 3}
	v, next := draw("", state)
	var sum, sq float64
	for _, x := range v {
		if x < 0 || x >= 1 || math.IsNaN(float64(x)) {
			t.Fatalf("value %v outside [0, 1)", x)
		}
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	if math.Abs(mean-0.5) > 0.01 || math.Abs(std-math.Sqrt(1.0/12)) > 0.01 {
		t.Errorf("mean %.4f, std %.4f; want 0.5 and %.4f", mean, std, math.Sqrt(1.0/12))
	}
	if next[0] != state[0] || next[1] != state[1]+n || next[2] != state[2] {
		t.Errorf("new state %v, want [%d %d %d]", next, state[0], state[1]+n, state[2])
	}
	again, _ := draw("parallelism=1", state)
	for i := range v {
		if again[i] != v[i] {
			t.Fatalf("value %d: %v with one goroutine, %v with two", i, again[i], v[i])
		}
	}
	following, _ := draw("", next)
	same := 0
	for i := range v {
		if following[i] == v[i] {
			same++
		}
	}
	if same > n/1000 {
		t.Errorf("%d of %d values repeat in the next draw", same, n)
	}
}
