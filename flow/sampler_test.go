package flow

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// constantField returns v = c for every sample (c has dim entries).
func constantField(c []float32) Field {
	return FieldFunc(func(_ context.Context, x, t, dst []float32) error {
		dim := len(x) / len(t)
		for i := range dst {
			dst[i] = c[i%dim]
		}
		return nil
	})
}

// gaussianField is the exact flow-matching marginal velocity transporting
// N(0,1) at t=0 to N(mu, s^2) at t=1, independently per dimension:
// x_t ~ N(t*mu, (1-t)^2 + t^2 s^2) and
// v(x,t) = mu + (x - t*mu) * (t s^2 - (1-t)) / ((1-t)^2 + t^2 s^2).
// The flow map is affine, so the exact endpoint of a start x0 is mu + s*x0.
// The field is evaluated in float64 to keep its own round-off out of the way.
func gaussianField(mu, s float64) Field {
	return FieldFunc(func(_ context.Context, x, t, dst []float32) error {
		dim := len(x) / len(t)
		for i := range x {
			tt := float64(t[i/dim])
			den := (1-tt)*(1-tt) + tt*tt*s*s
			dst[i] = float32(mu + (float64(x[i])-tt*mu)*(tt*s*s-(1-tt))/den)
		}
		return nil
	})
}

func TestIntegrateConstantEuler(t *testing.T) {
	// The 2D example: constant velocity (5,5) from (0,-5), 5 Euler steps.
	x := []float32{0, -5}
	var got [][2]float32
	var times []float32
	err := Integrate(context.Background(), constantField([]float32{5, 5}), x, 1, SampleOptions{
		Method: Euler, Steps: 5,
		OnStep: func(step, steps int, tt float32, s []float32) {
			if step != len(got)+1 || steps != 5 {
				t.Errorf("OnStep(step=%d, steps=%d), want step=%d steps=5", step, steps, len(got)+1)
			}
			got = append(got, [2]float32{s[0], s[1]})
			times = append(times, tt)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]float32{{1, -4}, {2, -3}, {3, -2}, {4, -1}, {5, 0}}
	wantT := []float32{0.2, 0.4, 0.6, 0.8, 1}
	if len(got) != len(want) {
		t.Fatalf("OnStep called %d times, want %d", len(got), len(want))
	}
	for i := range want {
		for d := 0; d < 2; d++ {
			if math.Abs(float64(got[i][d]-want[i][d])) > 1e-5 {
				t.Errorf("step %d: state %v, want %v", i+1, got[i], want[i])
			}
		}
		if math.Abs(float64(times[i]-wantT[i])) > 1e-6 {
			t.Errorf("step %d: t = %g, want %g", i+1, times[i], wantT[i])
		}
	}
	if x[0] != got[4][0] || x[1] != got[4][1] {
		t.Errorf("final x = %v, want last OnStep state %v", x, got[4])
	}
}

func TestIntegrateExactForLinearInTime(t *testing.T) {
	// v = 2t: exact solution x(1) = x(0) + 1. Heun, midpoint and RK4 are exact
	// for velocities linear in t; Euler is not (it gives sum 2k/N^2 = (N-1)/N).
	f := FieldFunc(func(_ context.Context, x, tt, dst []float32) error {
		dim := len(x) / len(tt)
		for i := range dst {
			dst[i] = 2 * tt[i/dim]
		}
		return nil
	})
	tests := []struct {
		method Method
		want   float32
	}{
		{Euler, 0.75}, // N=4: (N-1)/N
		{Heun, 1},
		{Midpoint, 1},
		{RK4, 1},
	}
	for _, tc := range tests {
		x := []float32{0, 0, 0}
		if err := Integrate(context.Background(), f, x, 3, SampleOptions{Method: tc.method, Steps: 4}); err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			if math.Abs(float64(v-tc.want)) > 1e-6 {
				t.Errorf("%s: x[%d] = %g, want %g", tc.method, i, v, tc.want)
			}
		}
	}
}

// rotationField rotates the plane at angular speed w: v(x, y) = w(-y, x).
// Its exact flow over [0, 1] is the rotation by w radians. Midpoint and Heun
// coincide on autonomous linear fields, with a non-vanishing h^2 error term.
func rotationField(w float64) Field {
	return FieldFunc(func(_ context.Context, x, t, dst []float32) error {
		for i := 0; i+1 < len(x); i += 2 {
			dst[i] = float32(-w * float64(x[i+1]))
			dst[i+1] = float32(w * float64(x[i]))
		}
		return nil
	})
}

// convergenceCase is an analytic test problem: a field over dim-2 samples
// with a closed-form endpoint at t = 1.
type convergenceCase struct {
	name  string
	field Field
	exact func(x0 []float32) []float64 // endpoint of every start
}

func gaussianCase(mu, s float64) convergenceCase {
	return convergenceCase{"gaussian", gaussianField(mu, s), func(x0 []float32) []float64 {
		out := make([]float64, len(x0))
		for i, v := range x0 {
			out[i] = mu + s*float64(v)
		}
		return out
	}}
}

func rotationCase(w float64) convergenceCase {
	c, s := math.Cos(w), math.Sin(w)
	return convergenceCase{"rotation", rotationField(w), func(x0 []float32) []float64 {
		out := make([]float64, len(x0))
		for i := 0; i+1 < len(x0); i += 2 {
			x, y := float64(x0[i]), float64(x0[i+1])
			out[i], out[i+1] = c*x-s*y, s*x+c*y
		}
		return out
	}}
}

// endpointError integrates c.field over [0,1] from fixed starts and returns
// the max absolute error against the exact endpoint.
func endpointError(t *testing.T, c convergenceCase, m Method, steps int) float64 {
	t.Helper()
	starts := []float32{-2, -1, -0.3, 0, 0.5, 1.2, 2.5, 3}
	x := append([]float32(nil), starts...)
	if err := Integrate(context.Background(), c.field, x, 4, SampleOptions{Method: m, Steps: steps}); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i, want := range c.exact(starts) {
		worst = math.Max(worst, math.Abs(float64(x[i])-want))
	}
	return worst
}

// slope fits log(err) = a + b log(n) by least squares and returns b.
func slope(ns []int, errs []float64) float64 {
	var sx, sy, sxx, sxy float64
	for i := range ns {
		lx, ly := math.Log(float64(ns[i])), math.Log(errs[i])
		sx += lx
		sy += ly
		sxx += lx * lx
		sxy += lx * ly
	}
	n := float64(len(ns))
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

func TestIntegrateConvergenceOrder(t *testing.T) {
	// Step counts are chosen so the truncation error stays well above float32
	// round-off (~1e-6 here): RK4 gets there by N=16, so it uses small N.
	//
	// On the Gaussian flow-matching field the midpoint rule's h^2 error term
	// happens to cancel (it measures order ~3 there) and RK4 is still
	// pre-asymptotic (order ~4.9) before it hits round-off, so for those two
	// the Gaussian case asserts only "at least" the order; the rotation field
	// checks the exact order of every method.
	gauss := gaussianCase(1.5, 0.25) // contracting: N(0,1) -> N(1.5, 0.25^2)
	rot := rotationCase(2)
	long := []int{4, 8, 16, 32, 64}
	tests := []struct {
		c       convergenceCase
		method  Method
		ns      []int
		order   float64
		atLeast bool
	}{
		{gauss, Euler, long, 1, false},
		{gauss, Heun, []int{8, 16, 32, 64}, 2, false},
		{gauss, Midpoint, long, 2, true},
		{gauss, RK4, []int{2, 4, 8, 16}, 4, true},
		{rot, Euler, long, 1, false},
		{rot, Heun, long, 2, false},
		{rot, Midpoint, long, 2, false},
		{rot, RK4, []int{2, 4, 8, 16}, 4, false},
	}
	for _, tc := range tests {
		t.Run(tc.c.name+"/"+string(tc.method), func(t *testing.T) {
			errs := make([]float64, len(tc.ns))
			for i, n := range tc.ns {
				errs[i] = endpointError(t, tc.c, tc.method, n)
			}
			got := -slope(tc.ns, errs)
			t.Logf("N=%v errors=%.3g order=%.3f", tc.ns, errs, got)
			if got < tc.order-0.3 || (!tc.atLeast && got > tc.order+0.3) {
				t.Errorf("fitted order %.3f, want %.1f±0.3 (errors %.3g)", got, tc.order, errs)
			}
		})
	}
}

func TestIntegrateBackwardRoundTrip(t *testing.T) {
	const mu, s = 0.5, 0.8
	f := gaussianField(mu, s)
	start := []float32{-1.5, -0.2, 0, 0.7, 1.9, 2.2}
	for _, m := range Methods() {
		x := append([]float32(nil), start...)
		// Euler's forward and backward errors do not cancel: give it more
		// steps and a looser tolerance.
		steps, tol := 64, 1e-4
		if m == Euler {
			steps, tol = 256, 5e-2
		}
		if err := Integrate(context.Background(), f, x, 3, SampleOptions{Method: m, Steps: steps}); err != nil {
			t.Fatal(err)
		}
		if err := Integrate(context.Background(), f, x, 3, SampleOptions{Method: m, Steps: steps, T0: 1, T1: 0}); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if d := math.Abs(float64(x[i] - start[i])); d > tol {
				t.Errorf("%s: round trip x[%d] = %g, want %g (|diff| %.2g > %.0g)", m, i, x[i], start[i], d, tol)
			}
		}
	}
}

func TestIntegratePartialInterval(t *testing.T) {
	// Image-to-image starts at T0 > 0 from a point on the path; the exact
	// solution from x(T0) = T0*mu + sqrt((1-T0)^2+T0^2 s^2) z is mu + s z.
	const mu, s, t0 = 1.0, 0.5, 0.6
	z := []float32{-1, 0.3, 2}
	sd := math.Sqrt((1-t0)*(1-t0) + t0*t0*s*s)
	x := make([]float32, len(z))
	for i := range z {
		x[i] = float32(t0*mu + sd*float64(z[i]))
	}
	var firstT float32 = -1
	err := Integrate(context.Background(), gaussianField(mu, s), x, 3, SampleOptions{
		Method: RK4, Steps: 8, T0: t0, T1: 1,
		OnStep: func(step, _ int, tt float32, _ []float32) {
			if step == 1 {
				firstT = tt
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := float32(t0 + 0.4/8); math.Abs(float64(firstT-want)) > 1e-6 {
		t.Errorf("first step reached t=%g, want %g", firstT, want)
	}
	for i := range z {
		if want := mu + s*float64(z[i]); math.Abs(float64(x[i])-want) > 1e-5 {
			t.Errorf("x[%d] = %g, want %g", i, x[i], want)
		}
	}
}

func TestIntegrateEvaluations(t *testing.T) {
	for _, m := range Methods() {
		for _, n := range []int{1, 3, 10} {
			calls := 0
			f := FieldFunc(func(_ context.Context, x, tt, dst []float32) error {
				calls++
				return nil
			})
			if err := Integrate(context.Background(), f, make([]float32, 4), 2, SampleOptions{Method: m, Steps: n}); err != nil {
				t.Fatal(err)
			}
			if calls != m.Evaluations(n) {
				t.Errorf("%s N=%d: %d field calls, Evaluations says %d", m, n, calls, m.Evaluations(n))
			}
		}
	}
	want := map[Method]int{Euler: 10, Heun: 20, Midpoint: 20, RK4: 40}
	for m, w := range want {
		if got := m.Evaluations(10); got != w {
			t.Errorf("%s.Evaluations(10) = %d, want %d", m, got, w)
		}
	}
	if got := Method("nope").Evaluations(10); got != 0 {
		t.Errorf("unknown method Evaluations = %d, want 0", got)
	}
}

func TestIntegrateFieldShapes(t *testing.T) {
	// The field sees len(t) == batch and len(x) == len(dst) == batch*dim, and
	// every sample gets the same time.
	f := FieldFunc(func(_ context.Context, x, tt, dst []float32) error {
		if len(tt) != 3 || len(x) != 12 || len(dst) != 12 {
			return errors.New("bad shapes")
		}
		for _, v := range tt[1:] {
			if v != tt[0] {
				return errors.New("times differ across the batch")
			}
		}
		return nil
	})
	for _, m := range Methods() {
		if err := Integrate(context.Background(), f, make([]float32, 12), 3, SampleOptions{Method: m, Steps: 2}); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}

func TestIntegrateCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	f := FieldFunc(func(_ context.Context, x, tt, dst []float32) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil
	})
	err := Integrate(ctx, f, make([]float32, 2), 1, SampleOptions{Method: RK4, Steps: 100})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls != 3 {
		t.Errorf("field called %d times after cancellation at call 3", calls)
	}

	// A field error is wrapped and stops integration.
	boom := errors.New("boom")
	err = Integrate(context.Background(), FieldFunc(func(context.Context, []float32, []float32, []float32) error { return boom }),
		make([]float32, 2), 1, SampleOptions{Steps: 3})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "step 1 of 3") {
		t.Errorf("err = %v, want wrapped boom at step 1 of 3", err)
	}
}

func TestIntegrateBadOptions(t *testing.T) {
	f := constantField([]float32{1})
	tests := []struct {
		name  string
		x     []float32
		batch int
		opts  SampleOptions
		want  string
	}{
		{"zero steps", make([]float32, 4), 2, SampleOptions{}, "at least 1"},
		{"negative steps", make([]float32, 4), 2, SampleOptions{Steps: -1}, "at least 1"},
		{"unknown method", make([]float32, 4), 2, SampleOptions{Steps: 1, Method: "dopri"}, "euler, heun, midpoint, rk4"},
		{"not divisible", make([]float32, 5), 2, SampleOptions{Steps: 1}, "multiple of batch"},
		{"empty x", nil, 1, SampleOptions{Steps: 1}, "multiple of batch"},
		{"zero batch", make([]float32, 4), 0, SampleOptions{Steps: 1}, "batch must be"},
		{"empty interval", make([]float32, 4), 2, SampleOptions{Steps: 1, T0: 0.5, T1: 0.5}, "empty"},
		{"NaN", make([]float32, 4), 2, SampleOptions{Steps: 1, T1: float32(math.NaN())}, "not finite"},
	}
	for _, tc := range tests {
		err := Integrate(context.Background(), f, tc.x, tc.batch, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if err := Integrate(context.Background(), nil, make([]float32, 2), 1, SampleOptions{Steps: 1}); err == nil {
		t.Error("nil field: want error")
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in   string
		want Method
		ok   bool
	}{
		{"euler", Euler, true},
		{" Heun ", Heun, true},
		{"MIDPOINT", Midpoint, true},
		{"rk4", RK4, true},
		{"", "", false},
		{"rk45", "", false},
	}
	for _, tc := range tests {
		got, err := ParseMethod(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMethod(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "euler, heun, midpoint, rk4") {
			t.Errorf("ParseMethod(%q) error %q does not list valid methods", tc.in, err)
		}
	}
}

func TestIntegrateAllocations(t *testing.T) {
	// Scratch buffers are allocated once per call, not per step.
	f := gaussianField(1, 0.5)
	x := make([]float32, 256)
	for _, m := range Methods() {
		few := testing.AllocsPerRun(5, func() {
			Integrate(context.Background(), f, x, 4, SampleOptions{Method: m, Steps: 2})
		})
		many := testing.AllocsPerRun(5, func() {
			Integrate(context.Background(), f, x, 4, SampleOptions{Method: m, Steps: 50})
		})
		if many != few || many > 6 {
			t.Errorf("%s: %v allocations for 2 steps, %v for 50; want the same, at most 6", m, few, many)
		}
	}
}

// stepGaussianField is gaussianField with the exact average velocity over a
// step (see objective_internal_test.go): u(x, t, h) = mu + (a(t+h)/a(t) -
// 1)/h·(x - t·mu), a(t)² = (1-t)² + t²s².
type stepGaussianField struct {
	Field
	mu, s float64
}

func (f stepGaussianField) AverageVelocity(_ context.Context, x, t, h, dst []float32) error {
	dim := len(x) / len(t)
	a := func(t float64) float64 { return math.Sqrt((1-t)*(1-t) + t*t*f.s*f.s) }
	for i := range x {
		tt, hh := float64(t[i/dim]), float64(h[i/dim])
		dst[i] = float32(f.mu + (float64(x[i])-tt*f.mu)*(a(tt+hh)/a(tt)-1)/hh)
	}
	return nil
}

// FlowMap sampling with the exact average velocity lands on the exact
// endpoint mu + s·x0 in any number of steps (float32 rounding only), also on
// a shifted grid; on a plain Field it is refused.
func TestIntegrateFlowMapExact(t *testing.T) {
	const mu, s = 0.7, 0.4
	f := stepGaussianField{Field: gaussianField(mu, s), mu: mu, s: s}
	x0 := []float32{-1.5, 0.2, 1.1, 2.0}
	for _, steps := range []int{1, 2, 4, 16} {
		for _, shift := range []float64{0, 3} {
			x := append([]float32(nil), x0...)
			if err := Integrate(context.Background(), f, x, 2, SampleOptions{Method: FlowMap, Steps: steps, Shift: shift}); err != nil {
				t.Fatal(err)
			}
			for i, v := range x {
				want := mu + s*float64(x0[i])
				// per step: one rounding of u (values < 4) and of the axpy
				if d := math.Abs(float64(v) - want); d > float64(steps)*8*(1.0/(1<<24))*4 {
					t.Errorf("steps %d shift %g: x[%d] = %v, want %v", steps, shift, i, v, want)
				}
			}
		}
	}
	err := Integrate(context.Background(), gaussianField(mu, s), make([]float32, 4), 2, SampleOptions{Method: FlowMap, Steps: 2})
	if err == nil || !strings.Contains(err.Error(), "average velocities") {
		t.Errorf("FlowMap on a plain field: %v, want an error", err)
	}
	if err := (SampleOptions{Method: FlowMap, Steps: 2, T0: 1, T1: 0}).Validate(); err == nil {
		t.Error("FlowMap backwards validated")
	}
}

// The shifted grid: endpoints kept, t_k = T0 + (T1-T0)·s·τ/(1+(s-1)τ); Euler
// visits exactly those times. A negative or NaN shift is refused.
func TestIntegrateShiftedGrid(t *testing.T) {
	var seen []float32
	rec := FieldFunc(func(_ context.Context, x, ts, dst []float32) error {
		seen = append(seen, ts[0])
		for i := range dst {
			dst[i] = 0
		}
		return nil
	})
	const shift = 3.0
	if err := Integrate(context.Background(), rec, make([]float32, 2), 1, SampleOptions{Steps: 4, Shift: shift, T0: 0.2, T1: 1}); err != nil {
		t.Fatal(err)
	}
	for k, got := range seen {
		tau := float64(k) / 4
		want := 0.2 + 0.8*shift*tau/(1+(shift-1)*tau)
		if math.Abs(float64(got)-want) > 1e-7 {
			t.Errorf("step %d at t=%v, want %v", k, got, want)
		}
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := (SampleOptions{Steps: 2, Shift: bad}).Validate(); err == nil {
			t.Errorf("shift %v validated", bad)
		}
	}
}

// An explicit grid: Euler visits T0 + (T1-T0)·g for each interior point g,
// whatever Shift says; grids of the wrong length or not increasing strictly
// inside (0, 1) are refused, naming the grid.
func TestIntegrateExplicitGrid(t *testing.T) {
	var seen []float32
	rec := FieldFunc(func(_ context.Context, x, ts, dst []float32) error {
		seen = append(seen, ts[0])
		clear(dst)
		return nil
	})
	grid := []float64{0.1, 0.5, 0.55}
	if err := Integrate(context.Background(), rec, make([]float32, 2), 1, SampleOptions{Steps: 4, Shift: 3, Grid: grid, T0: 0.2, T1: 1}); err != nil {
		t.Fatal(err)
	}
	want := []float64{0.2, 0.2 + 0.8*0.1, 0.2 + 0.8*0.5, 0.2 + 0.8*0.55}
	if len(seen) != len(want) {
		t.Fatalf("visited %v, want %v", seen, want)
	}
	for k := range want {
		// float32 times: half an ulp of values below 1
		if math.Abs(float64(seen[k])-want[k]) > 6e-8 {
			t.Errorf("step %d at t=%v, want %v", k, seen[k], want[k])
		}
	}
	for _, bad := range [][]float64{{0.5}, {0.5, 0.4, 0.9}, {0, 0.5, 0.9}, {0.2, 0.5, 1}, {0.2, math.NaN(), 0.9}} {
		err := (SampleOptions{Steps: 4, Grid: bad}).Validate()
		if err == nil || !strings.Contains(err.Error(), "time grid") {
			t.Errorf("grid %v: error %v, want a time-grid error", bad, err)
		}
	}
}

// Renoise with the exact average velocity of the Gaussian case: each step
// jumps to Φ_t(x) = mu + s·(x − t·mu)/a(t), the exact endpoint, and noises it
// back with the given noise, so the result follows that recursion to float32
// rounding; and its samples have the data's mean and spread (each jump is an
// exact sample, and (1−t')·z + t'·x̂ an exact point of the noising path).
func TestIntegrateRenoise(t *testing.T) {
	const mu, s = 0.7, 0.4
	f := stepGaussianField{Field: gaussianField(mu, s), mu: mu, s: s}
	a := func(t float64) float64 { return math.Sqrt((1-t)*(1-t) + t*t*s*s) }
	x0 := []float32{-1.5, 0.2, 1.1, 2.0}
	noise := func(step int, dst []float32) error {
		for i := range dst {
			dst[i] = float32(math.Sin(float64(7*step + 3*i)))
		}
		return nil
	}
	for _, steps := range []int{1, 2, 4, 8} {
		x := append([]float32(nil), x0...)
		if err := Integrate(context.Background(), f, x, 2, SampleOptions{Method: Renoise, Steps: steps, Noise: noise}); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(x0))
		for i := range want {
			want[i] = float64(x0[i])
		}
		z := make([]float32, len(x0))
		for k := 1; k <= steps; k++ {
			ta, tb := float64(k-1)/float64(steps), float64(k)/float64(steps)
			noise(k, z)
			for i := range want {
				end := mu + s*(want[i]-ta*mu)/a(ta)
				if k < steps {
					end = (1-tb)*float64(z[i]) + tb*end
				}
				want[i] = end
			}
		}
		for i, v := range x {
			// per step: the rounding of u, of the jump and of the mix (values < 4)
			if d := math.Abs(float64(v) - want[i]); d > float64(steps)*3*4/(1<<24)*4 {
				t.Errorf("%d steps: x[%d] = %v, want %v", steps, i, v, want[i])
			}
		}
	}

	const n = 20000
	x := make([]float32, n)
	if err := GaussianNoiseBatch(5, 0, 1, x); err != nil {
		t.Fatal(err)
	}
	if err := Integrate(context.Background(), f, x, n, SampleOptions{Method: Renoise, Steps: 4, Noise: StepNoise(5, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / n
	for _, v := range x {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	sd := math.Sqrt(sq / (n - 1))
	// Five standard errors: s/√n for the mean, s/√(2n) for the spread.
	if math.Abs(mean-mu) > 5*s/math.Sqrt(n) || math.Abs(sd-s) > 5*s/math.Sqrt(2*n) {
		t.Errorf("4 renoise steps: mean %.4f, spread %.4f; want %.2f, %.2f", mean, sd, mu, s)
	}
}

// Renoise's options are checked: it needs fresh noise beyond one step, a
// StepField, and integrates from T0 up to 1.
func TestRenoiseBadOptions(t *testing.T) {
	const mu, s = 0.7, 0.4
	f := stepGaussianField{Field: gaussianField(mu, s), mu: mu, s: s}
	noise := StepNoise(1, 0, 2)
	tests := []struct {
		name  string
		field Field
		opts  SampleOptions
		want  string
	}{
		{"no noise", f, SampleOptions{Method: Renoise, Steps: 2}, "fresh noise"},
		{"backwards", f, SampleOptions{Method: Renoise, Steps: 2, T0: 1, T1: 0, Noise: noise}, "forwards only"},
		{"not up to 1", f, SampleOptions{Method: Renoise, Steps: 2, T0: 0, T1: 0.5, Noise: noise}, "up to t = 1"},
		{"plain field", gaussianField(mu, s), SampleOptions{Method: Renoise, Steps: 2, Noise: noise}, "average velocities"},
	}
	for _, tc := range tests {
		err := Integrate(context.Background(), tc.field, make([]float32, 4), 2, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// One step needs no noise: it is FlowMap.
	x, y := []float32{0.3, -1}, []float32{0.3, -1}
	if err := Integrate(context.Background(), f, x, 1, SampleOptions{Method: Renoise, Steps: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Integrate(context.Background(), f, y, 1, SampleOptions{Method: FlowMap, Steps: 1}); err != nil {
		t.Fatal(err)
	}
	if x[0] != y[0] || x[1] != y[1] {
		t.Errorf("one renoise step gives %v, one flowmap step %v", x, y)
	}
}
