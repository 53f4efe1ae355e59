package flow

import (
	"errors"
	"fmt"
	"math"
)

// Slerp writes into dst the spherical interpolation between the noise
// vectors a and b at fraction frac in [0, 1]:
//
//	dst = sin((1−frac)·θ)/sin θ · a + sin(frac·θ)/sin θ · b,  cos θ = a·b / (|a||b|)
//
// Unlike a straight line, it keeps the norm that Gaussian noise of this
// dimension has, so every point of the path is noise the model knows. When a
// and b are (nearly) parallel it falls back to linear interpolation.
func Slerp(a, b []float32, frac float64, dst []float32) error {
	if len(a) != len(b) || len(dst) != len(a) {
		return fmt.Errorf("slerp: lengths %d, %d and %d differ", len(a), len(b), len(dst))
	}
	if math.IsNaN(frac) || frac < 0 || frac > 1 {
		return fmt.Errorf("slerp: fraction %g is outside [0, 1]", frac)
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	wa, wb := 1-frac, frac
	if na > 0 && nb > 0 {
		cos := max(-1, min(1, dot/math.Sqrt(na*nb)))
		if theta := math.Acos(cos); math.Sin(theta) > 1e-6 {
			wa = math.Sin((1-frac)*theta) / math.Sin(theta)
			wb = math.Sin(frac*theta) / math.Sin(theta)
		}
	}
	for i := range dst {
		dst[i] = float32(wa*float64(a[i]) + wb*float64(b[i]))
	}
	return nil
}

// MixWithImage prepares the start of image-to-image sampling: for each of the
// batch rows of noise (rows of len(img) floats) it writes
// (1−t0)·noise + t0·img into dst, with t0 = 1 − strength, and returns t0
// (integrate from t0 to 1). strength must be in [0, 1].
func MixWithImage(noise, img []float32, strength float64, dst []float32) (t0 float32, err error) {
	if len(img) == 0 || len(noise)%len(img) != 0 || len(dst) != len(noise) {
		return 0, errors.New("mix with image: noise, image and destination sizes do not match")
	}
	if math.IsNaN(strength) || strength < 0 || strength > 1 {
		return 0, fmt.Errorf("mix with image: strength %g is outside [0, 1]", strength)
	}
	t := 1 - strength
	for i := range noise {
		dst[i] = float32((1-t)*float64(noise[i]) + t*float64(img[i%len(img)]))
	}
	return float32(t), nil
}
