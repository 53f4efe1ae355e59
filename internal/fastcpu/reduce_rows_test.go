package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddRowsF32 checks addRowsF32 (SIMD column chunks, scalar columns, long rows) against a
// float64 reference for row widths around the vector sizes and row counts around the unrolling.
func TestAddRowsF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, w := range []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 48, 63, 64, 65, 96, 100, 256, 257, 300} {
		for _, rows := range []int{0, 1, 2, 3, 4, 17} {
			acc := make([]float32, w)
			want := make([]float64, w)
			for j := range acc {
				acc[j] = float32(rng.NormFloat64())
				want[j] = float64(acc[j])
			}
			src := make([]float32, rows*w)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
				want[i%w] += float64(src[i])
			}
			addRowsF32(acc, src)
			for j := range acc {
				if math.Abs(float64(acc[j])-want[j]) > 1e-5*(1+math.Abs(want[j])) {
					t.Fatalf("w=%d rows=%d column %d: %g, want %g", w, rows, j, acc[j], want[j])
				}
			}
		}
	}
}

// TestSumF32 checks sumF32 against a float64 sum for lengths around the vector sizes.
func TestSumF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 100 {
		s := make([]float32, n)
		var want float64
		for i := range s {
			s[i] = float32(rng.NormFloat64())
			want += float64(s[i])
		}
		if got := sumF32(s); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("n=%d: %g, want %g", n, got, want)
		}
	}
}

// TestAddRowsMulF32 checks addRowsMulF32 against a float64 reference for row widths around the
// vector sizes.
func TestAddRowsMulF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, w := range []int{1, 4, 7, 8, 15, 16, 17, 32, 33, 48, 96, 100, 256, 257} {
		for _, rows := range []int{0, 1, 3, 17} {
			acc := make([]float32, w)
			want := make([]float64, w)
			a, b := make([]float32, rows*w), make([]float32, rows*w)
			for i := range a {
				a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				want[i%w] += float64(a[i]) * float64(b[i])
			}
			addRowsMulF32(acc, a, b)
			for j := range acc {
				if math.Abs(float64(acc[j])-want[j]) > 1e-5*(1+math.Abs(want[j])) {
					t.Fatalf("w=%d rows=%d column %d: %g, want %g", w, rows, j, acc[j], want[j])
				}
			}
		}
	}
}

// TestRowDot checks rowDot against a float64 reference for lengths around the vector sizes.
func TestRowDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := range 100 {
		a, b := make([]float32, n), make([]float32, n+3)
		var want float64
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		for i := range a {
			a[i] = float32(rng.NormFloat64())
			want += float64(a[i]) * float64(b[i])
		}
		if got := rowDot(a, b); math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("n=%d: %g, want %g", n, got, want)
		}
	}
}
