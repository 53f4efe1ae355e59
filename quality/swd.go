package quality

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Set is a set of equally sized RGB images.
type Set struct {
	// Height and Width are the size of every image in pixels.
	Height, Width int
	// Images holds one [Height, Width, 3] float32 HWC array per image,
	// values in [-1, 1] (other finite values are accepted).
	Images [][]float32
}

// Validate reports whether s is usable: a positive size, at least one
// image, every image of length Height*Width*3 and finite.
func (s Set) Validate() error {
	if s.Height < 1 || s.Width < 1 {
		return fmt.Errorf("image size %dx%d must be positive", s.Width, s.Height)
	}
	if len(s.Images) == 0 {
		return errors.New("no images")
	}
	n := s.Height * s.Width * 3
	for i, im := range s.Images {
		if len(im) != n {
			return fmt.Errorf("image %d has %d values, want %d (%dx%dx3)", i, len(im), n, s.Width, s.Height)
		}
		for _, v := range im {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("image %d has a non-finite value %v", i, v)
			}
		}
	}
	return nil
}

// Defaults of SWDOptions, those of Karras et al. (2018).
const (
	DefaultMinSize         = 16
	DefaultPatchSize       = 7
	DefaultPatchesPerImage = 128
	DefaultProjections     = 512
)

// SWDOptions configures Describe and SWD. Zero fields take the defaults
// named on them (see WithDefaults).
type SWDOptions struct {
	// MinSize is the smallest pyramid level's side: images are halved while
	// the halves are at least MinSize (default DefaultMinSize = 16).
	MinSize int
	// PatchSize is the side of the square neighbourhoods (default
	// DefaultPatchSize = 7); it may not exceed MinSize.
	PatchSize int
	// PatchesPerImage is the number of neighbourhoods drawn from each image
	// at each level (default DefaultPatchesPerImage = 128).
	PatchesPerImage int
	// Projections is the number of random unit directions the descriptors
	// are projected on (default DefaultProjections = 512).
	Projections int
	// Seed decides the neighbourhood positions and the directions. Image i
	// of any set gets the same positions, so a set compared with itself
	// gives exactly 0.
	Seed int64
	// Workers is the number of goroutines (default runtime.GOMAXPROCS(0)).
	// It does not change the results.
	Workers int
}

// WithDefaults returns o with every zero field replaced by its default.
func (o SWDOptions) WithDefaults() SWDOptions {
	if o.MinSize == 0 {
		o.MinSize = DefaultMinSize
	}
	if o.PatchSize == 0 {
		o.PatchSize = DefaultPatchSize
	}
	if o.PatchesPerImage == 0 {
		o.PatchesPerImage = DefaultPatchesPerImage
	}
	if o.Projections == 0 {
		o.Projections = DefaultProjections
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Validate reports whether the options (after defaults) are usable.
func (o SWDOptions) Validate() error {
	o = o.WithDefaults()
	switch {
	case o.PatchSize < 1:
		return fmt.Errorf("SWD patch size %d must be positive", o.PatchSize)
	case o.MinSize < o.PatchSize:
		return fmt.Errorf("SWD smallest level %d must be at least the patch size %d", o.MinSize, o.PatchSize)
	case o.PatchesPerImage < 1:
		return fmt.Errorf("SWD patches per image %d must be positive", o.PatchesPerImage)
	case o.Projections < 1:
		return fmt.Errorf("SWD projection count %d must be positive", o.Projections)
	case o.Workers < 1:
		return fmt.Errorf("SWD worker count %d must be positive", o.Workers)
	}
	return nil
}

// Level is the SWD at one pyramid level.
type Level struct {
	// Height and Width are the level's size in pixels.
	Height, Width int
	// SWD is the sliced Wasserstein distance at this level, times 10^3.
	SWD float64
}

// SWDResult is the SWD between two image sets.
type SWDResult struct {
	// Levels are the per-level distances, finest (the image size) first.
	Levels []Level
	// Average is the mean of Levels[*].SWD (times 10^3).
	Average float64
}

// Descriptors are the normalised neighbourhood descriptors of an image set
// at every pyramid level, ready to be compared with Distance. Computing
// them once saves work when one set is compared with many.
type Descriptors struct {
	opts   SWDOptions
	images int
	levels []descLevel
}

// descLevel holds one pyramid level's descriptors: n rows of dim values,
// each a PatchSize x PatchSize x 3 HWC neighbourhood, normalised per channel.
type descLevel struct {
	h, w int
	n    int
	dim  int
	data []float64
}

// Images returns the number of images described.
func (d *Descriptors) Images() int { return d.images }

// Options returns the options (defaults applied) d was made with; describe
// another set with them to compare it with d.
func (d *Descriptors) Options() SWDOptions { return d.opts }

// Levels returns the [height, width] of each pyramid level, finest first,
// the order of SWDResult.Levels.
func (d *Descriptors) Levels() [][2]int {
	out := make([][2]int, len(d.levels))
	for i, l := range d.levels {
		out[i] = [2]int{l.h, l.w}
	}
	return out
}

// Describe computes the descriptors of s: it builds each image's Laplacian
// pyramid (see package doc), draws PatchesPerImage neighbourhoods per image
// and level at positions chosen by Seed and the image's index, and
// normalises each level's descriptors per channel by their mean and standard
// deviation over the set (a channel without spread is only centred). It
// returns ctx.Err() (wrapped) if ctx is cancelled.
func Describe(ctx context.Context, s Set, opts SWDOptions) (*Descriptors, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("describe images: %w", err)
	}
	sizes, err := pyramidSizes(s.Height, s.Width, opts.MinSize)
	if err != nil {
		return nil, fmt.Errorf("describe images: %w", err)
	}
	p := opts.PatchSize
	dim := p * p * 3
	per := opts.PatchesPerImage
	d := &Descriptors{opts: opts, images: len(s.Images), levels: make([]descLevel, len(sizes))}
	for l, sz := range sizes {
		d.levels[l] = descLevel{h: sz[0], w: sz[1], n: len(s.Images) * per, dim: dim,
			data: make([]float64, len(s.Images)*per*dim)}
	}
	err = parallel(ctx, opts.Workers, len(s.Images), func(i int) {
		img := plane{h: s.Height, w: s.Width, pix: make([]float64, len(s.Images[i]))}
		for j, v := range s.Images[i] {
			img.pix[j] = float64(v)
		}
		for l, lv := range laplacian(img, len(sizes)) {
			dl := d.levels[l]
			rng := patchRNG(opts.Seed, l, i)
			for k := 0; k < per; k++ {
				y0 := rng.IntN(lv.h - p + 1)
				x0 := rng.IntN(lv.w - p + 1)
				dst := dl.data[(i*per+k)*dim:][:dim]
				for y := 0; y < p; y++ {
					copy(dst[y*p*3:][:p*3], lv.pix[((y0+y)*lv.w+x0)*3:][:p*3])
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("describe images: %w", err)
	}
	for l := range d.levels {
		normalise(&d.levels[l])
	}
	return d, nil
}

// patchRNG is the source of image i's neighbourhood positions at level l.
func patchRNG(seed int64, level, image int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9a7c4<<40^uint64(level)<<32^uint64(image)))
}

// directionRNG is the source of the projection directions at level l.
func directionRNG(seed int64, level int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0xd1ec7, uint64(level)))
}

// normalise subtracts each channel's mean and divides by its (population)
// standard deviation, both over all descriptors and positions of the level.
func normalise(dl *descLevel) {
	var sum, sq [3]float64
	for j, v := range dl.data {
		sum[j%3] += v
	}
	count := float64(len(dl.data) / 3)
	var mean, std [3]float64
	for c := range 3 {
		mean[c] = sum[c] / count
	}
	for j, v := range dl.data {
		dv := v - mean[j%3]
		sq[j%3] += dv * dv
	}
	for c := range 3 {
		std[c] = math.Sqrt(sq[c] / count)
		if std[c] == 0 {
			std[c] = 1
		}
	}
	for j := range dl.data {
		dl.data[j] = (dl.data[j] - mean[j%3]) / std[j%3]
	}
}

// directions returns count random unit vectors of length dim, flattened.
func directions(rng *rand.Rand, dim, count int) []float64 {
	out := make([]float64, dim*count)
	for k := 0; k < count; k++ {
		v := out[k*dim:][:dim]
		var norm float64
		for j := range v {
			v[j] = rng.NormFloat64()
			norm += v[j] * v[j]
		}
		norm = math.Sqrt(norm)
		for j := range v {
			v[j] /= norm
		}
	}
	return out
}

// Distance returns the SWD between the sets described by a and b, which
// must come from Describe with the same options and image size (the image
// counts may differ). At each level the descriptors of both sets are
// projected on Projections random unit directions; the 1-D Wasserstein-1
// distances between the projections (Wasserstein1D) are averaged over the
// directions and multiplied by 10^3.
func Distance(ctx context.Context, a, b *Descriptors) (SWDResult, error) {
	if a == nil || b == nil {
		return SWDResult{}, errors.New("SWD: nil descriptors")
	}
	oa, ob := a.opts, b.opts
	oa.Workers, ob.Workers = 0, 0
	if oa != ob {
		return SWDResult{}, fmt.Errorf("SWD: descriptors made with different options (%+v and %+v)", oa, ob)
	}
	if len(a.levels) != len(b.levels) || a.levels[0].h != b.levels[0].h || a.levels[0].w != b.levels[0].w {
		return SWDResult{}, fmt.Errorf("SWD: image sizes differ (%dx%d and %dx%d)",
			a.levels[0].w, a.levels[0].h, b.levels[0].w, b.levels[0].h)
	}
	opts := a.opts
	res := SWDResult{Levels: make([]Level, len(a.levels))}
	for l := range a.levels {
		la, lb := a.levels[l], b.levels[l]
		dirs := directions(directionRNG(opts.Seed, l), la.dim, opts.Projections)
		dists := make([]float64, opts.Projections)
		blocks := (opts.Projections + projBlock - 1) / projBlock
		err := parallel(ctx, opts.Workers, blocks, func(blk int) {
			k0 := blk * projBlock
			k1 := min(k0+projBlock, opts.Projections)
			dt := transposeBlock(dirs, la.dim, k0, k1)
			pa := projectBlock(la, dt)
			pb := projectBlock(lb, dt)
			for q := range k1 - k0 {
				slices.Sort(pa[q])
				slices.Sort(pb[q])
				dists[k0+q] = w1Sorted(pa[q], pb[q])
			}
		})
		if err != nil {
			return SWDResult{}, fmt.Errorf("SWD at level %dx%d: %w", la.w, la.h, err)
		}
		var sum float64
		for _, v := range dists {
			sum += v
		}
		res.Levels[l] = Level{Height: la.h, Width: la.w, SWD: 1e3 * sum / float64(len(dists))}
		res.Average += res.Levels[l].SWD
	}
	res.Average /= float64(len(res.Levels))
	return res, nil
}

// projBlock is the number of directions projected on in one pass over the
// descriptors.
const projBlock = 8

// transposeBlock returns directions k0..k1-1 (at most projBlock) of dirs
// (count x dim, flattened) as a [dim, projBlock] array, zero-padded.
func transposeBlock(dirs []float64, dim, k0, k1 int) []float64 {
	dt := make([]float64, dim*projBlock)
	for k := k0; k < k1; k++ {
		for j, v := range dirs[k*dim:][:dim] {
			dt[j*projBlock+k-k0] = v
		}
	}
	return dt
}

// projectBlock returns the dot products of every descriptor of dl with the
// projBlock directions of dt ([dim, projBlock]), one slice per direction.
// Each dot product is summed in descriptor order, as a plain loop would.
func projectBlock(dl descLevel, dt []float64) [projBlock][]float64 {
	var out [projBlock][]float64
	for q := range out {
		out[q] = make([]float64, dl.n)
	}
	for i := range dl.n {
		row := dl.data[i*dl.dim:][:dl.dim]
		var a0, a1, a2, a3, a4, a5, a6, a7 float64
		for j, v := range row {
			d := dt[j*projBlock : j*projBlock+projBlock : j*projBlock+projBlock]
			a0 += v * d[0]
			a1 += v * d[1]
			a2 += v * d[2]
			a3 += v * d[3]
			a4 += v * d[4]
			a5 += v * d[5]
			a6 += v * d[6]
			a7 += v * d[7]
		}
		out[0][i], out[1][i], out[2][i], out[3][i] = a0, a1, a2, a3
		out[4][i], out[5][i], out[6][i], out[7][i] = a4, a5, a6, a7
	}
	return out
}

// SWD returns the sliced Wasserstein distance between the image sets a and
// b (same image size; the counts may differ): Describe both, then Distance.
// SWD of a set with itself is exactly 0.
func SWD(ctx context.Context, a, b Set, opts SWDOptions) (SWDResult, error) {
	da, err := Describe(ctx, a, opts)
	if err != nil {
		return SWDResult{}, fmt.Errorf("first set: %w", err)
	}
	db, err := Describe(ctx, b, opts)
	if err != nil {
		return SWDResult{}, fmt.Errorf("second set: %w", err)
	}
	return Distance(ctx, da, db)
}

// Wasserstein1D returns the Wasserstein-1 distance between the empirical
// distributions of x and y (any lengths, at least one value each), the
// integral over u in (0, 1) of |X(u) - Y(u)| where X and Y are their
// quantile functions. For equal lengths it is the mean absolute difference
// of the sorted values. The arguments are not modified.
func Wasserstein1D(x, y []float64) (float64, error) {
	if len(x) == 0 || len(y) == 0 {
		return 0, fmt.Errorf("Wasserstein distance needs values on both sides, got %d and %d", len(x), len(y))
	}
	xs, ys := slices.Clone(x), slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	return w1Sorted(xs, ys), nil
}

// w1Sorted is Wasserstein1D for sorted, non-empty x and y. It walks the
// merged breakpoints i/len(x) and j/len(y) of the two quantile functions in
// integer arithmetic (units of 1/(len(x)*len(y))).
func w1Sorted(x, y []float64) float64 {
	n, m := len(x), len(y)
	if n == m {
		var s float64
		for i := range x {
			s += math.Abs(x[i] - y[i])
		}
		return s / float64(n)
	}
	var s float64
	i, j := 0, 0
	pos := 0 // current breakpoint, in units of 1/(n*m)
	for i < n && j < m {
		ex, ey := (i+1)*m, (j+1)*n // ends of x[i]'s and y[j]'s intervals
		end := min(ex, ey)
		s += float64(end-pos) * math.Abs(x[i]-y[j])
		pos = end
		if ex == end {
			i++
		}
		if ey == end {
			j++
		}
	}
	return s / (float64(n) * float64(m))
}

// parallel calls f(0..n-1) on up to workers goroutines and returns
// ctx.Err() if ctx was cancelled before all calls were started.
func parallel(ctx context.Context, workers, n int, f func(i int)) error {
	workers = max(1, min(workers, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		case next <- i:
		}
	}
	close(next)
	wg.Wait()
	return err
}
