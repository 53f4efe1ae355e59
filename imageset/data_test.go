package imageset

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var (
	red   = color.NRGBA{255, 0, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	black = color.NRGBA{0, 0, 0, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

// loadOne loads a folder holding exactly one usable image and returns it.
func loadOne(t *testing.T, dir string, opts LoadOptions) []float32 {
	t.Helper()
	d, err := LoadFolder(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 {
		t.Fatalf("loaded %d images (%v), skipped %v; want 1", d.Len(), d.Files, d.Skipped)
	}
	dst := make([]float32, opts.Height*opts.Width*3)
	if err := d.Image(0, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// checkAll fails unless every pixel of hwc is within tol of want.
func checkAll(t *testing.T, name string, hwc []float32, want [3]float32, tol float64) {
	t.Helper()
	for i := 0; i < len(hwc); i += 3 {
		got := [3]float32{hwc[i], hwc[i+1], hwc[i+2]}
		if !near(got, want, tol) {
			t.Errorf("%s: pixel %d = %v, want %v±%.3g", name, i/3, got, want, tol)
			return
		}
	}
}

func TestLoadFolderFormats(t *testing.T) {
	quarters := func() *image.NRGBA { // top half red, bottom half blue
		img := solid(8, 8, red)
		for y := 4; y < 8; y++ {
			for x := 0; x < 8; x++ {
				img.SetNRGBA(x, y, blue)
			}
		}
		return img
	}
	tests := []struct {
		name string
		file string
		data func(t *testing.T) []byte
		tol  float64
	}{
		{"png", "a.png", func(t *testing.T) []byte { return encode(t, "png", quarters()) }, 0},
		{"jpeg", "a.jpg", func(t *testing.T) []byte { return encode(t, "jpeg", quarters()) }, 0.2},
		{"gif", "a.gif", func(t *testing.T) []byte { return encode(t, "gif", quarters()) }, 0},
		{"bmp", "a.bmp", func(t *testing.T) []byte { return encode(t, "bmp", quarters()) }, 0},
		{"tiff", "a.tiff", func(t *testing.T) []byte { return encode(t, "tiff", quarters()) }, 0},
		// Lossless WebP made with cwebp -lossless from the same pattern.
		{"webp", "a.webp", func(t *testing.T) []byte { return readFixture(t, "rb8.webp") }, 0},
		// Upper-case extension, PNG content.
		{"upper-case ext", "A.PNG", func(t *testing.T) []byte { return encode(t, "png", quarters()) }, 0},
		// The content decides the format, not the extension.
		{"png named jpg", "a.jpg", func(t *testing.T) []byte { return encode(t, "png", quarters()) }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.file, tc.data(t))
			got := loadOne(t, dir, LoadOptions{Height: 8, Width: 8})
			// Rows 0-2 red, rows 5-7 blue (JPEG blurs the boundary rows).
			for y := 0; y < 8; y++ {
				if y == 3 || y == 4 {
					continue
				}
				want := [3]float32{1, -1, -1}
				if y > 4 {
					want = [3]float32{-1, -1, 1}
				}
				for x := 0; x < 8; x++ {
					if p := pixel(got, 8, y, x); !near(p, want, tc.tol) {
						t.Fatalf("pixel (%d,%d) = %v, want %v", y, x, p, want)
					}
				}
			}
		})
	}
}

func TestLoadFolderColorModels(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range gray.Pix {
		gray.Pix[i] = 64
	}
	gray16 := image.NewRGBA64(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			gray16.SetRGBA64(x, y, color.RGBA64{0xffff, 0x8080, 0x0000, 0xffff})
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), palette.Plan9)
	idx := uint8(pal.Palette.Index(color.NRGBA{0, 136, 0, 255}))
	for i := range pal.Pix {
		pal.Pix[i] = idx
	}
	palR, palG, palB, _ := pal.Palette[idx].RGBA()

	tests := []struct {
		name string
		file string
		data func(t *testing.T) []byte
		want [3]float32
		tol  float64
	}{
		{"grayscale png", "g.png", func(t *testing.T) []byte { return encode(t, "png", gray) }, [3]float32{unit(64), unit(64), unit(64)}, 0},
		{"16-bit png", "g16.png", func(t *testing.T) []byte { return encode(t, "png", gray16) }, [3]float32{1, unit(0x80), -1}, 0},
		{"paletted gif", "p.gif", func(t *testing.T) []byte { return encode(t, "gif", pal) },
			[3]float32{unit(uint8(palR >> 8)), unit(uint8(palG >> 8)), unit(uint8(palB >> 8))}, 0},
		// CMYK JPEG made with ImageMagick: convert -size 8x8 xc:'rgb(255,0,0)' -colorspace CMYK.
		{"cmyk jpeg", "cmyk.jpg", func(t *testing.T) []byte { return readFixture(t, "cmyk-red8.jpg") }, [3]float32{1, -1, -1}, 0.03},
		{"grayscale jpeg", "g.jpg", func(t *testing.T) []byte { return encode(t, "jpeg", gray) }, [3]float32{unit(64), unit(64), unit(64)}, 0.03},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.file, tc.data(t))
			checkAll(t, tc.name, loadOne(t, dir, LoadOptions{Height: 4, Width: 4}), tc.want, tc.tol)
		})
	}
}

func TestLoadFolderAlpha(t *testing.T) {
	// Row 0 opaque red, row 1 transparent, row 2 half-transparent black.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 3))
	for x := 0; x < 2; x++ {
		img.SetNRGBA(x, 0, red)
		img.SetNRGBA(x, 1, color.NRGBA{10, 20, 30, 0})
		img.SetNRGBA(x, 2, color.NRGBA{0, 0, 0, 128})
	}
	// Half-transparent black over level L: round(L*127/255).
	half := func(l uint8) float32 { return unit(uint8((int(l)*127 + 127) / 255)) }
	tests := []struct {
		name string
		bg   color.Color
		want [3][3]float32 // per row
	}{
		{"default white", nil, [3][3]float32{{1, -1, -1}, {1, 1, 1}, {half(255), half(255), half(255)}}},
		{"blue", color.NRGBA{0, 0, 255, 255}, [3][3]float32{{1, -1, -1}, {-1, -1, 1}, {-1, -1, half(255)}}},
		{"grey, own alpha ignored", color.NRGBA{100, 100, 100, 7}, [3][3]float32{{1, -1, -1}, {unit(100), unit(100), unit(100)}, {half(100), half(100), half(100)}}},
	}
	for _, format := range []string{"png", "webp"} {
		for _, tc := range tests {
			dir := t.TempDir()
			if format == "png" {
				writeFile(t, dir, "a.png", encode(t, "png", img))
				got := loadOne(t, dir, LoadOptions{Height: 3, Width: 2, Background: tc.bg})
				for y := 0; y < 3; y++ {
					for x := 0; x < 2; x++ {
						if p := pixel(got, 2, y, x); p != tc.want[y] {
							t.Errorf("png %s: pixel (%d,%d) = %v, want %v", tc.name, y, x, p, tc.want[y])
						}
					}
				}
				continue
			}
			// alpha8.webp (cwebp -lossless -exact): top 4 rows transparent,
			// bottom 4 rows opaque green.
			writeFile(t, dir, "a.webp", readFixture(t, "alpha8.webp"))
			got := loadOne(t, dir, LoadOptions{Height: 8, Width: 8, Background: tc.bg})
			if p := pixel(got, 8, 0, 0); p != tc.want[1] {
				t.Errorf("webp %s: transparent pixel = %v, want background %v", tc.name, p, tc.want[1])
			}
			if p := pixel(got, 8, 7, 7); p != [3]float32{-1, 1, -1} {
				t.Errorf("webp %s: opaque pixel = %v, want green", tc.name, p)
			}
		}
	}
}

func TestLoadFolderBlackWhiteRange(t *testing.T) {
	dir := t.TempDir()
	img := columns([]uint8{0, 255, 0, 255}, 4)
	writeFile(t, dir, "bw.png", encode(t, "png", img))
	got := loadOne(t, dir, LoadOptions{Height: 4, Width: 4})
	lo, hi := slices.Min(got), slices.Max(got)
	if lo != -1 || hi != 1 {
		t.Errorf("range [%v, %v], want exactly [-1, 1]", lo, hi)
	}
	if p := pixel(got, 4, 2, 1); p != [3]float32{1, 1, 1} {
		t.Errorf("white pixel = %v, want exactly 1", p)
	}
}

func TestLoadFolderCenterCrop(t *testing.T) {
	levels := []uint8{10, 20, 30, 40, 50, 60, 70, 80}
	tests := []struct {
		name string
		img  image.Image
		h, w int
		want func(y, x int) uint8
	}{
		// 8 wide x 4 high into 4x4: columns 2..5 survive.
		{"wide", columns(levels, 4), 4, 4, func(y, x int) uint8 { return levels[x+2] }},
		// 4 wide x 8 high into 4x4: rows 2..5 survive.
		{"tall", transpose(columns(levels, 4)), 4, 4, func(y, x int) uint8 { return levels[y+2] }},
		// 8x4 into 4 high x 8 wide: nothing to crop or resample.
		{"exact", columns(levels, 4), 4, 8, func(y, x int) uint8 { return levels[x] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a.png", encode(t, "png", tc.img))
			got := loadOne(t, dir, LoadOptions{Height: tc.h, Width: tc.w})
			for y := 0; y < tc.h; y++ {
				for x := 0; x < tc.w; x++ {
					l := unit(tc.want(y, x))
					if p := pixel(got, tc.w, y, x); p != [3]float32{l, l, l} {
						t.Fatalf("pixel (%d,%d) = %v, want level %d", y, x, p, tc.want(y, x))
					}
				}
			}
		})
	}
}

// transpose swaps an image's axes.
func transpose(src *image.NRGBA) *image.NRGBA {
	b := src.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.SetNRGBA(y, x, src.NRGBAAt(x, y))
		}
	}
	return out
}

func TestLoadFolderResample(t *testing.T) {
	t.Run("tiny uniform upscaled", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "tiny.png", encode(t, "png", solid(2, 2, color.NRGBA{200, 100, 50, 255})))
		got := loadOne(t, dir, LoadOptions{Height: 16, Width: 16})
		checkAll(t, "tiny", got, [3]float32{unit(200), unit(100), unit(50)}, 0)
		d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 16, Width: 16})
		if err != nil || d.Upscaled != 1 {
			t.Errorf("Upscaled = %d (err %v), want 1", d.Upscaled, err)
		}
	})
	t.Run("tiny edge upscaled", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "tiny.png", encode(t, "png", columns([]uint8{0, 255}, 2)))
		got := loadOne(t, dir, LoadOptions{Height: 8, Width: 8})
		// Bilinear: no overshoot, dark left, bright right, non-decreasing.
		for y := 0; y < 8; y++ {
			prev := float32(-2)
			for x := 0; x < 8; x++ {
				v := pixel(got, 8, y, x)[0]
				if v < prev || v < -1 || v > 1 {
					t.Fatalf("row %d not monotonic within [-1,1] at x=%d: %v after %v", y, x, v, prev)
				}
				prev = v
			}
			if l, r := pixel(got, 8, y, 0)[0], pixel(got, 8, y, 7)[0]; l > -0.5 || r < 0.5 {
				t.Fatalf("row %d edges %v .. %v, want dark .. bright", y, l, r)
			}
		}
	})
	t.Run("large downscaled", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "big.jpg", encode(t, "jpeg", solid(300, 200, color.NRGBA{30, 160, 90, 255})))
		got := loadOne(t, dir, LoadOptions{Height: 8, Width: 8})
		checkAll(t, "big", got, [3]float32{unit(30), unit(160), unit(90)}, 0.04)
		d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 8, Width: 8})
		if err != nil || d.Upscaled != 0 {
			t.Errorf("Upscaled = %d (err %v), want 0", d.Upscaled, err)
		}
	})
}

func TestLoadFolderEXIFOrientation(t *testing.T) {
	// 8 wide x 4 high: left half black, right half white. Orientation 6 means
	// "rotate 90 degrees clockwise to display": the left half ends on top.
	src := columns([]uint8{0, 0, 0, 0, 255, 255, 255, 255}, 4)
	tests := []struct {
		name        string
		orientation uint16
		h, w        int
		topLeft     float32 // value at (0,0)
		bottomLeft  float32 // value at (h-1, 0)
	}{
		{"none", 1, 4, 8, -1, -1},
		{"rotate 90 cw", 6, 8, 4, -1, 1},
		{"rotate 90 ccw", 8, 8, 4, 1, -1},
		{"rotate 180", 3, 4, 8, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "r.jpg", withOrientation(encode(t, "jpeg", src), tc.orientation))
			got := loadOne(t, dir, LoadOptions{Height: tc.h, Width: tc.w})
			tl, bl := pixel(got, tc.w, 0, 0)[0], pixel(got, tc.w, tc.h-1, 0)[0]
			if math.Abs(float64(tl-tc.topLeft)) > 0.1 || math.Abs(float64(bl-tc.bottomLeft)) > 0.1 {
				t.Errorf("top-left %v bottom-left %v, want %v and %v", tl, bl, tc.topLeft, tc.bottomLeft)
			}
		})
	}
}

func TestLoadFolderSkips(t *testing.T) {
	dir := t.TempDir()
	good := encode(t, "png", solid(4, 4, red))
	// A noisy 64x64 JPEG: scan data dominates, so the cut lands in it,
	// after the header tables.
	noisy := image.NewGray(image.Rect(0, 0, 64, 64))
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(rng.IntN(256))
	}
	jpg := encode(t, "jpeg", noisy)
	writeFile(t, dir, "good.png", good)
	writeFile(t, dir, "empty.png", nil)
	writeFile(t, dir, "truncated.png", good[:len(good)/2])
	writeFile(t, dir, "truncated.jpg", jpg[:len(jpg)/2])
	writeFile(t, dir, "text.jpg", []byte("hello, I am not a picture\n"))
	writeFile(t, dir, "huge.png", hugePNG(100000, 100000))
	writeFile(t, dir, "notes.txt", []byte("ignored"))
	writeFile(t, dir, ".hidden.png", []byte("ignored"))
	writeFile(t, dir, ".git/obj.png", good)
	writeFile(t, dir, "sub/deeper/nested.png", good)

	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{filepath.Join(dir, "good.png"), filepath.Join(dir, "sub", "deeper", "nested.png")}
	if !slices.Equal(d.Files, wantFiles) {
		t.Errorf("Files = %v, want %v", d.Files, wantFiles)
	}
	wantSkips := map[string]string{
		"empty.png":     "empty file",
		"huge.png":      "100000x100000 = 10000000000 pixels, above the limit",
		"text.jpg":      "not a JPEG, PNG",
		"truncated.jpg": "invalid jpeg data",
		"truncated.png": "invalid png data",
	}
	if len(d.Skipped) != len(wantSkips) {
		t.Errorf("Skipped = %v, want %d entries", d.Skipped, len(wantSkips))
	}
	for i, s := range d.Skipped {
		if i > 0 && d.Skipped[i-1].Path > s.Path {
			t.Errorf("Skipped not sorted: %v", d.Skipped)
		}
		want, ok := wantSkips[filepath.Base(s.Path)]
		if !ok || !strings.Contains(s.Reason, want) || strings.Contains(s.Reason, "\n") {
			t.Errorf("skip %s: reason %q, want one line containing %q", s.Path, s.Reason, want)
		}
	}
}

func TestLoadFolderSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a/real.png", encode(t, "png", solid(4, 4, red)))
	links := map[string]string{
		"loopdir":    ".",                // folder loop: not followed
		"a/up":       "..",               // another loop
		"self.png":   "self.png",         // link to itself
		"broken.png": "nowhere.png",      // dangling
		"link.png":   "a/real.png",       // file: followed once
		"dir.png":    "a",                // folder with an image name
		"outer.png":  "/nonexistent/x.y", // absolute dangling
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a", "real.png"), filepath.Join(dir, "link.png")}
	if !slices.Equal(d.Files, want) {
		t.Errorf("Files = %v, want %v", d.Files, want)
	}
	reasons := map[string]string{}
	for _, s := range d.Skipped {
		reasons[strings.TrimPrefix(s.Path, dir+string(filepath.Separator))] = s.Reason
	}
	for name, want := range map[string]string{
		"self.png": "broken symbolic link", "broken.png": "broken symbolic link", "outer.png": "broken symbolic link",
		"dir.png": "not followed", "loopdir": "not followed", filepath.Join("a", "up"): "not followed",
	} {
		if !strings.Contains(reasons[name], want) {
			t.Errorf("skip reason for %s = %q, want %q (all: %v)", name, reasons[name], want, d.Skipped)
		}
	}

	// The folder itself may be a symbolic link; paths are reported under it.
	link := filepath.Join(t.TempDir(), "linked")
	if err := os.Symlink(filepath.Join(dir, "a"), link); err != nil {
		t.Fatal(err)
	}
	d, err = LoadFolder(context.Background(), link, LoadOptions{Height: 4, Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(link, "real.png")}; !slices.Equal(d.Files, want) {
		t.Errorf("via linked folder: Files = %v, want %v", d.Files, want)
	}
}

func TestLoadFolderErrors(t *testing.T) {
	root := t.TempDir()
	file := writeFile(t, root, "file.png", encode(t, "png", solid(2, 2, red)))
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	textOnly := filepath.Join(root, "textonly")
	writeFile(t, textOnly, "readme.txt", []byte("x"))
	bad := filepath.Join(root, "bad")
	writeFile(t, bad, "a.png", nil)
	writeFile(t, bad, "b.jpg", []byte("nope"))
	writeFile(t, bad, "c.png", hugePNG(9000, 9000))
	writeFile(t, bad, "d.gif", []byte("GIF89a"))

	tests := []struct {
		name string
		dir  string
		opts LoadOptions
		want []string
	}{
		{"missing", filepath.Join(root, "missing"), LoadOptions{Height: 4, Width: 4}, []string{"no such file"}},
		{"file", file, LoadOptions{Height: 4, Width: 4}, []string{"is a file, not a folder"}},
		{"empty", empty, LoadOptions{Height: 4, Width: 4}, []string{"contains no image files"}},
		{"text only", textOnly, LoadOptions{Height: 4, Width: 4}, []string{"contains no image files"}},
		{"all bad", bad, LoadOptions{Height: 4, Width: 4}, []string{"no usable images", "4 file(s) skipped", "a.png: empty file", "b.jpg: not a", "and 1 more"}},
		{"no size", empty, LoadOptions{}, []string{"must be between 1 and"}},
		{"bad crop", empty, LoadOptions{Height: 4, Width: 4, Crop: 7}, []string{"crop mode"}},
		{"negative max pixels", empty, LoadOptions{Height: 4, Width: 4, MaxPixels: -1}, []string{"MaxPixels"}},
		{"negative max files", empty, LoadOptions{Height: 4, Width: 4, MaxFiles: -1}, []string{"MaxFiles"}},
	}
	for _, tc := range tests {
		d, err := LoadFolder(context.Background(), tc.dir, tc.opts)
		if err == nil {
			t.Errorf("%s: got %d images, want an error", tc.name, d.Len())
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writeFile(t, empty, "x.png", encode(t, "png", solid(2, 2, red)))
	if _, err := LoadFolder(ctx, empty, LoadOptions{Height: 4, Width: 4}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestLoadFolderMaxPixelsAndFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "0-bad.png", []byte("junk"))
	for i, c := range []color.NRGBA{red, blue, black, white} {
		writeFile(t, dir, string(rune('1'+i))+".png", encode(t, "png", solid(10, 10, c)))
	}
	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "1.png"), filepath.Join(dir, "2.png")}; !slices.Equal(d.Files, want) {
		t.Errorf("MaxFiles=2: Files = %v, want %v", d.Files, want)
	}
	if len(d.Skipped) != 1 {
		t.Errorf("MaxFiles=2: Skipped = %v, want only 0-bad.png", d.Skipped)
	}
	// 10x10 = 100 pixels: a limit of 99 refuses them all, 100 accepts them.
	if _, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4, MaxPixels: 99}); err == nil ||
		!strings.Contains(err.Error(), "above the limit of 99") {
		t.Errorf("MaxPixels=99: err = %v", err)
	}
	if d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4, MaxPixels: 100, Workers: 1}); err != nil || d.Len() != 4 {
		t.Errorf("MaxPixels=100: %v images, err %v; want 4", d.Len(), err)
	}
}

// gradientDataset loads one 8 wide x 4 high image whose column x has level
// 10*(x+1), with the given crop and flip options, at 4x4.
func gradientDataset(t *testing.T, crop CropMode, flip bool) *Dataset {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "g.png", encode(t, "png", columns([]uint8{10, 20, 30, 40, 50, 60, 70, 80}, 4)))
	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 4, Width: 4, Crop: crop, FlipHorizontal: flip})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDatasetBatchAugmentation(t *testing.T) {
	const n = 64
	per := 4 * 4 * 3
	tests := []struct {
		name       string
		crop       CropMode
		flip       bool
		offsets    int // distinct first-column offsets expected
		wantMirror bool
	}{
		{"center", CenterCrop, false, 1, false},
		{"center+flip", CenterCrop, true, 1, true},
		{"random", RandomCrop, false, 5, false},
		{"random+flip", RandomCrop, true, 5, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := gradientDataset(t, tc.crop, tc.flip)
			dst := make([]float32, n*per)
			idx, err := d.Batch(rand.New(rand.NewPCG(1, 2)), n, dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx) != n || slices.Max(idx) != 0 {
				t.Fatalf("indices %v", idx)
			}
			starts := map[int]bool{}
			mirrored := false
			for b := 0; b < n; b++ {
				s := dst[b*per : (b+1)*per]
				// Each row is 4 consecutive columns, ascending or (flipped)
				// descending, identical across rows and channels.
				first := int(math.Round(float64((s[0]+1)/2*255))) / 10
				step := 1
				if pixel(s, 4, 0, 1)[0] < s[0] {
					step = -1
					mirrored = true
					first -= 3 // leftmost source column
				}
				starts[first] = true
				for y := 0; y < 4; y++ {
					for x := 0; x < 4; x++ {
						col := first + x
						if step < 0 {
							col = first + 3 - x
						}
						l := unit(uint8(10 * col))
						if p := pixel(s, 4, y, x); p != [3]float32{l, l, l} {
							t.Fatalf("sample %d pixel (%d,%d) = %v, want level %d", b, y, x, p, 10*col)
						}
					}
				}
			}
			if len(starts) != tc.offsets || mirrored != tc.wantMirror {
				t.Errorf("saw offsets %v mirrored=%v; want %d offsets mirrored=%v", starts, mirrored, tc.offsets, tc.wantMirror)
			}
			// Same seed, same batch.
			again := make([]float32, n*per)
			idx2, _ := d.Batch(rand.New(rand.NewPCG(1, 2)), n, again)
			if !slices.Equal(dst, again) || !slices.Equal(idx, idx2) {
				t.Error("same rng seed gave a different batch")
			}
			// Image always returns the centred window, unflipped.
			img := make([]float32, per)
			if err := d.Image(0, img); err != nil {
				t.Fatal(err)
			}
			if img[0] != unit(30) || pixel(img, 4, 0, 3)[0] != unit(60) {
				t.Errorf("Image(0) row = %v .. %v, want levels 30 .. 60", img[0], pixel(img, 4, 0, 3)[0])
			}
		})
	}
}

func TestDatasetBatchDrawsUniformly(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 4; i++ {
		writeFile(t, dir, string(rune('a'+i))+".png", encode(t, "png", solid(2, 2, color.NRGBA{uint8(60 * i), 0, 0, 255})))
	}
	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	dst := make([]float32, n*2*2*3)
	idx, err := d.Batch(rand.New(rand.NewPCG(7, 7)), n, dst)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 4)
	for b, i := range idx {
		counts[i]++
		if got := dst[b*12]; got != unit(uint8(60*i)) {
			t.Fatalf("sample %d is image %d but holds %v", b, i, got)
		}
	}
	for i, c := range counts {
		if c < 900 || c > 1100 { // expected 1000, sd ~27
			t.Errorf("image %d drawn %d times of %d", i, c, n)
		}
	}
}

func TestDatasetErrors(t *testing.T) {
	d := gradientDataset(t, CenterCrop, false)
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := d.Batch(nil, 1, make([]float32, 48)); err == nil {
		t.Error("nil rng: want error")
	}
	if _, err := d.Batch(rng, 2, make([]float32, 95)); err == nil || !strings.Contains(err.Error(), "need 96") {
		t.Errorf("short batch dst: err = %v", err)
	}
	if _, err := d.Batch(rng, 0, nil); err == nil {
		t.Error("batch 0: want error")
	}
	if _, err := (&Dataset{}).Batch(rng, 1, make([]float32, 48)); err == nil {
		t.Error("empty dataset: want error")
	}
	if err := d.Image(1, make([]float32, 48)); err == nil {
		t.Error("Image(1) of 1: want error")
	}
	if err := d.Image(0, make([]float32, 47)); err == nil {
		t.Error("Image into short dst: want error")
	}
	if _, err := d.Subset([]int{0, 1}); err == nil {
		t.Error("Subset out of range: want error")
	}
	var nilDS *Dataset
	if nilDS.Len() != 0 {
		t.Error("nil dataset Len != 0")
	}
}

func TestDatasetSplit(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 10; i++ {
		writeFile(t, dir, string(rune('a'+i))+".png", encode(t, "png", solid(2, 2, color.NRGBA{uint8(20 * i), 0, 0, 255})))
	}
	d, err := LoadFolder(context.Background(), dir, LoadOptions{Height: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fraction  float64
		wantHold  int
		wantError bool
	}{
		{0, 0, false}, {0.2, 2, false}, {0.01, 1, false}, {0.99, 9, false}, {1, 10, false},
		{-0.1, 0, true}, {1.5, 0, true}, {math.NaN(), 0, true},
	}
	for _, tc := range tests {
		train, hold, err := d.Split(tc.fraction, 42)
		if tc.wantError {
			if err == nil {
				t.Errorf("Split(%g): want error", tc.fraction)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if hold.Len() != tc.wantHold || train.Len() != 10-tc.wantHold {
			t.Errorf("Split(%g): %d train, %d hold-out; want %d hold-out", tc.fraction, train.Len(), hold.Len(), tc.wantHold)
		}
		all := append(slices.Clone(train.Files), hold.Files...)
		slices.Sort(all)
		if !slices.Equal(all, d.Files) || !slices.IsSorted(train.Files) || !slices.IsSorted(hold.Files) {
			t.Errorf("Split(%g): train %v + hold %v is not a sorted partition", tc.fraction, train.Files, hold.Files)
		}
		// The pixels follow the files.
		px := make([]float32, 12)
		for i, f := range hold.Files {
			hold.Image(i, px)
			j := slices.Index(d.Files, f)
			if px[0] != unit(uint8(20*j)) {
				t.Errorf("hold-out image %s has level %v, want %v", f, px[0], unit(uint8(20*j)))
			}
		}
	}
	_, h1, _ := d.Split(0.3, 5)
	_, h2, _ := d.Split(0.3, 5)
	_, h3, _ := d.Split(0.3, 6)
	if !slices.Equal(h1.Files, h2.Files) {
		t.Error("same seed gave different splits")
	}
	if slices.Equal(h1.Files, h3.Files) {
		t.Log("seeds 5 and 6 gave the same split (possible but unlikely)")
	}
}

func TestToImage(t *testing.T) {
	hwc := []float32{-1, 1, 0, -2, 2, float32(math.NaN()), 0.5, -0.5, 0.999}
	img, err := ToImage(hwc, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint8{0, 255, 128, 255, 0, 255, 0, 255, 191, 64, 255, 255}
	if !bytes.Equal(img.Pix, want) {
		t.Errorf("Pix = %v, want %v", img.Pix, want)
	}
	// Round trip through FromImage is exact for 8-bit levels.
	src := columns([]uint8{0, 1, 127, 128, 254, 255}, 2)
	dst := make([]float32, 2*6*3)
	if err := FromImage(src, 2, 6, nil, dst); err != nil {
		t.Fatal(err)
	}
	back, err := ToImage(dst, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back.Pix {
		if back.Pix[i] != src.Pix[i] {
			t.Fatalf("round trip byte %d = %d, want %d", i, back.Pix[i], src.Pix[i])
		}
	}
	for _, tc := range []struct {
		n, h, w int
	}{{5, 1, 2}, {6, 0, 2}, {6, 2, -1}} {
		if _, err := ToImage(make([]float32, tc.n), tc.h, tc.w); err == nil {
			t.Errorf("ToImage(%d floats, %dx%d): want error", tc.n, tc.h, tc.w)
		}
	}
	if err := FromImage(src, 2, 6, nil, make([]float32, 35)); err == nil {
		t.Error("FromImage short dst: want error")
	}
	if err := FromImage(nil, 2, 2, nil, make([]float32, 12)); err == nil {
		t.Error("FromImage nil image: want error")
	}
}

func TestDecodeImageLimits(t *testing.T) {
	img := encode(t, "png", solid(10, 10, red))
	tests := []struct {
		name      string
		data      []byte
		maxPixels int64
		want      string
	}{
		{"ok", img, 100, ""},
		{"over", img, 99, "10x10 = 100 pixels, above the limit of 99"},
		{"default limit", hugePNG(100000, 100000), 0, "above the limit of 67108864"},
		{"small header, bad body", hugePNG(100, 100), 0, "invalid png data"},
		{"unknown", []byte("GIF87"), 0, "not a JPEG"},
	}
	for _, tc := range tests {
		got, err := DecodeImage(bytes.NewReader(tc.data), tc.maxPixels)
		if tc.want == "" {
			if err != nil || got.Bounds().Dx() != 10 {
				t.Errorf("%s: %v, %v", tc.name, got, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := DecodeFile(filepath.Join(t.TempDir(), "none.png"), 0); err == nil {
		t.Error("DecodeFile of a missing file: want error")
	}
}

func FuzzDecodeImage(f *testing.F) {
	small := solid(3, 2, color.NRGBA{1, 2, 3, 200})
	for _, format := range []string{"png", "jpeg", "gif", "bmp", "tiff"} {
		f.Add(encode(f, format, small))
	}
	f.Add(readFixture(f, "rb8.webp"))
	f.Add(readFixture(f, "cmyk-red8.jpg"))
	f.Add(hugePNG(100000, 100000))
	f.Add(hugePNG(3, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Empty() || int64(b.Dx())*int64(b.Dy()) > 1<<16 {
			t.Fatalf("decoded %v despite the limit", b)
		}
		dst := make([]float32, 4*3*3)
		if err := FromImage(img, 4, 3, nil, dst); err != nil {
			t.Fatalf("FromImage: %v", err)
		}
		for _, v := range dst {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("value %v outside [-1, 1]", v)
			}
		}
	})
}
