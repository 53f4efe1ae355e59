package fastcpu_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

// TestConcurrentExecute runs one compiled graph (convolution, fused elementwise chain,
// reductions) from several goroutines at once; every result must equal the sequential one.
func TestConcurrentExecute(t *testing.T) {
	backend, err := fastcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(7, 7))
	x := randTensor(rng, 4, 16, 16, 8)
	k := randTensor(rng, 3, 3, 8, 16)
	exec, err := NewExec(backend, func(x, k *Node) *Node {
		y := Convolve(x, k).PadSame().Done()
		y = Mul(y, Sigmoid(AddScalar(y, 0.5)))
		return ReduceSum(y, 1, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	want := tensors.MustCopyFlatData[float32](exec.MustExec(x, k)[0])
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				got := tensors.MustCopyFlatData[float32](exec.MustExec(x, k)[0])
				for i := range want {
					if got[i] != want[i] {
						errs <- "concurrent result differs"
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestNoFusionOption checks that the "nofusion" and "parallelism=1" options give the same
// results as the default configuration.
func TestNoFusionOption(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	x := randTensor(rng, 3, 7, 5, 16)
	var results [][]float32
	for _, cfg := range []string{"", "nofusion", "parallelism=1", "nofusion,parallelism=1"} {
		backend, err := fastcpu.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		xc, err := x.LocalClone() // a tensor used on one backend cannot move to another
		if err != nil {
			t.Fatal(err)
		}
		out, err := ExecOnce(backend, func(x *Node) *Node {
			m := ReduceAndKeep(x, ReduceMean, 1, 2)
			c := Sub(x, m)
			v := ReduceAndKeep(Square(c), ReduceMean, 1, 2)
			h := Div(c, Sqrt(AddScalar(v, 1e-5)))
			return Mul(h, Sigmoid(h))
		}, xc)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, tensors.MustCopyFlatData[float32](out))
		backend.Finalize()
	}
	for i := 1; i < len(results); i++ {
		for j := range results[0] {
			if d := results[i][j] - results[0][j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("config %d element %d: %g vs %g", i, j, results[i][j], results[0][j])
			}
		}
	}
	if _, err := fastcpu.New("bogus"); err == nil {
		t.Fatal("New(\"bogus\") succeeded")
	}
}

// TestRepeatableResults runs a GroupNorm forward and backward large enough for the parallel
// loops (team helpers, split reductions) several times: results must be bit-identical, whatever
// goroutine ran which part.
func TestRepeatableResults(t *testing.T) {
	backend, err := fastcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(9, 9))
	x := randTensor(rng, 8, 32, 32, 32)
	exec, err := NewExec(backend, func(x *Node) []*Node {
		g := Reshape(x, 8, 32*32, 8, 4)
		mean := ReduceAndKeep(g, ReduceMean, 1, 3)
		cen := Sub(g, mean)
		v := ReduceAndKeep(Square(cen), ReduceMean, 1, 3)
		y := Reshape(Div(cen, Sqrt(AddScalar(v, 1e-5))), 8, 32, 32, 32)
		y = Mul(y, Sigmoid(y))
		loss := ReduceAllSum(Mul(y, y))
		return []*Node{ReduceSum(y, 0, 1, 2), Gradient(loss, x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	var want [][]float32
	for run := range 8 {
		outs := exec.MustExec(x)
		for i, o := range outs {
			got := tensors.MustCopyFlatData[float32](o)
			if run == 0 {
				want = append(want, got)
				continue
			}
			for j := range got {
				if got[j] != want[i][j] {
					t.Fatalf("run %d output %d element %d: %g, first run %g", run, i, j, got[j], want[i][j])
				}
			}
		}
	}
}
