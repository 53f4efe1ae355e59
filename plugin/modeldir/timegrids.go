package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/internal/atomicfile"
)

// TimeGridsFile holds sampling time grids fitted to one checkpoint (see
// TimeGrids).
const TimeGridsFile = "timegrids.json"

// timeGridsFormat and timeGridsVersion identify the TimeGridsFile files
// this package reads.
const (
	timeGridsFormat  = "fm-image-time-grids"
	timeGridsVersion = 1
)

// TimeGrids is the content of TimeGridsFile: the time grids of one sampler,
// fitted to the checkpoint at Step (flow.FitGrid), by step count.
type TimeGrids struct {
	// Step is the training step of the checkpoint the grids were fitted
	// to; they do not apply to any other.
	Step int
	// Method is the sampler the grids are for.
	Method flow.Method
	// Grids maps a step count N >= 2 to its N-1 interior grid points, as
	// flow.SampleOptions.Grid.
	Grids map[int][]float64
	// Reference says what the grids were fitted to, for people (e.g.
	// "flowmap at 32 steps").
	Reference string
}

// For returns the grid of method at steps fitted to the checkpoint at step,
// or nil if there is none.
func (g TimeGrids) For(method flow.Method, steps, step int) []float64 {
	if g.Method != method || g.Step != step {
		return nil
	}
	return g.Grids[steps]
}

// StepCounts returns the step counts that have a grid, in increasing order.
func (g TimeGrids) StepCounts() []int {
	counts := make([]int, 0, len(g.Grids))
	for n := range g.Grids {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	return counts
}

// timeGridsJSON is TimeGrids as stored.
type timeGridsJSON struct {
	Format    string               `json:"format"`
	Version   int                  `json:"version"`
	Step      int                  `json:"step"`
	Method    string               `json:"method"`
	Reference string               `json:"reference,omitempty"`
	Grids     map[string][]float64 `json:"grids"`
}

// WriteTimeGrids writes dir's TimeGridsFile, after checking every grid.
func WriteTimeGrids(dir string, g TimeGrids) error {
	raw := timeGridsJSON{Format: timeGridsFormat, Version: timeGridsVersion, Step: g.Step, Method: string(g.Method),
		Reference: g.Reference, Grids: map[string][]float64{}}
	for n, pts := range g.Grids {
		if err := checkGrid(g.Method, n, pts); err != nil {
			return fmt.Errorf("write %s: %w", TimeGridsFile, err)
		}
		raw.Grids[strconv.Itoa(n)] = pts
	}
	data, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", TimeGridsFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, TimeGridsFile), append(data, '\n'))
}

// ReadTimeGrids reads dir's TimeGridsFile. A model without one has no
// fitted grids: the zero TimeGrids and no error.
func ReadTimeGrids(dir string) (TimeGrids, error) {
	path := filepath.Join(dir, TimeGridsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return TimeGrids{}, nil
	}
	if err != nil {
		return TimeGrids{}, fmt.Errorf("read %s: %w", path, err)
	}
	var raw timeGridsJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return TimeGrids{}, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	if raw.Format != timeGridsFormat || raw.Version != timeGridsVersion {
		return TimeGrids{}, fmt.Errorf("%s has format %q version %d; this fm-image reads %q version %d", path, raw.Format, raw.Version, timeGridsFormat, timeGridsVersion)
	}
	g := TimeGrids{Step: raw.Step, Method: flow.Method(raw.Method), Reference: raw.Reference, Grids: map[int][]float64{}}
	for key, pts := range raw.Grids {
		n, err := strconv.Atoi(key)
		if err == nil {
			err = checkGrid(g.Method, n, pts)
		}
		if err != nil {
			return TimeGrids{}, fmt.Errorf("%s: grid %q: %v", path, key, err)
		}
		g.Grids[n] = pts
	}
	return g, nil
}

// checkGrid reports whether pts is a usable grid of method at n steps.
func checkGrid(method flow.Method, n int, pts []float64) error {
	if n < 2 {
		return fmt.Errorf("a grid of %d steps has no interior points", n)
	}
	return flow.SampleOptions{Method: method, Steps: n, Grid: pts}.Validate()
}
