package flow

import (
	"math"
	"strings"
	"testing"
)

func TestGaussianNoiseGolden(t *testing.T) {
	// Pins the documented stream (checked against an independent Box-Muller
	// computation on the raw PCG outputs): changing it changes every seeded
	// image.
	dst := make([]float32, 5)
	GaussianNoise(42, 7, dst)
	want := []float32{-0.8104408, -0.07092236, 1.0088148, -0.18589573, -0.43088537}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("GaussianNoise(42, 7)[%d] = %v, want %v (the noise stream changed)", i, dst[i], want[i])
		}
	}
}

func TestGaussianNoiseDeterminism(t *testing.T) {
	a := make([]float32, 101)
	b := make([]float32, 101)
	GaussianNoise(3, 1, a)
	GaussianNoise(3, 1, b)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same (seed, index) differ at %d: %v vs %v", i, a[i], b[i])
		}
	}
	// A shorter buffer is a prefix of a longer one (odd lengths included).
	short := make([]float32, 7)
	GaussianNoise(3, 1, short)
	for i := range short {
		if short[i] != a[i] {
			t.Fatalf("prefix differs at %d: %v vs %v", i, short[i], a[i])
		}
	}
	// Different seeds or indices give different streams.
	for _, tc := range []struct {
		seed  int64
		index int
	}{{4, 1}, {3, 2}, {-3, 1}} {
		c := make([]float32, 101)
		GaussianNoise(tc.seed, tc.index, c)
		same := 0
		for i := range c {
			if c[i] == a[i] {
				same++
			}
		}
		if same > 0 {
			t.Errorf("(seed %d, index %d) shares %d values with (3, 1)", tc.seed, tc.index, same)
		}
	}
}

func TestGaussianNoiseBatchMatchesPerImage(t *testing.T) {
	const dim = 12
	batch := make([]float32, 4*dim)
	if err := GaussianNoiseBatch(9, 5, dim, batch); err != nil {
		t.Fatal(err)
	}
	row := make([]float32, dim)
	for i := 0; i < 4; i++ {
		GaussianNoise(9, 5+i, row)
		for j := range row {
			if batch[i*dim+j] != row[j] {
				t.Fatalf("batch row %d [%d] = %v, want image %d's %v", i, j, batch[i*dim+j], 5+i, row[j])
			}
		}
	}
	if err := GaussianNoiseBatch(9, 0, dim, make([]float32, 13)); err == nil || !strings.Contains(err.Error(), "rows of 12") {
		t.Errorf("ragged batch: err = %v", err)
	}
	if err := GaussianNoiseBatch(9, 0, 0, nil); err == nil {
		t.Error("dim 0: want error")
	}
}

func TestGaussianNoiseMoments(t *testing.T) {
	const n = 200000
	x := make([]float32, n)
	GaussianNoise(1, 0, x)
	var sum, sq, q4 float64
	tail := 0
	for _, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("non-finite value %v", v)
		}
		sum += f
		sq += f * f
		q4 += f * f * f * f
		if math.Abs(f) > 1.96 {
			tail++
		}
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	// Standard errors at n=2e5: mean 0.0022, variance 0.0032, kurtosis ~0.011,
	// tail fraction 0.0005; bounds are about 5 standard errors.
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"mean", mean, 0, 0.011},
		{"variance", variance, 1, 0.016},
		{"fourth moment", q4 / n, 3, 0.06},
		{"P(|z|>1.96)", float64(tail) / n, 0.05, 0.0025},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.4f, want %.4f±%.4f", c.name, c.got, c.want, c.tol)
		}
	}
}

// StepNoise: an image's noise depends on its index and the step, not on the
// batch it is drawn in, and differs from step to step and from the image's
// starting noise.
func TestStepNoise(t *testing.T) {
	const dim = 6
	all := make([]float32, 4*dim)
	if err := StepNoise(9, 0, dim)(2, all); err != nil {
		t.Fatal(err)
	}
	part := make([]float32, 2*dim)
	if err := StepNoise(9, 2, dim)(2, part); err != nil {
		t.Fatal(err)
	}
	for i, v := range part {
		if all[2*dim+i] != v {
			t.Fatalf("image 2's step noise drawn from index 2 differs at %d: %v against %v", i, v, all[2*dim+i])
		}
	}
	other := make([]float32, 4*dim)
	StepNoise(9, 0, dim)(3, other)
	start := make([]float32, 4*dim)
	GaussianNoiseBatch(9, 0, dim, start)
	for i := range all {
		if all[i] == other[i] || all[i] == start[i] {
			t.Fatalf("value %d: step 2 noise %v equals step 3's %v or the starting noise %v", i, all[i], other[i], start[i])
		}
	}
	if err := StepNoise(9, 0, dim)(1, make([]float32, dim+1)); err == nil {
		t.Error("a buffer that is not whole rows: want an error")
	}
}
