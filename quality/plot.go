package quality

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one line of a plot.
type Series struct {
	// Name is shown in the legend.
	Name string
	// X and Y are the points, of equal length (at least one), in the order
	// they are joined.
	X, Y []float64
}

// RefLine is a horizontal dashed reference line, such as the SWD of real
// images against real images.
type RefLine struct {
	// Name is shown in the legend.
	Name string
	// Y is the line's height in data units.
	Y float64
}

// Default plot size in pixels.
const (
	DefaultPlotWidth  = 720
	DefaultPlotHeight = 480
)

// PlotOptions configures Plot. Zero sizes take the defaults.
type PlotOptions struct {
	// Title is drawn above the plot.
	Title string
	// XLabel and YLabel name the axes (ASCII; YLabel is drawn horizontally
	// above the y axis).
	XLabel, YLabel string
	// Width and Height are the image size (defaults DefaultPlotWidth x
	// DefaultPlotHeight; at least 240 x 180).
	Width, Height int
	// LogX puts the x axis on a base-2 logarithmic scale (X must then be
	// positive), with ticks at the powers of 2.
	LogX bool
	// Lines are horizontal reference lines drawn dashed.
	Lines []RefLine
}

// SeriesColour returns the colour Plot gives series i.
func SeriesColour(i int) color.RGBA {
	palette := [...]color.RGBA{
		{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
		{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	}
	return palette[i%len(palette)]
}

// Plot draws the series as a line chart with markers, a legend, labelled
// axes and the reference lines, and returns the image (encode it with
// image/png). The y axis starts at 0 unless a value is negative.
func Plot(series []Series, opts PlotOptions) (*image.RGBA, error) {
	if len(series) == 0 {
		return nil, errors.New("plot: no series")
	}
	if opts.Width == 0 {
		opts.Width = DefaultPlotWidth
	}
	if opts.Height == 0 {
		opts.Height = DefaultPlotHeight
	}
	if opts.Width < 240 || opts.Height < 180 {
		return nil, fmt.Errorf("plot: size %dx%d is below the minimum 240x180", opts.Width, opts.Height)
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := 0.0, math.Inf(-1)
	for _, s := range series {
		if len(s.X) == 0 || len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: series %q has %d x and %d y values; want the same positive number", s.Name, len(s.X), len(s.Y))
		}
		for i := range s.X {
			x, y := s.X[i], s.Y[i]
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				return nil, fmt.Errorf("plot: series %q point %d (%g, %g) is not finite", s.Name, i, x, y)
			}
			if opts.LogX && x <= 0 {
				return nil, fmt.Errorf("plot: series %q point %d has x = %g; a logarithmic axis needs x > 0", s.Name, i, x)
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
	}
	for _, l := range opts.Lines {
		if math.IsNaN(l.Y) || math.IsInf(l.Y, 0) {
			return nil, fmt.Errorf("plot: reference line %q at %g is not finite", l.Name, l.Y)
		}
		ymin, ymax = math.Min(ymin, l.Y), math.Max(ymax, l.Y)
	}
	if opts.LogX {
		xmin, xmax = math.Log2(xmin), math.Log2(xmax)
	}
	if xmax-xmin < 1e-12 {
		xmin, xmax = xmin-1, xmax+1
	}
	yticks := niceTicks(ymin, ymax)
	ymin, ymax = math.Min(ymin, yticks[0]), math.Max(ymax, yticks[len(yticks)-1])
	if ymax-ymin < 1e-12 {
		ymax = ymin + 1
	}

	refColour := color.RGBA{0x55, 0x55, 0x55, 0xff}
	gridColour := color.RGBA{0xe4, 0xe4, 0xe4, 0xff}
	inkColour := color.RGBA{0, 0, 0, 0xff}
	img := image.NewRGBA(image.Rect(0, 0, opts.Width, opts.Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	face := basicfont.Face7x13
	left, right, top, bottom := 64, opts.Width-16, 48, opts.Height-52
	// Data to pixel coordinates; the x range gets a small margin.
	xpad := 0.04 * (xmax - xmin)
	px := func(x float64) float64 {
		if opts.LogX {
			x = math.Log2(x)
		}
		return float64(left) + (x-xmin+xpad)/(xmax-xmin+2*xpad)*float64(right-left)
	}
	py := func(y float64) float64 {
		return float64(bottom) - (y-ymin)/(ymax-ymin)*float64(bottom-top)
	}

	// Grid, ticks and tick labels.
	for _, t := range yticks {
		y := py(t)
		line(img, float64(left), y, float64(right), y, gridColour, 1, 0)
		label := strconv.FormatFloat(t, 'g', 4, 64)
		text(img, face, left-6-textWidth(face, label), int(y)+4, label, inkColour)
	}
	for _, t := range xTicks(xmin, xmax, opts.LogX) {
		x := px(t)
		line(img, x, float64(top), x, float64(bottom), gridColour, 1, 0)
		label := strconv.FormatFloat(t, 'g', 4, 64)
		text(img, face, int(x)-textWidth(face, label)/2, bottom+16, label, inkColour)
	}
	line(img, float64(left), float64(top), float64(left), float64(bottom), inkColour, 1, 0)
	line(img, float64(left), float64(bottom), float64(right), float64(bottom), inkColour, 1, 0)
	text(img, face, (left+right-textWidth(face, opts.XLabel))/2, bottom+36, opts.XLabel, inkColour)
	text(img, face, 8, top-10, opts.YLabel, inkColour)
	text(img, face, (opts.Width-textWidth(face, opts.Title))/2, 18, opts.Title, inkColour)

	// Reference lines, then the series on top.
	for _, l := range opts.Lines {
		line(img, float64(left), py(l.Y), float64(right), py(l.Y), refColour, 1.5, 6)
	}
	for i, s := range series {
		c := SeriesColour(i)
		for k := 1; k < len(s.X); k++ {
			line(img, px(s.X[k-1]), py(s.Y[k-1]), px(s.X[k]), py(s.Y[k]), c, 2, 0)
		}
		for k := range s.X {
			square(img, px(s.X[k]), py(s.Y[k]), 3, c)
		}
	}

	// Legend in the top right corner of the plot area.
	type entry struct {
		name   string
		c      color.RGBA
		dashed bool
	}
	var entries []entry
	for i, s := range series {
		entries = append(entries, entry{s.Name, SeriesColour(i), false})
	}
	for _, l := range opts.Lines {
		entries = append(entries, entry{l.Name, refColour, true})
	}
	wmax := 0
	for _, e := range entries {
		wmax = max(wmax, textWidth(face, e.name))
	}
	lw, lh := wmax+44, 18*len(entries)+8
	lx, ly := right-lw-8, top+8
	box := image.Rect(lx, ly, lx+lw, ly+lh)
	draw.Draw(img, box, image.White, image.Point{}, draw.Src)
	rect(img, box, inkColour)
	for i, e := range entries {
		y := float64(ly + 13 + 18*i)
		dash := 0.0
		if e.dashed {
			dash = 6
		}
		line(img, float64(lx+6), y, float64(lx+30), y, e.c, 2, dash)
		if !e.dashed {
			square(img, float64(lx+18), y, 3, e.c)
		}
		text(img, face, lx+36, int(y)+4, e.name, inkColour)
	}
	return img, nil
}

// niceTicks returns 3 to 8 round tick values covering [lo, hi].
func niceTicks(lo, hi float64) []float64 {
	if hi-lo < 1e-12 {
		hi = lo + 1
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for t := math.Floor(lo/step) * step; t <= hi+step*0.999; t += step {
		out = append(out, math.Round(t/step)*step)
	}
	return out
}

// xTicks returns the x tick values: powers of 2 on a log axis (xmin and
// xmax are then log2 values), else round values.
func xTicks(xmin, xmax float64, logX bool) []float64 {
	if !logX {
		return niceTicks(xmin, xmax)
	}
	var out []float64
	for e := math.Ceil(xmin); e <= math.Floor(xmax); e++ {
		out = append(out, math.Pow(2, e))
	}
	return out
}

// line draws a segment of the given thickness; dash > 0 draws dashes of
// that length in pixels with equal gaps.
func line(img *image.RGBA, x0, y0, x1, y1 float64, c color.RGBA, thick, dash float64) {
	length := math.Hypot(x1-x0, y1-y0)
	steps := max(1, int(math.Ceil(length*2)))
	r := thick / 2
	for s := 0; s <= steps; s++ {
		f := float64(s) / float64(steps)
		if dash > 0 && math.Mod(f*length, 2*dash) >= dash {
			continue
		}
		x, y := x0+f*(x1-x0), y0+f*(y1-y0)
		if r <= 0.5 {
			img.SetRGBA(int(math.Round(x)), int(math.Round(y)), c)
			continue
		}
		for yy := int(math.Floor(y - r)); yy <= int(math.Ceil(y+r)); yy++ {
			for xx := int(math.Floor(x - r)); xx <= int(math.Ceil(x+r)); xx++ {
				if math.Hypot(float64(xx)-x, float64(yy)-y) <= r {
					img.SetRGBA(xx, yy, c)
				}
			}
		}
	}
}

// square draws a filled square marker of half-side r centred on (x, y).
func square(img *image.RGBA, x, y float64, r int, c color.RGBA) {
	cx, cy := int(math.Round(x)), int(math.Round(y))
	draw.Draw(img, image.Rect(cx-r, cy-r, cx+r+1, cy+r+1), image.NewUniform(c), image.Point{}, draw.Src)
}

// rect draws the outline of r.
func rect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for x := r.Min.X; x < r.Max.X; x++ {
		img.SetRGBA(x, r.Min.Y, c)
		img.SetRGBA(x, r.Max.Y-1, c)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		img.SetRGBA(r.Min.X, y, c)
		img.SetRGBA(r.Max.X-1, y, c)
	}
}

// text draws s with its baseline starting at (x, y).
func text(img *image.RGBA, face font.Face, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// textWidth is the width of s in pixels.
func textWidth(face font.Face, s string) int {
	return font.MeasureString(face, s).Ceil()
}
