package quality

import "fmt"

// plane is an RGB image in float64: pix is [h, w, 3] HWC.
type plane struct {
	h, w int
	pix  []float64
}

// gauss5 returns the 5-tap binomial filter of the Laplacian pyramid (Burt
// and Adelson), applied separably along rows and columns.
func gauss5() [5]float64 { return [5]float64{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16} }

// mirror maps an index outside [0, n) back inside by reflection about the
// edge samples, without repeating them: -1 -> 1, n -> n-2 ("mirror" in
// scipy.ndimage terms). n must be at least 2, or 1 (then everything maps to 0).
func mirror(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}

// blur convolves p with gauss5 along both axes (mirrored edges), scaling
// the result by gain (1 for a plain blur, 4 after zero insertion).
func blur(p plane, gain float64) plane {
	g5 := gauss5()
	tmp := make([]float64, len(p.pix))
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			var acc [3]float64
			for k, g := range g5 {
				src := p.pix[(y*p.w+mirror(x+k-2, p.w))*3:][:3]
				acc[0] += g * src[0]
				acc[1] += g * src[1]
				acc[2] += g * src[2]
			}
			copy(tmp[(y*p.w+x)*3:][:3], acc[:])
		}
	}
	out := plane{h: p.h, w: p.w, pix: make([]float64, len(p.pix))}
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			var acc [3]float64
			for k, g := range g5 {
				src := tmp[(mirror(y+k-2, p.h)*p.w+x)*3:][:3]
				acc[0] += g * src[0]
				acc[1] += g * src[1]
				acc[2] += g * src[2]
			}
			dst := out.pix[(y*p.w+x)*3:][:3]
			dst[0], dst[1], dst[2] = gain*acc[0], gain*acc[1], gain*acc[2]
		}
	}
	return out
}

// down blurs p and keeps every other row and column (p.h and p.w even).
func down(p plane) plane {
	b := blur(p, 1)
	out := plane{h: p.h / 2, w: p.w / 2, pix: make([]float64, p.h/2*p.w/2*3)}
	for y := 0; y < out.h; y++ {
		for x := 0; x < out.w; x++ {
			copy(out.pix[(y*out.w+x)*3:][:3], b.pix[(2*y*p.w+2*x)*3:][:3])
		}
	}
	return out
}

// up doubles p's size by inserting zeros between samples and blurring with
// gain 4, the inverse operation of down for smooth images.
func up(p plane) plane {
	z := plane{h: 2 * p.h, w: 2 * p.w, pix: make([]float64, 4*len(p.pix))}
	for y := 0; y < p.h; y++ {
		for x := 0; x < p.w; x++ {
			copy(z.pix[(2*y*z.w+2*x)*3:][:3], p.pix[(y*p.w+x)*3:][:3])
		}
	}
	return blur(z, 4)
}

// pyramidSizes returns the side lengths of the pyramid levels of an h x w
// image, finest first: the image is halved while both sides are even and
// the halves are at least minSize. It fails if the image is smaller than
// minSize.
func pyramidSizes(h, w, minSize int) ([][2]int, error) {
	if h < minSize || w < minSize {
		return nil, fmt.Errorf("image size %dx%d is below the smallest pyramid level %dx%d", w, h, minSize, minSize)
	}
	sizes := [][2]int{{h, w}}
	for h%2 == 0 && w%2 == 0 && h/2 >= minSize && w/2 >= minSize {
		h, w = h/2, w/2
		sizes = append(sizes, [2]int{h, w})
	}
	return sizes, nil
}

// laplacian returns the Laplacian pyramid of img, finest level first: each
// level but the last is the level's Gaussian image minus the up-sampled next
// one; the last is the coarsest Gaussian image itself. levels is the number
// of levels (from pyramidSizes).
func laplacian(img plane, levels int) []plane {
	out := make([]plane, 0, levels)
	cur := img
	for l := 0; l < levels-1; l++ {
		next := down(cur)
		u := up(next)
		diff := plane{h: cur.h, w: cur.w, pix: make([]float64, len(cur.pix))}
		for i := range diff.pix {
			diff.pix[i] = cur.pix[i] - u.pix[i]
		}
		out = append(out, diff)
		cur = next
	}
	return append(out, cur)
}
