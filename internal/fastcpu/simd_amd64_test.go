//go:build goexperiment.simd && amd64

package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

// TestAVX2Kernels runs the 8-lane (AVX2) kernels directly, as on CPUs without AVX-512 (where
// the dispatching functions never reach some of their loops), against scalar references.
func TestAVX2Kernels(t *testing.T) {
	if !hasSIMD {
		t.Skip("no AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(21, 2))
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-5*(1+math.Abs(want)) }
	for n := 8; n <= 48; n++ {
		a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], c[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())+3, float32(rng.NormFloat64())
		}
		d := make([]float32, n)
		m := simdBinaryLoops(backends.OpTypeDiv, d, a, b, 1, 1)
		for i := range m {
			if !near(float64(d[i]), float64(a[i])/float64(b[i])) {
				t.Fatalf("n=%d: Div element %d: %g", n, i, d[i])
			}
		}
		m8 := mulAdd8(d, a, b, c, 1, 0)
		for i := range m8 {
			if !near(float64(d[i]), float64(a[i])*float64(b[i])+float64(c[0])) {
				t.Fatalf("n=%d: mulAdd8 element %d: %g", n, i, d[i])
			}
		}
		k := simdUnary8(backends.OpTypeLogistic, d, a)
		for i := range k {
			if want := 1 / (1 + math.Exp(-float64(a[i]))); math.Abs(float64(d[i])-want) > 3e-7 {
				t.Fatalf("n=%d: Logistic element %d: %g, want %g", n, i, d[i], want)
			}
		}
		if n < 16 {
			continue
		}
		dt, nd := dotVec(a, c, false)
		wantDot := 0.0
		for i := range nd {
			wantDot += float64(a[i]) * float64(c[i])
		}
		if !near(float64(dt), wantDot) {
			t.Fatalf("n=%d: dotVec = %g, want %g", n, dt, wantDot)
		}
		s, ns := sumVec(a, false)
		want := 0.0
		for _, x := range a[:ns] {
			want += float64(x)
		}
		if !near(float64(s), want) {
			t.Fatalf("n=%d: sumVec = %g, want %g", n, s, want)
		}
	}
	for _, w := range []int{8, 16, 24, 40, 64} {
		rows := 5
		src := make([]float32, rows*w)
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		acc := make([]float32, w)
		j := addRowsVec(acc, src, rows, false)
		prod := make([]float32, w)
		jm := addRowsMulVec(prod, src, src, rows, false)
		for col := range j {
			want, wantSq := 0.0, 0.0
			for r := range rows {
				x := float64(src[r*w+col])
				want += x
				wantSq += x * x
			}
			if !near(float64(acc[col]), want) {
				t.Fatalf("w=%d column %d: %g, want %g", w, col, acc[col], want)
			}
			if col < jm && !near(float64(prod[col]), wantSq) {
				t.Fatalf("w=%d column %d: sum of squares %g, want %g", w, col, prod[col], wantSq)
			}
		}
	}
}
