package flow

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestFitGridFindsTheBestTwoStepEulerGrid fits the one interior point of
// two Euler steps on v(x, t) = 3t²·c, whose exact endpoint is x0 + c.
// Euler with interior point τ moves x0 by (1-τ)·3τ²·c, which is largest
// (4/9 of c) at τ = 2/3, so the squared distance to the exact endpoint,
// c²(1 - 3τ²(1-τ))², is least there. The compass search stops once its move
// is below MinMove, within two moves of the minimum of this unimodal loss.
func TestFitGridFindsTheBestTwoStepEulerGrid(t *testing.T) {
	const c, dim, batch = 0.8, 3, 2
	f := FieldFunc(func(_ context.Context, x, tt, dst []float32) error {
		for i := range dst {
			ti := float64(tt[i/dim])
			dst[i] = float32(3 * ti * ti * c)
		}
		return nil
	})
	noise := []float32{0.1, -0.2, 0.3, 1, 0, -1}
	target := make([]float32, len(noise))
	for i, v := range noise {
		target[i] = v + c
	}
	noiseCopy, targetCopy := slices.Clone(noise), slices.Clone(target)
	const minMove = 1.0 / 256
	fit, err := FitGrid(context.Background(), f, noise, batch, target, GridFitOptions{Steps: 2, MinMove: minMove, MaxIntegrations: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(fit.Grid) != 1 || math.Abs(fit.Grid[0]-2.0/3) > 2*minMove {
		t.Fatalf("grid %v, want [%.4f] within %.4f", fit.Grid, 2.0/3, 2*minMove)
	}
	lossAt := func(tau float64) float64 { g := 1 - 3*tau*tau*(1-tau); return c * c * g * g }
	// float32 states: the losses agree to about 1e-7 relative.
	if math.Abs(fit.StartLoss-lossAt(0.5)) > 1e-6 || fit.Loss > lossAt(2.0/3)+lossAt(2.0/3)*0.01+1e-6 {
		t.Fatalf("loss %g from %g; want %g at the optimum from %g", fit.Loss, fit.StartLoss, lossAt(2.0/3), lossAt(0.5))
	}
	if fit.Integrations > 100 {
		t.Fatalf("%d integrations, budget 100", fit.Integrations)
	}
	if !slices.Equal(noise, noiseCopy) || !slices.Equal(target, targetCopy) {
		t.Fatal("FitGrid modified its inputs")
	}
}

// TestFitGridImprovesEulerOnAGaussian fits 4 Euler steps of the exact
// Gaussian-to-Gaussian field to its exact endpoint mu + s·x0: the fitted
// grid must be valid, keep within its budget and end closer than the
// uniform grid it started from.
func TestFitGridImprovesEulerOnAGaussian(t *testing.T) {
	const mu, s, batch, dim = 0.5, 0.2, 4, 8
	noise := make([]float32, batch*dim)
	if err := GaussianNoiseBatch(3, 0, dim, noise); err != nil {
		t.Fatal(err)
	}
	target := make([]float32, len(noise))
	for i, v := range noise {
		target[i] = float32(mu + s*float64(v))
	}
	fit, err := FitGrid(context.Background(), gaussianField(mu, s), noise, batch, target, GridFitOptions{Steps: 4, MaxIntegrations: 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := (SampleOptions{Steps: 4, Grid: fit.Grid}).Validate(); err != nil {
		t.Fatalf("fitted grid: %v", err)
	}
	if fit.Integrations > 30 {
		t.Fatalf("%d integrations, budget 30", fit.Integrations)
	}
	// The uniform grid's error is far above round-off, so any real
	// improvement is well above float32 noise: ask for a tenth less.
	if !(fit.Loss < 0.9*fit.StartLoss) {
		t.Fatalf("loss %g, uniform grid %g: no improvement", fit.Loss, fit.StartLoss)
	}
}

func TestFitGridBadOptions(t *testing.T) {
	f := constantField([]float32{1, 1})
	noise, target := make([]float32, 4), make([]float32, 4)
	for _, tc := range []struct {
		name   string
		target []float32
		opts   GridFitOptions
		want   string
	}{
		{"one step", target, GridFitOptions{Steps: 1}, "at least 2 steps"},
		{"start of the wrong length", target, GridFitOptions{Steps: 3, Start: []float64{0.5}}, "interior points"},
		{"start not increasing", target, GridFitOptions{Steps: 3, Start: []float64{0.6, 0.4}}, "increase"},
		{"target of the wrong length", target[:2], GridFitOptions{Steps: 2}, "target has 2 floats"},
		{"negative budget", target, GridFitOptions{Steps: 2, MaxIntegrations: -1}, "MaxIntegrations"},
		{"flowmap on a plain field", target, GridFitOptions{Steps: 2, Method: FlowMap}, "average velocities"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitGrid(context.Background(), f, noise, 2, tc.target, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
