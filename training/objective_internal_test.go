package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.

	"github.com/fm-image/fm-image/internal/backend"
)

// The analytic case: noise x0 ~ N(0, I) and data x1 ~ N(μ, σ²I), coordinate
// by coordinate. With x_t = (1-t)x0 + t·x1, x_t ~ N(tμ, a(t)²) where
// a(t)² = (1-t)² + t²σ², and the exact (conditional-expectation) velocity is
//
//	v(x, t) = E[x1 - x0 | x_t = x] = μ + (tσ² - (1-t))/a(t)² · (x - tμ).
//
// Its flow moves x_t = tμ + a(t)·z, so the flow map from t to s = t+d is
// x_s = sμ + a(s)/a(t)·(x_t - tμ), and the average velocity over [t, t+d] is
//
//	u(x, t, d) = (x_s - x_t)/d = μ + (a(t+d)/a(t) - 1)/d · (x - tμ),
//
// with u(x, t, 0) = v(x, t). The tests plug this exact u into the
// objectives' target constructions (graph code, float32) and compare with
// the closed form evaluated in float64.
type gaussCase struct {
	mu    []float64 // per coordinate, [H*W*C]
	sigma float64
	h, w  int // image shape [h, w, 3]
}

func (g gaussCase) a(t float64) float64 { return math.Sqrt((1-t)*(1-t) + t*t*g.sigma*g.sigma) }

// coef returns the slope of u in x: u = μ + coef·(x - tμ).
func (g gaussCase) coef(t, d float64) float64 {
	if d == 0 {
		return (t*g.sigma*g.sigma - (1 - t)) / (g.a(t) * g.a(t))
	}
	return (g.a(t+d)/g.a(t) - 1) / d
}

// u returns the exact average velocity of one image x (float64).
func (g gaussCase) u(x []float64, t, d float64) []float64 {
	c := g.coef(t, d)
	out := make([]float64, len(x))
	for i, xi := range x {
		out[i] = g.mu[i] + c*(xi-t*g.mu[i])
	}
	return out
}

// graphU builds the exact u in a graph: x [B,h,w,3], t, d [B] (d nil: 0).
func (g gaussCase) graphU(x, t, d *Node) *Node {
	gr := x.Graph()
	f32 := func(v float64) *Node { return Scalar(gr, dtypes.Float32, v) }
	if d == nil {
		d = ZerosLike(t)
	}
	a := func(t *Node) *Node {
		omt := OneMinus(t)
		return Sqrt(Add(Mul(omt, omt), MulScalar(Mul(t, t), g.sigma*g.sigma)))
	}
	at := a(t)
	vel := Div(Sub(MulScalar(t, g.sigma*g.sigma), OneMinus(t)), Mul(at, at))
	safe := Max(d, f32(1e-30))
	avg := Div(Sub(Div(a(Add(t, d)), at), f32(1)), safe)
	c := Where(GreaterThan(d, ZerosLike(d)), avg, vel)
	mu := make([]float32, len(g.mu))
	for i, m := range g.mu {
		mu[i] = float32(m)
	}
	muN := Reshape(Const(gr, mu), 1, g.h, g.w, 3)
	return Add(muN, Mul(bcast(c), Sub(x, Mul(bcast(t), muN))))
}

func newGaussCase(rng *rand.Rand) gaussCase {
	g := gaussCase{sigma: 0.6, h: 2, w: 2}
	g.mu = make([]float64, g.h*g.w*3)
	for i := range g.mu {
		g.mu[i] = rng.Float64()*2 - 1
	}
	return g
}

// draw returns b noise and data images of the case, flattened.
func (g gaussCase) draw(rng *rand.Rand, b int) (x0, x1 []float64) {
	n := len(g.mu)
	x0, x1 = make([]float64, b*n), make([]float64, b*n)
	for i := range b * n {
		x0[i] = rng.NormFloat64()
		x1[i] = g.mu[i%n] + g.sigma*rng.NormFloat64()
	}
	return x0, x1
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func objBackend(t *testing.T) backends.Backend {
	t.Helper()
	b, err := backend.Select(backend.Default)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run evaluates fn on [B,h,w,3] images and [B] vectors and returns the flat
// float32 output (runAnyBatch with one batch size).
func (g gaussCase) run(t *testing.T, fn func(xs []*Node) *Node, images [][]float64, vectors [][]float64) []float32 {
	t.Helper()
	return runAnyBatch(t, g, fn, images, vectors)
}

// u32 is float32's unit roundoff, 2^-24.
const u32 = 1.0 / (1 << 24)

// The exact u must be what graphU computes (checks the test's own graph).
func TestGaussianExactAverageVelocityGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	g := newGaussCase(rng)
	const b = 6
	x, _ := g.draw(rng, b)
	ts := []float64{0, 0.1, 0.3, 0.5, 0.7, 0.9}
	ds := []float64{0, 0.5, 0.25, 0.5, 0.3, 0.1}
	got := g.run(t, func(xs []*Node) *Node { return g.graphU(xs[0], xs[1], xs[2]) }, [][]float64{x}, [][]float64{ts, ds})
	n := len(g.mu)
	for i := range b {
		want := g.u(x[i*n:(i+1)*n], ts[i], ds[i])
		for j, w := range want {
			// about ten float32 operations, each within u32 of values below 4
			if d := math.Abs(float64(got[i*n+j]) - w); d > 10*u32*4*4 {
				t.Fatalf("image %d value %d: graph %v, closed form %v", i, j, got[i*n+j], w)
			}
		}
	}
	// The flow map composes: u over [t, t+2h] is the mean of the two halves.
	x0 := x[:n]
	h := 0.2
	u1 := g.u(x0, 0.1, h)
	mid := make([]float64, n)
	for j := range mid {
		mid[j] = x0[j] + h*u1[j]
	}
	u2 := g.u(mid, 0.1+h, h)
	full := g.u(x0, 0.1, 2*h)
	for j := range full {
		if d := math.Abs(full[j] - (u1[j]+u2[j])/2); d > 1e-12 {
			t.Fatalf("closed form does not compose: %v vs %v", full[j], (u1[j]+u2[j])/2)
		}
	}
}

// With the exact flow map, the shortcut self-consistency target of u(x, t, d)
// is exactly u(x, t, d) (the flow map composes); below the finest level the
// half steps use the velocity, which makes the target a trapezoidal
// (Heun) step of the velocity.
func TestShortcutTargetGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := newGaussCase(rng)
	const minStep = 1.0 / 64
	ds := []float64{1, 0.5, 0.25, 0.125, 1.0 / 64, 1.0 / 64} // the last two: halves below minStep
	ts := []float64{0, 0.5, 0.25, 0.75, 0.5, 0}
	b := len(ts)
	x, _ := g.draw(rng, b)
	got := g.run(t, func(xs []*Node) *Node {
		return shortcutTarget(g.graphU, xs[0], xs[1], xs[2], minStep)
	}, [][]float64{x}, [][]float64{ts, ds})
	n := len(g.mu)
	for i := range b {
		xi := x[i*n : (i+1)*n]
		half := ds[i] / 2
		var want []float64
		if half >= minStep {
			want = g.u(xi, ts[i], ds[i])
		} else { // trapezoid of the velocity
			v1 := g.u(xi, ts[i], 0)
			mid := make([]float64, n)
			for j := range mid {
				mid[j] = xi[j] + half*v1[j]
			}
			v2 := g.u(mid, ts[i]+half, 0)
			want = make([]float64, n)
			for j := range want {
				want[j] = (v1[j] + v2[j]) / 2
			}
		}
		// Tolerance: two evaluations of u (≈10 roundings each, values < 4·|x|
		// bound M), an axpy and a mean, each within u32·M; the half step
		// carries the first error into the second with factor 1+half·|coef|
		// <= 2. So |err| <= (10 + 2·10 + 4)·u32·M; M = 4 + max|x|.
		m := 4.0
		for _, v := range xi {
			m = max(m, 4+math.Abs(v))
		}
		tol := 34 * u32 * m
		for j, w := range want {
			if d := math.Abs(float64(got[i*n+j]) - w); d > tol {
				t.Errorf("d=%g t=%g value %d: target %v, exact %v (|err| %.2g > tol %.2g)", ds[i], ts[i], j, got[i*n+j], w, d, tol)
			}
		}
		if half >= minStep {
			// and it is not trivially the half-step velocity
			v := g.u(xi, ts[i], 0)
			if math.Abs(v[0]-want[0]) < 1e-3 {
				t.Errorf("d=%g: the exact average velocity equals the velocity; the case does not test anything", ds[i])
			}
		}
	}
}

// With the exact flow map and the exact velocity as the tangent, the MeanFlow
// target v + d·(u(x+εv, t+ε, d-ε) - u(x, t, d))/ε equals u(x, t, d) up to the
// finite difference's truncation error d·ε/2·max|d²G/dτ²| (G(τ) = u along the
// straight line x + (τ-t)·v with the end time fixed) plus its rounding error d·2δ/ε (δ the
// float32 error of one evaluation of u).
func TestMeanFlowTargetGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	g := newGaussCase(rng)
	for _, eps := range []float64{1e-2, 1e-3} {
		ts := []float64{0, 0.1, 0.2, 0.4, 0.05, 0.6}
		ds := []float64{1, 0.9, 0.5, 0.3, 0.6, 1e-4} // the last below eps: ε = d there
		b := len(ts)
		x, _ := g.draw(rng, b)
		n := len(g.mu)
		// tangent: the exact velocity at (x, t); pred: the exact u
		v := make([]float64, b*n)
		pred := make([]float64, b*n)
		for i := range b {
			copy(v[i*n:], g.u(x[i*n:(i+1)*n], ts[i], 0))
			copy(pred[i*n:], g.u(x[i*n:(i+1)*n], ts[i], ds[i]))
		}
		got := g.run(t, func(xs []*Node) *Node {
			return meanFlowTarget(g.graphU, xs[0], xs[3], xs[4], xs[1], xs[2], eps)
		}, [][]float64{x, v, pred}, [][]float64{ts, ds})
		for i := range b {
			xi := x[i*n : (i+1)*n]
			e := min(eps, ds[i])
			s := ts[i] + ds[i]
			// G(τ) = u(x + (τ-t)·v, τ, s-τ): the function whose forward
			// difference over [t, t+ε] the target takes; G'(t) = du/dt, and
			// the difference is off by (ε/2)·G''(ξ) for some ξ in [t, t+ε].
			vi := v[i*n : (i+1)*n]
			G := func(tau float64) []float64 {
				xt := make([]float64, n)
				for j := range xt {
					xt[j] = xi[j] + (tau-ts[i])*vi[j]
				}
				return g.u(xt, tau, s-tau)
			}
			// max |G''| on [t, t+ε] by central second differences (float64)
			var g2 float64
			const hh = 1e-4
			for _, tau := range []float64{ts[i] + hh, ts[i] + e/2, ts[i] + e - hh} {
				if tau-hh < 0 || tau+hh > s {
					continue
				}
				a, c, d := G(tau-hh), G(tau), G(tau+hh)
				for j := range c {
					g2 = max(g2, math.Abs(a[j]-2*c[j]+d[j])/(hh*hh))
				}
			}
			m := 4.0
			for _, val := range xi {
				m = max(m, 4+math.Abs(val))
			}
			delta := 12 * u32 * m // one graph evaluation of u (≈10 roundings) and the x+εv shift
			// truncation (with 50% slack on the sampled max) + rounding of the
			// difference + rounding of the final v + d·(...) sum
			tol := ds[i]*(1.5*e/2*g2+2*delta/e) + 4*u32*m
			want := g.u(xi, ts[i], ds[i])
			for j, w := range want {
				if d := math.Abs(float64(got[i*n+j]) - w); d > tol {
					t.Errorf("eps=%g d=%g t=%g value %d: target %v, exact u %v (|err| %.2g > tol %.2g)", eps, ds[i], ts[i], j, got[i*n+j], w, d, tol)
				}
			}
		}
	}
}

// The objectives' losses with the exact model, on a batch of conditional
// pairs (x0, x1), against the same sums written out in float64: flow
// matching gives mean((x1-x0 - v)²); MeanFlow's error on its first k
// examples is (x1-x0 - v)·(1 + d·c(t+ε, d-ε)) plus the finite difference's
// truncation of the exact path derivative (u is affine in x, so replacing
// the exact tangent by the conditional one only adds that factor); the
// shortcut target equals u exactly, so its error is u(x, t, d) - u(x, t, d)
// = 0 on the first k and the flow-matching error on the rest.
func TestObjectiveLossesGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	g := newGaussCase(rng)
	const b = 8
	n := len(g.mu)
	x0, x1 := g.draw(rng, b)
	ts := []float64{0.1, 0.25, 0.5, 0.75, 0.2, 0.4, 0.6, 0.9}
	cases := []struct {
		cfg TrainConfig
		ds  []float64
	}{
		{TrainConfig{Objective: ObjectiveFlowMatching}, nil},
		{TrainConfig{Objective: ObjectiveFlowMatching, AdaptiveLossPower: 0.5}, nil},
		{TrainConfig{Objective: ObjectiveShortcut, FlowMapFraction: 0.5, ShortcutLevels: 4}, []float64{0.5, 0.25, 0.25, 0.25, 0, 0, 0, 0}},
		{TrainConfig{Objective: ObjectiveMeanFlow, FlowMapFraction: 0.5, MeanFlowEpsilon: 1e-3}, []float64{0.8, 0.5, 0.3, 0.2, 0, 0, 0, 0}},
		{TrainConfig{Objective: ObjectiveMeanFlow, FlowMapFraction: 0.5, MeanFlowEpsilon: 1e-3, AdaptiveLossPower: 1}, []float64{0.8, 0.5, 0.3, 0.2, 0, 0, 0, 0}},
	}
	for _, tc := range cases {
		cfg := tc.cfg
		k := cfg.flowMapCount(b)
		errs := make([]float64, b)
		for i := range b {
			xt := make([]float64, n)
			vc := make([]float64, n)
			for j := range xt {
				xt[j] = (1-ts[i])*x0[i*n+j] + ts[i]*x1[i*n+j]
				vc[j] = x1[i*n+j] - x0[i*n+j]
			}
			v := g.u(xt, ts[i], 0)
			factor := 1.0
			if i < k {
				switch cfg.Objective {
				case ObjectiveShortcut:
					factor = 0
				case ObjectiveMeanFlow:
					d := ds(tc.ds, i)
					e := min(cfg.MeanFlowEpsilon, d)
					factor = 1 + d*g.coef(ts[i]+e, d-e)
				}
			}
			for j := range xt {
				diff := (vc[j] - v[j]) * factor
				errs[i] += diff * diff / float64(n)
			}
		}
		var want float64
		for _, e := range errs {
			w := 1.0
			if cfg.AdaptiveLossPower > 0 {
				w = math.Pow(e+1e-3, -cfg.AdaptiveLossPower)
			}
			want += w * e / b
		}
		var vectors [][]float64
		vectors = append(vectors, ts)
		if tc.ds != nil {
			vectors = append(vectors, tc.ds)
		}
		got := g.run(t, func(xs []*Node) *Node {
			var d *Node
			if len(xs) > 3 {
				d = xs[3]
			}
			return objectiveLoss(cfg, g.graphU, g.graphU, xs[1], xs[0], xs[2], d, nil)
		}, [][]float64{x0, x1}, vectors)[0]
		// Tolerance: the MeanFlow truncation term is below d·ε/2·|G''|·|x1-x0|
		// relative (|G''| < 10 here), i.e. < 1% of the error; float32
		// roundings of a mean of squares add ~1e-5 relative.
		tol := 1e-5 * want
		if cfg.Objective == ObjectiveMeanFlow {
			tol = 1e-2 * want
		}
		if d := math.Abs(float64(got) - want); d > tol {
			t.Errorf("%s (adaptive %g): loss %v, closed form %v (|err| %.2g > %.2g)", cfg.Objective, cfg.AdaptiveLossPower, got, want, d, tol)
		} else {
			t.Logf("%s (adaptive %g): loss %.6f, closed form %.6f", cfg.Objective, cfg.AdaptiveLossPower, got, want)
		}
	}
}

func ds(v []float64, i int) float64 {
	if v == nil {
		return 0
	}
	return v[i]
}

// The training-time draws of t and d: shortcut steps are powers of two with t
// a multiple of d and t+d <= 1; MeanFlow pairs satisfy 0 <= t <= t+d < 1;
// the rest of the batch has d = 0.
func TestSampleTimesSteps(t *testing.T) {
	for _, obj := range []Objective{ObjectiveShortcut, ObjectiveMeanFlow} {
		cfg := TrainConfig{Objective: obj, Steps: 10, Seed: 3}.WithDefaults()
		tr := &Trainer{cfg: cfg}
		const b = 64
		k := cfg.flowMapCount(b)
		if k != 16 {
			t.Fatalf("%s: %d flow-map examples of %d, want 16", obj, k, b)
		}
		for step := range 5 {
			tr.step = step
			ts, dd := tr.sampleTimesSteps(b)
			for i := range b {
				tt, d := float64(ts[i]), float64(dd[i])
				if i >= k {
					if d != 0 {
						t.Fatalf("%s: example %d beyond the flow-map part has d=%g", obj, i, d)
					}
					continue
				}
				if !(d > 0 && tt >= 0 && tt+d <= 1) {
					t.Fatalf("%s: example %d t=%g d=%g", obj, i, tt, d)
				}
				if obj == ObjectiveShortcut {
					lg := math.Log2(d)
					if lg != math.Round(lg) || lg < -float64(cfg.ShortcutLevels-1) || math.Mod(tt, d) != 0 {
						t.Fatalf("shortcut: example %d t=%g d=%g", i, tt, d)
					}
				}
			}
		}
	}
}

// Exact minibatch assignment: the Hungarian solver against brute force over
// all permutations, and couple keeps each class's rows among its positions.
func TestHungarianAndCouple(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for trial := range 20 {
		n := 1 + trial%6
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, n)
			for j := range cost[i] {
				cost[i][j] = rng.Float64()
			}
		}
		p := hungarian(cost)
		got := 0.0
		for i, j := range p {
			got += cost[i][j]
		}
		best := math.Inf(1)
		perm := make([]int, n)
		for i := range perm {
			perm[i] = i
		}
		var rec func(k int)
		rec = func(k int) {
			if k == n {
				s := 0.0
				for i, j := range perm {
					s += cost[i][j]
				}
				best = min(best, s)
				return
			}
			for i := k; i < n; i++ {
				perm[k], perm[i] = perm[i], perm[k]
				rec(k + 1)
				perm[k], perm[i] = perm[i], perm[k]
			}
		}
		rec(0)
		if math.Abs(got-best) > 1e-12 {
			t.Fatalf("n=%d: assignment cost %v, optimum %v", n, got, best)
		}
	}
	// couple: 1-D "images"; noise rows are permuted so that Σ(x1-x0)² is minimal.
	x1 := []float32{0, 10, 20, 30}
	x0 := []float32{31, 1, 19, 11}
	couple(x0, x1, nil, 4, 1)
	if want := []float32{1, 11, 19, 31}; !equal32(x0, want) {
		t.Fatalf("couple without labels: %v, want %v", x0, want)
	}
	x0 = []float32{31, 1, 19, 11}
	couple(x0, x1, []int{0, 1, 0, 1}, 4, 1) // class 0 at rows 0, 2; class 1 at rows 1, 3
	if want := []float32{19, 1, 31, 11}; !equal32(x0, want) {
		t.Fatalf("couple with labels: %v, want %v", x0, want)
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// shortcutLevel puts ShortcutCoarse of the draws on levels 0 and 1 (half
// each) and spreads the rest uniformly over all levels.
func TestShortcutLevelShares(t *testing.T) {
	for _, tc := range []struct {
		levels int
		coarse float64
	}{{7, 0}, {7, 0.5}, {5, 1}, {1, 0.5}} {
		cfg := TrainConfig{ShortcutLevels: tc.levels, ShortcutCoarse: tc.coarse}
		rng := rand.New(rand.NewPCG(1, 2))
		const n = 70000
		counts := make([]int, tc.levels)
		for range n {
			counts[cfg.shortcutLevel(rng)]++
		}
		for k, got := range counts {
			want := (1 - tc.coarse) / float64(tc.levels)
			if k < 2 {
				want += tc.coarse / float64(min(2, tc.levels))
			}
			// five binomial standard deviations of a share of n draws
			tol := 5 * math.Sqrt(want*(1-want)/n)
			if share := float64(got) / n; math.Abs(share-want) > tol {
				t.Errorf("levels %d, coarse %g: level %d drawn %.4f of the time, want %.4f ± %.4f", tc.levels, tc.coarse, k, share, want, tol)
			}
		}
	}
}

// drawShortcutStep with ShortcutContinuous spreads log2(1/d) uniformly over
// [0, levels-1] and t uniformly over [0, 1-d]; without it d is a power of
// two and t a multiple of d.
func TestDrawShortcutStep(t *testing.T) {
	const n = 40000
	for _, levels := range []int{5, 1} {
		cfg := TrainConfig{ShortcutLevels: levels, ShortcutContinuous: true}
		rng := rand.New(rand.NewPCG(3, 4))
		span := float64(levels - 1)
		bins := make([]int, 4) // quarters of [0, span] for u = log2(1/d)
		var sumS float64       // t/(1-d), uniform on [0, 1) where d < 1
		var nS int
		for range n {
			tt, d := cfg.drawShortcutStep(rng)
			u := -math.Log2(float64(d))
			if d > 1 || u > span+1e-6 || tt < 0 || float64(tt)+float64(d) > 1+1e-6 {
				t.Fatalf("levels %d: t=%g d=%g outside t >= 0, t+d <= 1, d in [2^-%g, 1]", levels, tt, d, span)
			}
			if span > 0 {
				bins[min(int(4*u/span), 3)]++
			}
			if d < 1 {
				sumS += float64(tt) / (1 - float64(d))
				nS++
			}
		}
		if span == 0 {
			continue // d = 1 and t = 0 on every draw, checked above
		}
		for k, got := range bins {
			// five binomial standard deviations of a share of 1/4
			if share, tol := float64(got)/n, 5*math.Sqrt(0.25*0.75/n); math.Abs(share-0.25) > tol {
				t.Errorf("levels %d: log2(1/d) in quarter %d %.4f of the time, want 0.25 ± %.4f", levels, k, share, tol)
			}
		}
		// the mean of a uniform [0, 1) is 1/2 with standard deviation 1/sqrt(12)
		if mean, tol := sumS/float64(nS), 5/math.Sqrt(12*float64(nS)); math.Abs(mean-0.5) > tol {
			t.Errorf("levels %d: mean of t/(1-d) %.4f, want 0.5 ± %.4f", levels, mean, tol)
		}
	}
	cfg := TrainConfig{ShortcutLevels: 5}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		tt, d := cfg.drawShortcutStep(rng)
		k := math.Log2(1 / float64(d))
		pos := float64(tt) / float64(d)
		if k != math.Round(k) || k > 4 || pos != math.Round(pos) || float64(tt)+float64(d) > 1 {
			t.Fatalf("powers of two: t=%g d=%g, want d = 2^-k (k <= 4) and t a multiple of d below 1", tt, d)
		}
	}
}

// StepCounts lists the flowmap step counts a model is made for: the powers
// of two of a shortcut model, every count up to the coarsest level's of a
// continuous one, none (any) for the other objectives.
func TestStepCounts(t *testing.T) {
	for _, tc := range []struct {
		cfg  TrainConfig
		want []int
	}{
		{TrainConfig{Objective: ObjectiveShortcut, ShortcutLevels: 5}, []int{1, 2, 4, 8, 16, 32}},
		{TrainConfig{Objective: ObjectiveShortcut, ShortcutLevels: 3, ShortcutContinuous: true}, []int{1, 2, 3, 4, 8}},
		{TrainConfig{Objective: ObjectiveShortcut, ShortcutLevels: 1, ShortcutContinuous: true}, []int{1, 2}},
		{TrainConfig{Objective: ObjectiveFlowMatching}, nil},
		{TrainConfig{Objective: ObjectiveMeanFlow}, nil},
	} {
		if got := tc.cfg.StepCounts(); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: StepCounts %v, want %v", tc.cfg, got, tc.want)
		}
	}
}
