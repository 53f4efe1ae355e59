package quality

import (
	"context"
	"fmt"
	"math"
	"runtime"
)

// Neighbour is the nearest image of a reference set to a query image.
type Neighbour struct {
	// Index is the position of the nearest image in the reference set (the
	// first one on ties).
	Index int
	// Distance is the L2 distance between the two images over all
	// Height*Width*3 values (in the images' [-1, 1] units).
	Distance float64
}

// NearestNeighbours returns, for each image of queries, its nearest image in
// refs by L2 distance. Both sets must have the same image size. workers is
// the number of goroutines (0 = runtime.GOMAXPROCS(0)); the result does not
// depend on it. It returns ctx.Err() (wrapped) if ctx is cancelled.
func NearestNeighbours(ctx context.Context, queries, refs Set, workers int) ([]Neighbour, error) {
	if err := queries.Validate(); err != nil {
		return nil, fmt.Errorf("nearest neighbours: query images: %w", err)
	}
	if err := refs.Validate(); err != nil {
		return nil, fmt.Errorf("nearest neighbours: reference images: %w", err)
	}
	if queries.Height != refs.Height || queries.Width != refs.Width {
		return nil, fmt.Errorf("nearest neighbours: query images are %dx%d but reference images %dx%d",
			queries.Width, queries.Height, refs.Width, refs.Height)
	}
	if workers < 0 {
		return nil, fmt.Errorf("nearest neighbours: worker count %d must not be negative", workers)
	}
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]Neighbour, len(queries.Images))
	err := parallel(ctx, workers, len(queries.Images), func(i int) {
		q := queries.Images[i]
		best := Neighbour{Index: -1, Distance: math.Inf(1)}
		bestSq := math.Inf(1)
		for j, r := range refs.Images {
			var sq float64
			for k, v := range q {
				d := float64(v) - float64(r[k])
				sq += d * d
				if sq >= bestSq {
					break // cannot beat the best any more
				}
			}
			if sq < bestSq {
				bestSq = sq
				best = Neighbour{Index: j, Distance: math.Sqrt(sq)}
			}
		}
		out[i] = best
	})
	if err != nil {
		return nil, fmt.Errorf("nearest neighbours: %w", err)
	}
	return out, nil
}

// MeanDistance returns the mean Distance of ns (0 for none).
func MeanDistance(ns []Neighbour) float64 {
	if len(ns) == 0 {
		return 0
	}
	var s float64
	for _, n := range ns {
		s += n.Distance
	}
	return s / float64(len(ns))
}

// MemorisationRatio compares how close generated images and held-out real
// images come to the training set: the mean nearest-neighbour distance of
// the generated images divided by that of the held-out ones. About 1 means
// the generator is no closer to its training images than unseen real images
// are; much less than 1 means it reproduces training images. It fails if
// either list is empty or the held-out mean is 0.
func MemorisationRatio(generated, heldOut []Neighbour) (float64, error) {
	if len(generated) == 0 || len(heldOut) == 0 {
		return 0, fmt.Errorf("memorisation ratio needs distances on both sides, got %d generated and %d held-out", len(generated), len(heldOut))
	}
	h := MeanDistance(heldOut)
	if h == 0 {
		return 0, fmt.Errorf("memorisation ratio: the held-out images all have exact copies in the training set")
	}
	return MeanDistance(generated) / h, nil
}
