package flow

import (
	"context"
	"fmt"
	"math"
	"slices"
)

// GridFitOptions configures [FitGrid].
type GridFitOptions struct {
	// Method and Steps are the sampler whose grid is fitted; Steps >= 2
	// (one step has no interior point). Method defaults to Euler.
	Method Method
	Steps  int
	// Start is the grid the search starts from (Steps-1 interior points,
	// as SampleOptions.Grid); empty means the grid that Shift gives (the
	// uniform one for Shift 0).
	Start []float64
	Shift float64
	// MaxIntegrations bounds the number of batch integrations the search
	// makes (each costs Method.Evaluations(Steps) field evaluations per
	// sample); 0 means 12 per interior point.
	MaxIntegrations int
	// MinMove is the smallest move of a grid point the search tries, as a
	// fraction of [0, 1]; 0 means 1/256.
	MinMove float64
}

// GridFit is the result of [FitGrid].
type GridFit struct {
	// Grid is the fitted grid: Steps-1 interior points, increasing strictly
	// between 0 and 1, usable as SampleOptions.Grid.
	Grid []float64
	// StartLoss and Loss are the mean squared distance to the target per
	// float, with the starting grid and with Grid (Loss <= StartLoss).
	StartLoss, Loss float64
	// Integrations is the number of batch integrations made.
	Integrations int
}

// FitGrid fits the time grid of a few-step sampler to a reference, as
// learned-grid solvers do: starting from noise (batch samples of dim floats,
// row i noise[i*dim:(i+1)*dim]) it searches for the Steps-1 interior grid
// points whose samples come closest, in mean squared distance, to target
// (the same layout: typically what a many-step sampler makes from the same
// noise). The search is a compass search: each point in turn moves by ±s
// within its neighbours, a move is kept when the loss drops, and s halves
// when no point moves, until s falls below MinMove or the integration
// budget is spent. It integrates from noise (t from 0 to 1) and leaves
// noise and target unchanged.
func FitGrid(ctx context.Context, f Field, noise []float32, batch int, target []float32, opts GridFitOptions) (GridFit, error) {
	grid, err := opts.start()
	if err != nil {
		return GridFit{}, fmt.Errorf("fit grid: %w", err)
	}
	if len(target) != len(noise) {
		return GridFit{}, fmt.Errorf("fit grid: target has %d floats, noise %d", len(target), len(noise))
	}
	budget := opts.MaxIntegrations
	if budget == 0 {
		budget = 12 * len(grid)
	}
	minMove := opts.MinMove
	if minMove == 0 {
		minMove = 1.0 / 256
	}
	if budget < 1 || !(minMove > 0 && minMove < 1) {
		return GridFit{}, fmt.Errorf("fit grid: MaxIntegrations %d and MinMove %g: want at least 1 and in (0, 1)", opts.MaxIntegrations, opts.MinMove)
	}

	fit := GridFit{Grid: grid}
	x := make([]float32, len(noise))
	loss := func(g []float64) (float64, error) {
		copy(x, noise)
		fit.Integrations++
		err := Integrate(ctx, f, x, batch, SampleOptions{Method: opts.Method, Steps: opts.Steps, Grid: g})
		if err != nil {
			return 0, err
		}
		return meanSquaredDistance(x, target), nil
	}
	if fit.StartLoss, err = loss(grid); err != nil {
		return GridFit{}, fmt.Errorf("fit grid: %w", err)
	}
	fit.Loss = fit.StartLoss

	move := 0.5 / float64(opts.Steps)
	trial := slices.Clone(grid)
	for move >= minMove && fit.Integrations < budget {
		moved := false
		for k := range grid {
			lo, hi := 0.0, 1.0
			if k > 0 {
				lo = grid[k-1]
			}
			if k < len(grid)-1 {
				hi = grid[k+1]
			}
			for _, cand := range []float64{grid[k] + move, grid[k] - move} {
				// Keep a point at least minMove/2 from its neighbours, so
				// the grid stays strictly increasing.
				if cand <= lo+minMove/2 || cand >= hi-minMove/2 || fit.Integrations >= budget {
					continue
				}
				copy(trial, grid)
				trial[k] = cand
				l, err := loss(trial)
				if err != nil {
					return GridFit{}, fmt.Errorf("fit grid: %w", err)
				}
				if l < fit.Loss {
					fit.Loss, grid[k], moved = l, cand, true
					break
				}
			}
		}
		if !moved {
			move /= 2
		}
	}
	return fit, nil
}

// start validates o and returns the starting grid.
func (o GridFitOptions) start() ([]float64, error) {
	if o.Method == "" {
		o.Method = Euler
	}
	if o.Steps < 2 {
		return nil, fmt.Errorf("a grid needs at least 2 steps, got %d", o.Steps)
	}
	opts := SampleOptions{Method: o.Method, Steps: o.Steps, Shift: o.Shift, Grid: o.Start}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	grid := make([]float64, o.Steps-1)
	for k := range grid {
		grid[k] = gridPoint(k+1, o.Steps, 0, 1, o.Shift, o.Start)
	}
	return grid, nil
}

// meanSquaredDistance is the mean of (a[i]-b[i])² over equal-length slices.
func meanSquaredDistance(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s / math.Max(1, float64(len(a)))
}
