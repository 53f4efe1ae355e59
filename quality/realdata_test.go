package quality

import (
	"context"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// EnvRealData names a folder of square PNG images whose side is a multiple of
// 32 (such as the Noto emoji of docs/quality.md, or the smaller
// demo/emoji-faces) for TestRealDataSanity; the test is skipped without it.
// Give an absolute path: go test runs in the package's folder.
const EnvRealData = "FM_IMAGE_QUALITY_DATA"

// loadPNGs reads up to max PNGs of dir, composited onto white and reduced
// to size x size by box averaging (the side must divide the image's).
func loadPNGs(t *testing.T, dir string, size, max int) Set {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.png"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no PNG files in %s: %v", dir, err)
	}
	slices.Sort(names)
	s := Set{Height: size, Width: size}
	for _, name := range names[:min(max, len(names))] {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := m.Bounds()
		k := b.Dx() / size
		if k*size != b.Dx() || b.Dx() != b.Dy() {
			t.Fatalf("%s is %v; want a square multiple of %d", name, b, size)
		}
		im := make([]float32, size*size*3)
		for y := range size {
			for x := range size {
				var acc [3]float64
				for dy := range k {
					for dx := range k {
						c := color.NRGBAModel.Convert(m.At(b.Min.X+x*k+dx, b.Min.Y+y*k+dy)).(color.NRGBA)
						a := float64(c.A) / 255
						for ch, v := range []uint8{c.R, c.G, c.B} {
							acc[ch] += a*float64(v) + (1-a)*255
						}
					}
				}
				for ch := range 3 {
					im[(y*size+x)*3+ch] = float32(acc[ch]/float64(k*k)/127.5 - 1)
				}
			}
		}
		s.Images = append(s.Images, im)
	}
	return s
}

// TestRealDataSanity logs the SWD of two random halves of a real image
// folder, and of one half blurred or replaced by noise, with the default
// options, and checks their order.
func TestRealDataSanity(t *testing.T) {
	dir := os.Getenv(EnvRealData)
	if dir == "" {
		t.Skipf("set %s to a folder of PNG images to run", EnvRealData)
	}
	all := loadPNGs(t, dir, 32, 400)
	perm := rand.New(rand.NewPCG(1, 2)).Perm(len(all.Images))
	a, b := Set{Height: 32, Width: 32}, Set{Height: 32, Width: 32}
	for i, p := range perm {
		if i%2 == 0 {
			a.Images = append(a.Images, all.Images[p])
		} else {
			b.Images = append(b.Images, all.Images[p])
		}
	}
	ctx := context.Background()
	opts := SWDOptions{Seed: 1}
	start := time.Now()
	split, err := SWD(ctx, a, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d vs %d images: split %+v (%.1fs)", len(a.Images), len(b.Images), split, time.Since(start).Seconds())
	blurred, err := SWD(ctx, boxBlur(a), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blurred %+v", blurred)
	noisy, err := SWD(ctx, noise(5, len(a.Images), 32, 32), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("noise %+v", noisy)
	if !(split.Average < blurred.Average && blurred.Average < noisy.Average) {
		t.Errorf("want split < blurred < noise, got %.1f, %.1f, %.1f", split.Average, blurred.Average, noisy.Average)
	}
}
