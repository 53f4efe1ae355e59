package quality

import (
	"context"
	"math"
	"slices"
	"testing"
)

// This file checks SWD against a direct, deliberately naive transcription of
// the formula: 2-D (not separable) 5x5 filtering, pyramid levels built pixel
// by pixel, statistics in separate loops, and the 1-D distance as an integral
// over a fine grid of quantile levels. Only the random draws (neighbourhood
// positions and directions) are shared with the implementation.

// directAt returns channel c of pixel (y, x) of an h x w HWC image with
// mirrored edges.
func directAt(pix []float64, h, w, y, x, c int) float64 {
	return pix[(mirror(y, h)*w+mirror(x, w))*3+c]
}

// directBlur filters with the 5x5 kernel g(i)*g(j)*gain.
func directBlur(pix []float64, h, w int, gain float64) []float64 {
	g := gauss5()
	out := make([]float64, len(pix))
	for y := range h {
		for x := range w {
			for c := range 3 {
				var s float64
				for i := -2; i <= 2; i++ {
					for j := -2; j <= 2; j++ {
						s += g[i+2] * g[j+2] * gain * directAt(pix, h, w, y+i, x+j, c)
					}
				}
				out[(y*w+x)*3+c] = s
			}
		}
	}
	return out
}

// directPyramid returns the Laplacian pyramid of an h x w image with the
// given number of levels.
func directPyramid(pix []float64, h, w, levels int) [][]float64 {
	var out [][]float64
	for range levels - 1 {
		b := directBlur(pix, h, w, 1)
		small := make([]float64, h/2*w/2*3)
		for y := range h / 2 {
			for x := range w / 2 {
				for c := range 3 {
					small[(y*(w/2)+x)*3+c] = b[(2*y*w+2*x)*3+c]
				}
			}
		}
		zeros := make([]float64, len(pix))
		for y := range h / 2 {
			for x := range w / 2 {
				for c := range 3 {
					zeros[(2*y*w+2*x)*3+c] = small[(y*(w/2)+x)*3+c]
				}
			}
		}
		upped := directBlur(zeros, h, w, 4)
		lap := make([]float64, len(pix))
		for i := range lap {
			lap[i] = pix[i] - upped[i]
		}
		out = append(out, lap)
		pix, h, w = small, h/2, w/2
	}
	return append(out, pix)
}

// directW1 integrates |X(u) - Y(u)| over u on a grid of steps points, exact
// when steps is a multiple of len(x) and len(y).
func directW1(x, y []float64, steps int) float64 {
	xs, ys := slices.Clone(x), slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	var s float64
	for k := range steps {
		u := (float64(k) + 0.5) / float64(steps)
		s += math.Abs(xs[int(u*float64(len(xs)))] - ys[int(u*float64(len(ys)))])
	}
	return s / float64(steps)
}

// directSWD computes the SWD of a and b by the formula.
func directSWD(a, b Set, opts SWDOptions) []float64 {
	opts = opts.WithDefaults()
	p := opts.PatchSize
	levels := 1
	for h := a.Height; h%2 == 0 && h/2 >= opts.MinSize; h /= 2 {
		levels++
	}
	descriptors := func(s Set, level int) [][]float64 {
		var out [][]float64
		for i, im := range s.Images {
			pix := make([]float64, len(im))
			for j, v := range im {
				pix[j] = float64(v)
			}
			lv := directPyramid(pix, s.Height, s.Width, levels)[level]
			h, w := s.Height>>level, s.Width>>level
			rng := patchRNG(opts.Seed, level, i)
			for range opts.PatchesPerImage {
				y0 := rng.IntN(h - p + 1)
				x0 := rng.IntN(w - p + 1)
				var d []float64
				for y := range p {
					for x := range p {
						for c := range 3 {
							d = append(d, lv[((y0+y)*w+x0+x)*3+c])
						}
					}
				}
				out = append(out, d)
			}
		}
		// Per-channel mean and standard deviation over the set.
		for c := range 3 {
			var vals []float64
			for _, d := range out {
				for j := c; j < len(d); j += 3 {
					vals = append(vals, d[j])
				}
			}
			var mean float64
			for _, v := range vals {
				mean += v
			}
			mean /= float64(len(vals))
			var variance float64
			for _, v := range vals {
				variance += (v - mean) * (v - mean)
			}
			std := math.Sqrt(variance / float64(len(vals)))
			for _, d := range out {
				for j := c; j < len(d); j += 3 {
					d[j] = (d[j] - mean) / std
				}
			}
		}
		return out
	}
	var swd []float64
	for l := range levels {
		da, db := descriptors(a, l), descriptors(b, l)
		dim := p * p * 3
		dirs := directions(directionRNG(opts.Seed, l), dim, opts.Projections)
		var sum float64
		for k := range opts.Projections {
			dir := dirs[k*dim : (k+1)*dim]
			proj := func(ds [][]float64) []float64 {
				var out []float64
				for _, d := range ds {
					var s float64
					for j := range d {
						s += d[j] * dir[j]
					}
					out = append(out, s)
				}
				return out
			}
			sum += directW1(proj(da), proj(db), len(da)*len(db))
		}
		swd = append(swd, 1e3*sum/float64(opts.Projections))
	}
	return swd
}

// handMade returns n h x w images with simple hand-written patterns:
// gradients, a checkerboard and stripes that differ by k.
func handMade(n, h, w, k int) Set {
	s := Set{Height: h, Width: w}
	for i := range n {
		im := make([]float32, h*w*3)
		for y := range h {
			for x := range w {
				im[(y*w+x)*3+0] = float32(x-y+i+k) / float32(h)
				im[(y*w+x)*3+1] = float32(((x/(2+i))+(y/2))%2*2 - 1)
				im[(y*w+x)*3+2] = float32((x*(k+1)+y*(i+1))%5)/4*2 - 1
			}
		}
		s.Images = append(s.Images, im)
	}
	return s
}

func TestSWDMatchesDirectFormula(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Set
		opts SWDOptions
	}{
		{"16x16 one level, 2 vs 3 images", handMade(2, 16, 16, 0), handMade(3, 16, 16, 1),
			SWDOptions{PatchSize: 3, PatchesPerImage: 2, Projections: 5, Seed: 1}},
		{"32x32 two levels, 2 vs 2 images", handMade(2, 32, 32, 0), handMade(2, 32, 32, 2),
			SWDOptions{PatchesPerImage: 3, Projections: 4, Seed: 2}},
		{"32x32 blobs, 3 vs 2 images", blobs(4, 3, 32, 32), blobs(5, 2, 32, 32),
			SWDOptions{PatchesPerImage: 4, Projections: 6, Seed: 3}},
	} {
		got, err := SWD(context.Background(), tc.a, tc.b, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := directSWD(tc.a, tc.b, tc.opts)
		if len(got.Levels) != len(want) {
			t.Fatalf("%s: %d levels, want %d", tc.name, len(got.Levels), len(want))
		}
		var avg float64
		for l, w := range want {
			if g := got.Levels[l].SWD; math.Abs(g-w) > 1e-9*math.Max(1, w) {
				t.Errorf("%s: level %d SWD = %.12g, direct formula %.12g", tc.name, l, g, w)
			}
			if w == 0 {
				t.Errorf("%s: level %d: the direct SWD is 0; the case tests nothing", tc.name, l)
			}
			avg += w / float64(len(want))
		}
		if math.Abs(got.Average-avg) > 1e-9*math.Max(1, avg) {
			t.Errorf("%s: average %.12g, want %.12g", tc.name, got.Average, avg)
		}
	}
}
