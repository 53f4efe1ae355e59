package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

// TestFloat32RunKernels checks the float32 run kernels (SIMD with GOEXPERIMENT=simd on AVX2
// machines, scalar otherwise) against float64 references on all lengths up to 40, so vector
// bodies and scalar tails are both covered.
func TestFloat32RunKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	for n := 1; n <= 40; n++ {
		a := make([]float32, n)
		b := make([]float32, n)
		for i := range a {
			a[i] = float32(rng.Float64()*170 - 85)
			b[i] = float32(rng.NormFloat64()) + 3
		}
		d := make([]float32, n)
		for _, op := range []backends.OpType{backends.OpTypeExp, backends.OpTypeLogistic, backends.OpTypeSqrt, backends.OpTypeNeg} {
			if !unaryRunF32(op, d, a) {
				t.Fatalf("%s not handled", op)
			}
			for i, x := range a {
				xf := float64(x)
				var want float64
				switch op {
				case backends.OpTypeExp:
					want = math.Exp(xf)
				case backends.OpTypeLogistic:
					want = 1 / (1 + math.Exp(-xf))
				case backends.OpTypeSqrt:
					want = math.Sqrt(xf)
				case backends.OpTypeNeg:
					want = -xf
				}
				got := float64(d[i])
				if math.IsNaN(want) && math.IsNaN(got) {
					continue
				}
				if math.Abs(got-want) > 3e-7*math.Abs(want)+1e-37 {
					t.Fatalf("%s(%g) = %.9g, want %.9g (n=%d)", op, x, got, want, n)
				}
			}
		}
		for _, op := range []backends.OpType{backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul,
			backends.OpTypeDiv, backends.OpTypeMax, backends.OpTypeMin} {
			for _, pat := range [][2]int{{1, 1}, {0, 1}, {1, 0}} {
				if !binaryRunF32(op, d, a, b, pat[0], pat[1]) {
					t.Fatalf("%s not handled", op)
				}
				for i := range d {
					x, y := float64(a[i*pat[0]]), float64(b[i*pat[1]])
					var want float64
					switch op {
					case backends.OpTypeAdd:
						want = x + y
					case backends.OpTypeSub:
						want = x - y
					case backends.OpTypeMul:
						want = x * y
					case backends.OpTypeDiv:
						want = x / y
					case backends.OpTypeMax:
						want = max(x, y)
					case backends.OpTypeMin:
						want = min(x, y)
					}
					if math.Abs(float64(d[i])-want) > 1e-6*math.Abs(want)+1e-30 {
						t.Fatalf("%s%v element %d: %g, want %g", op, pat, i, d[i], want)
					}
				}
			}
		}
	}
}

// TestMulAddRun checks mulAddRunF32 (FMA vector bodies, scalar tails) for every stride pattern
// and lengths up to 40 against a float64 reference.
func TestMulAddRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2))
	for n := 1; n <= 40; n++ {
		a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], c[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		d := make([]float32, n)
		for _, st := range [][3]int{{1, 1, 1}, {1, 0, 1}, {0, 1, 1}, {1, 1, 0}, {1, 0, 0}, {0, 1, 0}} {
			mulAddRunF32(d, a, b, c, st[0], st[1], st[2])
			for i := range d {
				want := float64(a[i*st[0]])*float64(b[i*st[1]]) + float64(c[i*st[2]])
				if math.Abs(float64(d[i])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("strides %v n=%d element %d: %g, want %g", st, n, i, d[i], want)
				}
			}
		}
	}
}

// TestExpRange checks the vector Exp and Logistic near and beyond the ends of the float32
// range (16 equal inputs, so the vector body runs): finite where the result is, no NaN.
func TestExpRange(t *testing.T) {
	for _, x := range []float32{-200, -87.3, -50, -1e-3, 0, 1e-3, 50, 88.7, 200} {
		src := make([]float32, 16)
		for i := range src {
			src[i] = x
		}
		d := make([]float32, 16)
		unaryRunF32(backends.OpTypeExp, d, src)
		want := math.Exp(float64(x))
		got := float64(d[0])
		switch {
		case want > math.MaxFloat32:
			if got < math.MaxFloat32/2 {
				t.Errorf("Exp(%g) = %g, want overflow", x, got)
			}
		case want < 1.2e-38:
			if got > 2e-38 || got < 0 {
				t.Errorf("Exp(%g) = %g, want about 0", x, got)
			}
		default:
			if math.Abs(got-want) > 3e-7*want {
				t.Errorf("Exp(%g) = %g, want %g", x, got, want)
			}
		}
		unaryRunF32(backends.OpTypeLogistic, d, src)
		if want := 1 / (1 + math.Exp(-float64(x))); math.IsNaN(float64(d[0])) || math.Abs(float64(d[0])-want) > 3e-7 {
			t.Errorf("Logistic(%g) = %g, want %g", x, d[0], want)
		}
	}
}

// TestMulAdd2Run checks mulAdd2RunF32 for stride patterns and lengths up to 40.
func TestMulAdd2Run(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	for n := 1; n <= 40; n++ {
		v := make([][]float32, 4)
		for k := range v {
			v[k] = make([]float32, n)
			for i := range v[k] {
				v[k][i] = float32(rng.NormFloat64())
			}
		}
		d := make([]float32, n)
		for _, st := range [][4]int{{1, 1, 1, 1}, {1, 0, 1, 0}, {0, 1, 1, 1}, {1, 1, 0, 1}, {1, 0, 0, 1}, {0, 1, 1, 0}} {
			mulAdd2RunF32(d, v[0], v[1], v[2], v[3], st[0], st[1], st[2], st[3])
			for i := range d {
				want := float64(v[0][i*st[0]])*float64(v[1][i*st[1]]) + float64(v[2][i*st[2]])*float64(v[3][i*st[3]])
				if math.Abs(float64(d[i])-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("strides %v n=%d element %d: %g, want %g", st, n, i, d[i], want)
				}
			}
		}
	}
}
