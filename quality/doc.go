// Package quality measures how close a set of generated images is to a set
// of real ones, without downloaded networks.
//
//   - SWD: the sliced Wasserstein distance between the multi-scale 7x7
//     neighbourhoods of two image sets (Karras et al. 2018, "Progressive
//     Growing of GANs", section 5), per level of a Laplacian pyramid and
//     averaged, in units of 10^-3 as in the paper.
//   - NearestDistances: the L2 distance of each image to its nearest
//     neighbour in another set, the ingredient of a memorisation check
//     (generated images much closer to the training set than held-out real
//     images are suggest copying).
//   - Plot: a line chart of SWD against the number of model evaluations.
//
// Images are [Height, Width, 3] float32 arrays in HWC order (row-major,
// channel last) with values in [-1, 1], the layout packages imageset and flow use.
// Everything is computed in float64 and is deterministic for a given seed,
// whatever the number of worker goroutines.
//
// The package is pure Go: it does not depend on the model or its backend.
package quality
