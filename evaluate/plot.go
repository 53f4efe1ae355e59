package evaluate

import (
	"fmt"
	"image"
	"path/filepath"
	"slices"

	"github.com/fm-image/fm-image/quality"
)

// Plot draws the average SWD of res against the model evaluations per
// image, one line per sampler, with the real-vs-real floor dashed.
func Plot(res *Result) (image.Image, error) {
	var series []quality.Series
	var lines []quality.RefLine
	for _, r := range res.Rows {
		if r.Sampler == "real" {
			lines = append(lines, quality.RefLine{Name: "real vs real", Y: r.SWDAverage})
			continue
		}
		i := slices.IndexFunc(series, func(s quality.Series) bool { return s.Name == r.Sampler })
		if i < 0 {
			series = append(series, quality.Series{Name: r.Sampler})
			i = len(series) - 1
		}
		series[i].X = append(series[i].X, float64(r.Evaluations))
		series[i].Y = append(series[i].Y, r.SWDAverage)
	}
	img, err := quality.Plot(series, quality.PlotOptions{
		Title:  fmt.Sprintf("SWD vs sampling cost: %s (%d reference images)", filepath.Base(filepath.Clean(res.Model)), res.RefImages),
		XLabel: "model evaluations per image (log scale)",
		YLabel: "SWD x1e3 (average over pyramid levels, lower is better)",
		LogX:   true,
		Lines:  lines,
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate: plot: %w", err)
	}
	return img, nil
}
