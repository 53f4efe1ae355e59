package kernels

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// How far a float32 kernel may be from the float64 reference.
//
// Every output of a product or a convolution is a sum s = Σ p_i of n
// products p_i of float32 inputs. The references (naive, naiveConv) compute
// s in float64, where each product of two float32 values is exact and the
// sum's own error, at most n·2⁻⁵³·Σ|p_i|, is negligible next to what
// follows; they also compute A = Σ|p_i|.
//
// The kernels add the products in float32, in an order of their own
// (register tiles, blocks of k, per-worker partial sums, groups of images),
// with fused or separate multiply-adds. Whatever the order, the computed sum
// is ŝ = Σ p_i·Π_j (1+δ_ij) with at most n factors per product and
// |δ| ≤ u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms,
// §3.1), so
//
//	|ŝ − s| ≤ γ_n·A,  γ_n = n·u/(1 − n·u).
//
// That worst case is useless for long sums: for the kernel gradient of a
// batch-16 32×32 layer, n = 16·32·32 = 16384 and γ_n·A ≈ 1e-3·A, while the
// inputs being random signs, |s| ≈ 1.3·A/√n ≈ 1e-2·A: a result 10% off
// would pass. The roundings of round-to-nearest on
// such data behave as independent zero-mean random variables; under that
// model (Higham & Mary, "A new approach to probabilistic rounding error
// analysis", SIAM J. Sci. Comput. 41(5), 2019, Thm 3.1)
//
//	|ŝ − s| ≤ γ̃_n(λ)·A,  γ̃_n(λ) = exp(λ·√n·u + n·u²/(1−u)) − 1 ≈ λ·√n·u,
//
// with probability at least 1 − 2n·exp(−λ²(1−u)²/2). With λ = 8 that is
// 1 − n·2.5e-14 per output: over the ~10⁷ outputs of the whole package's
// tests and n ≤ 2¹⁵, the chance of one false failure is below 1%, and the
// bound is itself pessimistic by about √n (the errors of the partial sums
// mostly cancel, and |partial sums| ≪ A). For n = 16384 the bound is
// 6e-5·A: 16 times tighter than the worst case and 170 times below |s|.
//
// Besides the n roundings of the sum, a result may see c0 more: the GEMM
// scales A by alpha while packing it and adds beta·C (the references add
// |beta·C| to A); the Winograd forms (winograd.go) round their input,
// kernel and output transforms (at most 3, 8 and 8 additions of terms of
// A's size). So the tolerance is
//
//	tol = κ·(λ·√n + c0)·u·A.
//
// κ accounts for the Winograd forms summing transformed values instead of
// the products themselves: for F(2×2, 3×3), the sum over the 16 (or 9)
// planes of |transformed input|·|transformed kernel| (or output gradient)
// is on average 1.46 times A for the forward form and up to 2.58 times A
// (the corner taps) for the kernel gradient, measured over 2·10⁵ random
// tiles of values uniform in [−1, 1] (the tests' data). κ = 3 for a
// Winograd form, 1 otherwise. The transforms also mix every pixel of a
// tile into every output of it, so an output next to the padding, or a
// kernel tap that only ever reads padding (A = 0, exactly 0 in the direct
// forms), carries rounding errors of the size of its neighbours' sums: for
// a Winograd form A is the largest A of the whole result.
//
// n is the number of products of each output: KH·KW·Cin for the forward
// convolution, KH·KW·Cout for the input gradient (fewer where strides or
// padding leave taps out), Batch·HOut·WOut for the kernel gradient, and k
// for a product.
const (
	unitRoundoff32 = 0x1p-24
	tolLambda      = 8
	tolExtraRound  = 24
	kappaWinograd  = 3
)

// tolerance returns the largest difference compare accepts for an output
// summed from n products whose magnitudes add up to absSum (A above), in a
// Winograd form or not.
func tolerance(n int, absSum float64, winograd bool) float64 {
	kappa := 1.0
	if winograd {
		kappa = kappaWinograd
	}
	return kappa * (tolLambda*math.Sqrt(float64(n)) + tolExtraRound) * unitRoundoff32 * absSum
}

// ref is a float64 reference result: the exact values and, for each, the
// sum of the magnitudes of the products it adds up (A above).
type ref struct {
	v, abs []float64
}

func newRef(n int) ref { return ref{v: make([]float64, n), abs: make([]float64, n)} }

// compare checks got against want, each element within tolerance(n,
// want.abs, winograd), and fails on NaNs. It returns the largest ratio of a
// difference to its tolerance (0 when all are exact).
func compare(t *testing.T, name string, got []float32, want ref, n int, winograd bool) float64 {
	t.Helper()
	largest := 0.0
	if winograd {
		for _, a := range want.abs {
			largest = max(largest, a)
		}
	}
	worst := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - want.v[i])
		tol := tolerance(n, max(want.abs[i], largest), winograd)
		if d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %.9g, want %.9g (diff %.3g, tolerance %.3g for %d products of magnitudes adding to %.4g)",
				name, i, got[i], want.v[i], d, tol, n, max(want.abs[i], largest))
		}
		if d > 0 {
			worst = max(worst, d/tol)
		}
	}
	noteWorst(t, name, worst)
	return worst
}

// worstRatios records, per test and form, the largest ratio of a difference
// to its tolerance, which TestMain prints with -v: how much room the
// tolerances leave.
var worstRatios = struct {
	sync.Mutex
	m map[string]float64
}{m: map[string]float64{}}

func noteWorst(t *testing.T, name string, r float64) {
	key := strings.SplitN(t.Name(), "/", 2)[0]
	for _, form := range []string{" y", " dx", " dk"} {
		if strings.HasSuffix(name, form) {
			key += form
		}
	}
	worstRatios.Lock()
	worstRatios.m[key] = max(worstRatios.m[key], r)
	worstRatios.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testing.Verbose() && len(worstRatios.m) > 0 {
		keys := make([]string, 0, len(worstRatios.m))
		for k := range worstRatios.m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Println("largest difference from the float64 reference, as a fraction of its tolerance:")
		for _, k := range keys {
			fmt.Printf("  %-45s %.3g\n", k, worstRatios.m[k])
		}
	}
	os.Exit(code)
}
