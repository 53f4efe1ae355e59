package flow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Field is a time-dependent velocity field over a batch of flattened samples.
type Field interface {
	// Velocity writes v(x, t) into dst. x and dst have len(t)*dim floats:
	// row i (x[i*dim:(i+1)*dim]) is sample i at time t[i]. Implementations
	// must not retain x, t or dst after returning, and must not modify x or t.
	Velocity(ctx context.Context, x, t, dst []float32) error
}

// FieldFunc adapts an ordinary function to the [Field] interface.
type FieldFunc func(ctx context.Context, x, t, dst []float32) error

// Velocity calls f(ctx, x, t, dst).
func (f FieldFunc) Velocity(ctx context.Context, x, t, dst []float32) error {
	return f(ctx, x, t, dst)
}

// Method names an ODE integration scheme for [Integrate].
type Method string

// The supported integration methods. All are explicit fixed-step schemes.
const (
	// Euler is the first-order forward Euler method: one evaluation per step.
	Euler Method = "euler"
	// Heun is the second-order explicit trapezoidal rule (Euler predictor,
	// trapezoidal corrector): two evaluations per step, including the last.
	Heun Method = "heun"
	// Midpoint is the second-order explicit midpoint method: two evaluations
	// per step.
	Midpoint Method = "midpoint"
	// RK4 is the classical fourth-order Runge-Kutta method: four evaluations
	// per step.
	RK4 Method = "rk4"
	// FlowMap jumps each step with the average velocity over it,
	// x(t+h) = x(t) + h·u(x(t), t, h): one evaluation per step of a field
	// that implements [StepField] (a model trained with a few-step
	// objective). With u(x, t, h) = v(x, t) it is Euler.
	FlowMap Method = "flowmap"
	// Renoise samples a few-step model as consistency models do: each step
	// jumps from x(t) all the way to an image, x̂ = x(t) + (1−t)·u(x(t), t,
	// 1−t), and, but for the last step, noises that image back to the next
	// grid time t' with fresh noise z, x(t') = (1−t')·z + t'·x̂. One
	// evaluation per step of a [StepField]; SampleOptions.Noise gives z.
	// Where the flow map's long jumps are soft, each step starts again from
	// a point on the noising path instead of carrying the error along. With
	// one step it is FlowMap.
	Renoise Method = "renoise"
)

// StepField is a [Field] that also gives the average velocity over a step:
// AverageVelocity writes u(x, t, h) into dst, the mean velocity from t to
// t+h[i] for sample i (rows as in Field.Velocity).
type StepField interface {
	Field
	AverageVelocity(ctx context.Context, x, t, h, dst []float32) error
}

// Methods returns the ODE integrators of a velocity field, cheapest first
// (FlowMap and Renoise, which need a [StepField], are not among them).
func Methods() []Method { return []Method{Euler, Heun, Midpoint, RK4} }

// ParseMethod returns the Method named by s (case-insensitive, surrounding
// spaces ignored), or an error listing the valid names.
func ParseMethod(s string) (Method, error) {
	m := Method(strings.ToLower(strings.TrimSpace(s)))
	if m.valid() {
		return m, nil
	}
	return "", fmt.Errorf("unknown sampling method %q: valid methods are %s", s, methodList())
}

func (m Method) valid() bool {
	switch m {
	case Euler, Heun, Midpoint, RK4, FlowMap, Renoise:
		return true
	}
	return false
}

// needsSteps reports whether m needs a [StepField] (average velocities).
func (m Method) needsSteps() bool { return m == FlowMap || m == Renoise }

func methodList() string {
	names := make([]string, 0, 5)
	for _, m := range Methods() {
		names = append(names, string(m))
	}
	names = append(names, string(FlowMap), string(Renoise))
	return strings.Join(names, ", ")
}

// stages returns the number of velocity evaluations per step, 0 if unknown.
func (m Method) stages() int {
	switch m {
	case Euler, FlowMap, Renoise:
		return 1
	case Heun, Midpoint:
		return 2
	case RK4:
		return 4
	}
	return 0
}

// Evaluations returns the number of model (Field) evaluations per sample that
// [Integrate] makes for the given number of steps: Euler N, Heun 2N (the
// corrector is applied on every step, including the last), Midpoint 2N and
// RK4 4N. It returns 0 for an unknown method or steps <= 0.
func (m Method) Evaluations(steps int) int {
	if steps <= 0 {
		return 0
	}
	return m.stages() * steps
}

// SampleOptions configures [Integrate].
type SampleOptions struct {
	// Method is the integration scheme; empty means Euler.
	Method Method
	// Steps is the number N >= 1 of time steps (equal unless Shift warps
	// them).
	Steps int
	// T0 and T1 bound the integration interval, from T0 to T1. When both are
	// zero the interval defaults to [0, 1] (noise to data). T0 > 0 starts from
	// a partially noised image (image-to-image); T1 < T0 integrates backwards
	// (inversion: data to noise). T0 == T1 otherwise is an error.
	T0, T1 float32
	// Shift, when neither 0 nor 1, warps the time grid: step k ends at
	// T0 + (T1-T0)·w(k/N) with w(τ) = Shift·τ/(1 + (Shift-1)·τ), so that
	// Shift > 1 takes longer steps near T0 and shorter ones near T1 (towards
	// the data when integrating from noise), Shift < 1 the reverse. It must
	// be positive.
	Shift float64
	// Grid, when non-empty, gives the time grid itself, overriding Shift:
	// the Steps-1 interior points as fractions of [T0, T1], increasing and
	// strictly between 0 and 1 (step k ends at T0 + (T1-T0)·Grid[k-1]).
	Grid []float64
	// OnStep, if non-nil, is called after each step with the 1-based number
	// of completed steps, the total, the time t the state has reached and the
	// current state x (batch*dim floats, same layout as the input). x is the
	// caller's buffer being integrated: OnStep must not modify or retain it.
	OnStep func(step, steps int, t float32, x []float32)
	// Noise, for Renoise, writes fresh standard normal noise for step (1 to
	// Steps-1) into dst, which has as many floats as the state. It must be
	// deterministic for deterministic samples (seed it from the step and the
	// samples' own seeds).
	Noise func(step int, dst []float32) error
}

// withDefaults returns o with the documented defaults filled in.
func (o SampleOptions) withDefaults() SampleOptions {
	if o.Method == "" {
		o.Method = Euler
	}
	if o.T0 == 0 && o.T1 == 0 {
		o.T1 = 1
	}
	return o
}

// Validate reports whether the options (after defaults) are usable.
func (o SampleOptions) Validate() error {
	o = o.withDefaults()
	if !o.Method.valid() {
		return fmt.Errorf("unknown sampling method %q: valid methods are %s", o.Method, methodList())
	}
	if o.Steps < 1 {
		return fmt.Errorf("sampling steps must be at least 1, got %d", o.Steps)
	}
	if !finite32(o.T0) || !finite32(o.T1) {
		return fmt.Errorf("integration interval [%g, %g] is not finite", o.T0, o.T1)
	}
	if o.T0 == o.T1 {
		return fmt.Errorf("integration interval is empty: T0 = T1 = %g", o.T0)
	}
	if o.Method.needsSteps() && o.T1 < o.T0 {
		return fmt.Errorf("method %q integrates forwards only (T1 < T0 given)", o.Method)
	}
	if o.Method == Renoise && o.T1 != 1 {
		return fmt.Errorf("method %q samples images: it integrates up to t = 1 (T1 = %g given)", Renoise, o.T1)
	}
	if o.Method == Renoise && o.Steps > 1 && o.Noise == nil {
		return fmt.Errorf("method %q needs a source of fresh noise for its steps (SampleOptions.Noise)", Renoise)
	}
	if math.IsNaN(o.Shift) || o.Shift < 0 || math.IsInf(o.Shift, 0) {
		return fmt.Errorf("time-grid shift must be a positive number (0 for none), got %g", o.Shift)
	}
	if len(o.Grid) > 0 {
		if len(o.Grid) != o.Steps-1 {
			return fmt.Errorf("time grid %v has %d interior points; %d steps need %d", o.Grid, len(o.Grid), o.Steps, o.Steps-1)
		}
		prev := 0.0
		for _, g := range o.Grid {
			if !(g > prev && g < 1) {
				return fmt.Errorf("time grid %v: points must increase strictly between 0 and 1", o.Grid)
			}
			prev = g
		}
	}
	return nil
}

// gridPoint returns the k-th of n grid times from t0 to t1: the interior
// point grid[k-1] when a grid is given, else k/n warped by shift (see
// SampleOptions.Shift and Grid).
func gridPoint(k, n int, t0, t1, shift float64, grid []float64) float64 {
	switch {
	case k == 0:
		return t0
	case k == n:
		return t1
	case len(grid) > 0:
		return t0 + grid[k-1]*(t1-t0)
	}
	tau := float64(k) / float64(n)
	if shift != 0 && shift != 1 {
		tau = shift * tau / (1 + (shift-1)*tau)
	}
	return t0 + tau*(t1-t0)
}

func finite32(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Integrate integrates dx/dt = f(x, t) in place from opts.T0 to opts.T1 in
// opts.Steps equal steps with opts.Method. x holds batch*dim floats, sample i
// being x[i*dim:(i+1)*dim]; every sample shares the same time grid
// t_k = T0 + k*(T1-T0)/N (computed in float64, so it does not drift; see
// SampleOptions.Shift for a warped grid).
//
// Integrate is deterministic for a deterministic field. It allocates its
// scratch buffers (at most three copies of x plus batch times) once per call,
// checks ctx before every field evaluation and returns an error wrapping
// ctx.Err() or the field's error. On error x holds the state of the last
// completed step (or a partially updated state if the error came mid-step).
func Integrate(ctx context.Context, f Field, x []float32, batch int, opts SampleOptions) error {
	if f == nil {
		return errors.New("integrate: nil velocity field")
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("integrate: %w", err)
	}
	opts = opts.withDefaults()
	if batch < 1 {
		return fmt.Errorf("integrate: batch must be at least 1, got %d", batch)
	}
	if len(x) == 0 || len(x)%batch != 0 {
		return fmt.Errorf("integrate: state has %d floats, not a positive multiple of batch %d", len(x), batch)
	}

	in := integrator{ctx: ctx, f: f, x: x, t: make([]float32, batch)}
	if opts.Method.needsSteps() {
		sf, ok := f.(StepField)
		if !ok {
			return fmt.Errorf("integrate: method %q needs a field with average velocities (a model trained with a few-step objective)", opts.Method)
		}
		in.sf = sf
		in.h = make([]float32, batch)
	}
	stages := opts.Method.stages()
	in.k = make([]float32, len(x))
	if stages > 1 {
		in.tmp = make([]float32, len(x))
	}
	if opts.Method == Heun || opts.Method == RK4 {
		in.acc = make([]float32, len(x))
	}

	n := opts.Steps
	t0, t1 := float64(opts.T0), float64(opts.T1)
	for step := 0; step < n; step++ {
		ta := gridPoint(step, n, t0, t1, opts.Shift, opts.Grid)
		tb := gridPoint(step+1, n, t0, t1, opts.Shift, opts.Grid)
		var err error
		switch opts.Method {
		case Euler:
			err = in.euler(ta, tb)
		case FlowMap:
			err = in.flowMap(ta, tb)
		case Renoise:
			err = in.renoise(ta, tb, step+1, n, opts.Noise)
		case Heun:
			err = in.heun(ta, tb)
		case Midpoint:
			err = in.midpoint(ta, tb)
		case RK4:
			err = in.rk4(ta, tb)
		}
		if err != nil {
			return fmt.Errorf("integrate: step %d of %d (t=%.4g): %w", step+1, n, ta, err)
		}
		if opts.OnStep != nil {
			opts.OnStep(step+1, n, float32(tb), x)
		}
	}
	return nil
}

// integrator holds the state and scratch buffers of one Integrate call.
type integrator struct {
	ctx context.Context
	f   Field
	x   []float32 // state, updated in place
	t   []float32 // per-sample times passed to the field
	k   []float32 // velocity output
	tmp []float32 // stage state
	acc []float32 // accumulated slope (Heun, RK4)
	sf  StepField // FlowMap's field
	h   []float32 // FlowMap's per-sample step
}

func (in *integrator) flowMap(ta, tb float64) error {
	if err := in.ctx.Err(); err != nil {
		return err
	}
	for i := range in.t {
		in.t[i] = float32(ta)
		in.h[i] = float32(tb - ta)
	}
	if err := in.sf.AverageVelocity(in.ctx, in.x, in.t, in.h, in.k); err != nil {
		return err
	}
	axpy(in.x, in.x, float32(tb-ta), in.k)
	return nil
}

// renoise is step number step (1-based) of n of the Renoise method, from ta
// to tb: jump to the image, then noise it back to tb unless tb is the end.
func (in *integrator) renoise(ta, tb float64, step, n int, noise func(int, []float32) error) error {
	if err := in.flowMap(ta, 1); err != nil {
		return err
	}
	if step == n {
		return nil
	}
	z := in.k // the velocity is used up: reuse its buffer for the noise
	if err := noise(step, z); err != nil {
		return fmt.Errorf("fresh noise: %w", err)
	}
	a, b := float32(1-tb), float32(tb)
	for i := range in.x {
		in.x[i] = a*z[i] + b*in.x[i]
	}
	return nil
}

// eval writes f(state, t) into in.k after checking the context.
func (in *integrator) eval(state []float32, t float64) error {
	if err := in.ctx.Err(); err != nil {
		return err
	}
	tt := float32(t)
	for i := range in.t {
		in.t[i] = tt
	}
	return in.f.Velocity(in.ctx, state, in.t, in.k)
}

// axpy sets dst = x + a*y.
func axpy(dst, x []float32, a float32, y []float32) {
	y = y[:len(dst)]
	x = x[:len(dst)]
	for i := range dst {
		dst[i] = x[i] + a*y[i]
	}
}

func (in *integrator) euler(ta, tb float64) error {
	if err := in.eval(in.x, ta); err != nil {
		return err
	}
	axpy(in.x, in.x, float32(tb-ta), in.k)
	return nil
}

func (in *integrator) heun(ta, tb float64) error {
	h := float32(tb - ta)
	if err := in.eval(in.x, ta); err != nil {
		return err
	}
	copy(in.acc, in.k)
	axpy(in.tmp, in.x, h, in.k) // Euler predictor
	if err := in.eval(in.tmp, tb); err != nil {
		return err
	}
	half := h / 2
	for i := range in.x {
		in.x[i] += half * (in.acc[i] + in.k[i])
	}
	return nil
}

func (in *integrator) midpoint(ta, tb float64) error {
	h := float32(tb - ta)
	if err := in.eval(in.x, ta); err != nil {
		return err
	}
	axpy(in.tmp, in.x, h/2, in.k)
	if err := in.eval(in.tmp, (ta+tb)/2); err != nil {
		return err
	}
	axpy(in.x, in.x, h, in.k)
	return nil
}

func (in *integrator) rk4(ta, tb float64) error {
	h := float32(tb - ta)
	tm := (ta + tb) / 2
	// k1
	if err := in.eval(in.x, ta); err != nil {
		return err
	}
	copy(in.acc, in.k)
	axpy(in.tmp, in.x, h/2, in.k)
	// k2
	if err := in.eval(in.tmp, tm); err != nil {
		return err
	}
	for i := range in.acc {
		in.acc[i] += 2 * in.k[i]
	}
	axpy(in.tmp, in.x, h/2, in.k)
	// k3
	if err := in.eval(in.tmp, tm); err != nil {
		return err
	}
	for i := range in.acc {
		in.acc[i] += 2 * in.k[i]
	}
	axpy(in.tmp, in.x, h, in.k)
	// k4
	if err := in.eval(in.tmp, tb); err != nil {
		return err
	}
	sixth := h / 6
	for i := range in.x {
		in.x[i] += sixth * (in.acc[i] + in.k[i])
	}
	return nil
}
