package quality

import (
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"
)

// countColour counts the pixels of img inside r that are exactly c.
func countColour(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

func TestPlot(t *testing.T) {
	series := []Series{
		{Name: "euler", X: []float64{1, 2, 4, 8}, Y: []float64{300, 150, 80, 60}},
		{Name: "heun", X: []float64{2, 4, 8, 16}, Y: []float64{200, 90, 55, 50}},
	}
	img, err := Plot(series, PlotOptions{Title: "SWD", XLabel: "model evaluations", YLabel: "SWD x1e3",
		LogX: true, Lines: []RefLine{{Name: "real vs real", Y: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != DefaultPlotWidth || b.Dy() != DefaultPlotHeight {
		t.Fatalf("size %v, want %dx%d", b, DefaultPlotWidth, DefaultPlotHeight)
	}
	// Both series are drawn: the left half holds Euler's first point (x=1),
	// the right part Heun's last (x=16).
	left := image.Rect(0, 0, DefaultPlotWidth/3, DefaultPlotHeight)
	right := image.Rect(DefaultPlotWidth*2/3, DefaultPlotHeight/2, DefaultPlotWidth, DefaultPlotHeight)
	if countColour(img, left, SeriesColour(0)) < 20 {
		t.Error("Euler's line is missing from the left of the plot")
	}
	if countColour(img, right, SeriesColour(1)) < 20 {
		t.Error("Heun's line is missing from the right of the plot")
	}
	// The title row holds black text.
	if countColour(img, image.Rect(0, 0, DefaultPlotWidth, 24), color.RGBA{0, 0, 0, 0xff}) == 0 {
		t.Error("no title drawn")
	}
}

func TestPlotErrors(t *testing.T) {
	ok := Series{Name: "a", X: []float64{1, 2}, Y: []float64{1, 2}}
	for _, tc := range []struct {
		name   string
		series []Series
		opts   PlotOptions
		want   string
	}{
		{"no series", nil, PlotOptions{}, "no series"},
		{"length mismatch", []Series{{Name: "b", X: []float64{1}, Y: []float64{1, 2}}}, PlotOptions{}, `series "b" has 1 x and 2 y`},
		{"NaN", []Series{{Name: "c", X: []float64{1}, Y: []float64{math.NaN()}}}, PlotOptions{}, "not finite"},
		{"log of zero", []Series{{Name: "d", X: []float64{0, 1}, Y: []float64{1, 1}}}, PlotOptions{LogX: true}, "needs x > 0"},
		{"too small", []Series{ok}, PlotOptions{Width: 100, Height: 100}, "below the minimum"},
		{"bad line", []Series{ok}, PlotOptions{Lines: []RefLine{{Name: "r", Y: math.Inf(1)}}}, "not finite"},
	} {
		_, err := Plot(tc.series, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 10, []float64{0, 2, 4, 6, 8, 10}},
		{0, 347, []float64{0, 100, 200, 300, 400}},
		{0, 0.9, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{5, 5, []float64{5, 5.2, 5.4, 5.6, 5.8, 6}},
	} {
		got := niceTicks(tc.lo, tc.hi)
		if !slices.EqualFunc(got, tc.want, func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }) {
			t.Errorf("niceTicks(%g, %g) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	if got, want := xTicks(0, 5, true), []float64{1, 2, 4, 8, 16, 32}; !slices.Equal(got, want) {
		t.Errorf("log x ticks = %v, want %v", got, want)
	}
}
