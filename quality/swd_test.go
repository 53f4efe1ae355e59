package quality

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestMirror(t *testing.T) {
	for _, tc := range []struct{ i, n, want int }{
		{0, 5, 0}, {4, 5, 4}, {-1, 5, 1}, {-2, 5, 2}, {5, 5, 3}, {6, 5, 2},
		{-1, 2, 1}, {2, 2, 0}, {3, 1, 0},
	} {
		if got := mirror(tc.i, tc.n); got != tc.want {
			t.Errorf("mirror(%d, %d) = %d, want %d", tc.i, tc.n, got, tc.want)
		}
	}
}

func TestPyramidSizes(t *testing.T) {
	for _, tc := range []struct {
		h, w, min int
		want      [][2]int
		err       string
	}{
		{16, 16, 16, [][2]int{{16, 16}}, ""},
		{32, 32, 16, [][2]int{{32, 32}, {16, 16}}, ""},
		{64, 64, 16, [][2]int{{64, 64}, {32, 32}, {16, 16}}, ""},
		{48, 48, 16, [][2]int{{48, 48}, {24, 24}}, ""},
		{32, 64, 16, [][2]int{{32, 64}, {16, 32}}, ""},
		{34, 34, 16, [][2]int{{34, 34}, {17, 17}}, ""},
		{8, 8, 16, nil, "below the smallest pyramid level"},
	} {
		got, err := pyramidSizes(tc.h, tc.w, tc.min)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("pyramidSizes(%d, %d): error %v, want one containing %q", tc.h, tc.w, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("pyramidSizes(%d, %d) = %v, %v; want %v", tc.h, tc.w, got, err, tc.want)
		}
	}
}

func TestBlurImpulse(t *testing.T) {
	p := plane{h: 8, w: 8, pix: make([]float64, 8*8*3)}
	p.pix[(4*8+4)*3+1] = 1 // green impulse at (4, 4)
	b := blur(p, 1)
	for _, tc := range []struct {
		y, x, c int
		want    float64
	}{
		{4, 4, 1, 36.0 / 256}, {4, 5, 1, 24.0 / 256}, {3, 5, 1, 16.0 / 256},
		{2, 2, 1, 1.0 / 256}, {4, 6, 1, 6.0 / 256}, {1, 4, 1, 0}, {4, 4, 0, 0},
	} {
		if got := b.pix[(tc.y*8+tc.x)*3+tc.c]; math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("blur(impulse)[%d,%d,%d] = %g, want %g", tc.y, tc.x, tc.c, got, tc.want)
		}
	}
	// Mass is kept away from the edges.
	var sum float64
	for _, v := range b.pix {
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("blurred impulse sums to %g, want 1", sum)
	}
}

func TestLaplacianOfConstantImage(t *testing.T) {
	img := plane{h: 32, w: 32, pix: make([]float64, 32*32*3)}
	for i := range img.pix {
		img.pix[i] = []float64{0.5, -0.25, 1}[i%3]
	}
	levels := laplacian(img, 2)
	if len(levels) != 2 || levels[0].h != 32 || levels[1].h != 16 {
		t.Fatalf("levels: got %d, sizes %d and %d", len(levels), levels[0].h, levels[len(levels)-1].h)
	}
	for i, v := range levels[0].pix {
		if math.Abs(v) > 1e-12 {
			t.Fatalf("Laplacian level of a constant image: value %d is %g, want 0", i, v)
		}
	}
	for i, v := range levels[1].pix {
		if want := []float64{0.5, -0.25, 1}[i%3]; math.Abs(v-want) > 1e-12 {
			t.Fatalf("coarsest level value %d is %g, want %g", i, v, want)
		}
	}
}

func TestWasserstein1D(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"same", []float64{3, 1, 2}, []float64{1, 2, 3}, 0},
		{"equal sizes", []float64{0, 1, 3}, []float64{6, 2, 1}, 5.0 / 3},
		{"shift", []float64{0, 1}, []float64{10, 11}, 10},
		{"unequal sizes", []float64{0, 1}, []float64{0, 1, 2}, 0.5},
		{"one against many", []float64{1}, []float64{0, 2, 4, 6}, 2.5},
		{"repeated values", []float64{0, 0, 1}, []float64{0, 1}, 1.0 / 6},
	} {
		got, err := Wasserstein1D(tc.x, tc.y)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: Wasserstein1D(%v, %v) = %g, %v; want %g", tc.name, tc.x, tc.y, got, err, tc.want)
		}
		// Symmetric.
		if back, _ := Wasserstein1D(tc.y, tc.x); math.Abs(back-got) > 1e-12 {
			t.Errorf("%s: not symmetric: %g and %g", tc.name, got, back)
		}
	}
	if _, err := Wasserstein1D(nil, []float64{1}); err == nil {
		t.Error("Wasserstein1D with an empty side: no error")
	}
}

// blobs returns n h x w images of a few soft discs of random colours on a
// white background, a stand-in for emoji.
func blobs(seed uint64, n, h, w int) Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := Set{Height: h, Width: w}
	for range n {
		im := make([]float32, h*w*3)
		for i := range im {
			im[i] = 1
		}
		for range 1 + rng.IntN(3) {
			cy, cx := rng.Float64()*float64(h), rng.Float64()*float64(w)
			r := (0.15 + 0.25*rng.Float64()) * float64(h)
			col := [3]float64{rng.Float64()*2 - 1, rng.Float64()*2 - 1, rng.Float64()*2 - 1}
			for y := range h {
				for x := range w {
					d := math.Hypot(float64(y)-cy, float64(x)-cx)
					a := math.Max(0, math.Min(1, r-d)) // anti-aliased edge
					for c := range 3 {
						p := &im[(y*w+x)*3+c]
						*p = float32((1-a)*float64(*p) + a*col[c])
					}
				}
			}
		}
		s.Images = append(s.Images, im)
	}
	return s
}

// boxBlur returns s with every image blurred by a 5x5 box filter (clamped
// edges).
func boxBlur(s Set) Set {
	out := Set{Height: s.Height, Width: s.Width}
	for _, im := range s.Images {
		b := make([]float32, len(im))
		for y := range s.Height {
			for x := range s.Width {
				for c := range 3 {
					var sum float32
					for dy := -2; dy <= 2; dy++ {
						for dx := -2; dx <= 2; dx++ {
							yy := min(max(y+dy, 0), s.Height-1)
							xx := min(max(x+dx, 0), s.Width-1)
							sum += im[(yy*s.Width+xx)*3+c]
						}
					}
					b[(y*s.Width+x)*3+c] = sum / 25
				}
			}
		}
		out.Images = append(out.Images, b)
	}
	return out
}

// noise returns n uniform noise images.
func noise(seed uint64, n, h, w int) Set {
	rng := rand.New(rand.NewPCG(seed, 2))
	s := Set{Height: h, Width: w}
	for range n {
		im := make([]float32, h*w*3)
		for i := range im {
			im[i] = float32(rng.Float64()*2 - 1)
		}
		s.Images = append(s.Images, im)
	}
	return s
}

// fastOpts keeps the unit tests fast: fewer patches and directions.
var fastOpts = SWDOptions{PatchesPerImage: 64, Projections: 64, Seed: 7}

func TestSWDSanity(t *testing.T) {
	ctx := context.Background()
	all := blobs(1, 192, 32, 32)
	a := Set{Height: 32, Width: 32, Images: all.Images[:96]}
	b := Set{Height: 32, Width: 32, Images: all.Images[96:]}

	self, err := SWD(ctx, a, a, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	if self.Average != 0 || len(self.Levels) != 2 {
		t.Fatalf("SWD(a, a) = %+v, want 2 levels of exactly 0", self)
	}
	split, err := SWD(ctx, a, b, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	blurred, err := SWD(ctx, boxBlur(a), b, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := SWD(ctx, noise(3, 96, 32, 32), b, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split %+v\nblurred %+v\nnoise %+v", split, blurred, noisy)
	if split.Average <= 0 {
		t.Errorf("SWD of two halves = %g, want > 0", split.Average)
	}
	if noisy.Average < 3*split.Average {
		t.Errorf("SWD(noise, b) = %.1f, want at least 3x the split's %.1f", noisy.Average, split.Average)
	}
	if blurred.Average < 1.5*split.Average {
		t.Errorf("SWD(blurred, b) = %.1f, want at least 1.5x the split's %.1f", blurred.Average, split.Average)
	}
	// Blur removes the fine detail the finest (Laplacian) level measures.
	if blurred.Levels[0].SWD < 3*split.Levels[0].SWD {
		t.Errorf("finest level: blurred %.1f vs split %.1f, want at least 3x", blurred.Levels[0].SWD, split.Levels[0].SWD)
	}
}

func TestSWDDeterministic(t *testing.T) {
	ctx := context.Background()
	a, b := blobs(1, 12, 32, 32), blobs(2, 9, 32, 32)
	var results []SWDResult
	for _, workers := range []int{1, 3} {
		o := fastOpts
		o.Workers = workers
		r, err := SWD(ctx, a, b, o)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	if !slices.Equal(results[0].Levels, results[1].Levels) || results[0].Average != results[1].Average {
		t.Errorf("results depend on the worker count: %+v vs %+v", results[0], results[1])
	}
	o := fastOpts
	o.Seed++
	other, err := SWD(ctx, a, b, o)
	if err != nil {
		t.Fatal(err)
	}
	if other.Average == results[0].Average {
		t.Errorf("a different seed gave the same SWD %g", other.Average)
	}
	// Symmetric in its arguments.
	back, err := SWD(ctx, b, a, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(back.Average-results[0].Average) > 1e-9*results[0].Average {
		t.Errorf("SWD(b, a) = %g, SWD(a, b) = %g", back.Average, results[0].Average)
	}
}

func TestSWDErrors(t *testing.T) {
	ctx := context.Background()
	good := blobs(1, 2, 16, 16)
	for _, tc := range []struct {
		name string
		a, b Set
		opts SWDOptions
		want string
	}{
		{"no images", Set{Height: 16, Width: 16}, good, fastOpts, "no images"},
		{"short image", Set{Height: 16, Width: 16, Images: [][]float32{make([]float32, 10)}}, good, fastOpts, "image 0 has 10 values, want 768"},
		{"NaN", Set{Height: 16, Width: 16, Images: [][]float32{append(make([]float32, 767), float32(math.NaN()))}}, good, fastOpts, "non-finite"},
		{"too small", blobs(1, 2, 8, 8), blobs(1, 2, 8, 8), fastOpts, "below the smallest pyramid level 16x16"},
		{"sizes differ", blobs(1, 2, 32, 32), good, fastOpts, "image sizes differ"},
		{"patch over level", good, good, SWDOptions{PatchSize: 17}, "at least the patch size 17"},
		{"negative projections", good, good, SWDOptions{Projections: -1}, "projection count -1"},
	} {
		_, err := SWD(ctx, tc.a, tc.b, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := SWD(cancelled, good, good, fastOpts); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled context: error %v", err)
	}
}

func TestDistanceNeedsMatchingDescriptors(t *testing.T) {
	ctx := context.Background()
	s := blobs(1, 2, 16, 16)
	a, err := Describe(ctx, s, SWDOptions{PatchesPerImage: 4, Projections: 8, Seed: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	sameButWorkers, err := Describe(ctx, s, SWDOptions{PatchesPerImage: 4, Projections: 8, Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Distance(ctx, a, sameButWorkers); err != nil || r.Average != 0 {
		t.Errorf("the worker count must not matter: %+v, %v", r, err)
	}
	if got := a.Levels(); len(got) != 1 || got[0] != [2]int{16, 16} || a.Images() != 2 {
		t.Errorf("Levels() = %v, Images() = %d; want [[16 16]] and 2", got, a.Images())
	}
	otherSeed, err := Describe(ctx, s, SWDOptions{PatchesPerImage: 4, Projections: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Distance(ctx, a, otherSeed); err == nil || !strings.Contains(err.Error(), "different options") {
		t.Errorf("different seeds: error %v", err)
	}
	if _, err := Distance(ctx, a, nil); err == nil || !strings.Contains(err.Error(), "nil descriptors") {
		t.Errorf("nil descriptors: error %v", err)
	}
}
