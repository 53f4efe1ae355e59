package flow

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GaussianNoise fills dst with independent standard normal values that depend
// only on (seed, index) and len(dst): image i of a request with seed s gets
// the same starting noise whatever the batch size, order or concurrency, and
// a longer dst extends a shorter one (same prefix).
//
// The stream is defined here, not by math/rand/v2's NormFloat64 (whose
// algorithm is not promised to stay fixed), so that it stays stable across
// Go and fm-image versions:
//
//   - source: PCG-DXSM, rand.NewPCG(uint64(seed), uint64(index));
//   - uniforms: each 64-bit output r gives u = (float64(r>>11) + 0.5) / 2^53,
//     strictly inside (0, 1);
//   - normals: Box-Muller on consecutive pairs (u1, u2):
//     z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2),
//     computed in float64 and rounded to float32, written to dst in order
//     z0, z1, z0', z1', ... (an odd tail drops the last z1).
//
// Changing any of this changes every seeded image; TestGaussianNoiseGolden
// pins the first values.
func GaussianNoise(seed int64, index int, dst []float32) {
	src := rand.NewPCG(uint64(seed), uint64(index))
	for i := 0; i < len(dst); i += 2 {
		u1 := unitOpen(src.Uint64())
		u2 := unitOpen(src.Uint64())
		r := math.Sqrt(-2 * math.Log(u1))
		s, c := math.Sincos(2 * math.Pi * u2)
		dst[i] = float32(r * c)
		if i+1 < len(dst) {
			dst[i+1] = float32(r * s)
		}
	}
}

// unitOpen maps 64 random bits to a float64 strictly inside (0, 1).
func unitOpen(r uint64) float64 {
	return (float64(r>>11) + 0.5) / (1 << 53)
}

// GaussianNoiseBatch fills dst ([batch, dim] row-major, batch = len(dst)/dim)
// with the noise of images first, first+1, ...: row i equals
// GaussianNoise(seed, first+i, row). It returns an error if dim < 1 or
// len(dst) is not a multiple of dim.
func GaussianNoiseBatch(seed int64, first int, dim int, dst []float32) error {
	if dim < 1 || len(dst)%dim != 0 {
		return fmt.Errorf("gaussian noise: %d floats is not a whole number of rows of %d", len(dst), dim)
	}
	for i := 0; i*dim < len(dst); i++ {
		GaussianNoise(seed, first+i, dst[i*dim:(i+1)*dim])
	}
	return nil
}

// StepNoise returns a [SampleOptions].Noise for a batch of images first,
// first+1, ... of dim floats each, seeded like their starting noise: image
// i's noise at step s is GaussianNoise(seed', first+i) with seed' = seed +
// s·0x9E3779B97F4A7C15 (wrapping), a stream of its own for every step, so
// an image's samples depend on its seed and index only, not on the batch it
// was drawn in.
func StepNoise(seed int64, first, dim int) func(step int, dst []float32) error {
	return func(step int, dst []float32) error {
		stepSeed := int64(uint64(seed) + uint64(step)*0x9E3779B97F4A7C15)
		return GaussianNoiseBatch(stepSeed, first, dim, dst)
	}
}
