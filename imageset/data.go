package imageset

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // register the GIF decoder
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/bmp"  // register the BMP decoder
	_ "golang.org/x/image/tiff" // register the TIFF decoder
	_ "golang.org/x/image/webp" // register the WebP decoder
)

// DefaultMaxPixels is the default [LoadOptions.MaxPixels]: 64 megapixels
// (64 * 2^20 pixels).
const DefaultMaxPixels int64 = 64 << 20

// maxSide bounds the target height and width so tensor sizes cannot overflow.
const maxSide = 1 << 14

// imageExtensions lists the file extensions (lower case) LoadFolder reads.
// Other files are ignored silently.
var imageExtensions = []string{".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

const formatList = "JPEG, PNG, GIF, BMP, TIFF, WebP"

// CropMode selects how images whose aspect ratio differs from the target are
// cut to Height x Width.
type CropMode int

const (
	// CenterCrop scales an image so it covers Height x Width and cuts the
	// centred Height x Width window at load time.
	CenterCrop CropMode = iota
	// RandomCrop scales an image so it covers Height x Width (its short side,
	// relative to the target, matching the target) and keeps that whole
	// scaled image in memory; [Dataset.Batch] cuts a random Height x Width
	// window per sample and [Dataset.Image] the centred one.
	RandomCrop
)

// String returns "center" or "random".
func (c CropMode) String() string {
	switch c {
	case CenterCrop:
		return "center"
	case RandomCrop:
		return "random"
	}
	return fmt.Sprintf("CropMode(%d)", int(c))
}

// LoadOptions configures [LoadFolder]. The zero value is not usable: Height
// and Width are required.
type LoadOptions struct {
	// Height and Width are the target image size in pixels (required, 1 to
	// 16384). Images of another size are resampled (Lanczos when shrinking,
	// bilinear when enlarging: small images are upscaled, not refused) and
	// cropped as Crop says.
	Height, Width int
	// Background is the colour transparent pixels are composited onto; its
	// own alpha is ignored. Nil means white.
	Background color.Color
	// Crop is CenterCrop (the default) or RandomCrop.
	Crop CropMode
	// FlipHorizontal mirrors each sample left-right with probability 1/2 in
	// [Dataset.Batch].
	FlipHorizontal bool
	// MaxPixels refuses images whose header claims more than this many
	// pixels (width*height), checked before decoding so a hostile header
	// cannot exhaust memory. 0 means DefaultMaxPixels.
	MaxPixels int64
	// MaxFiles, if positive, keeps only the first MaxFiles usable images in
	// path order; 0 means unlimited.
	MaxFiles int
	// Workers is the number of files decoded in parallel; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
}

// withDefaults returns o with the documented defaults filled in.
func (o LoadOptions) withDefaults() LoadOptions {
	if o.Background == nil {
		o.Background = color.White
	}
	if o.MaxPixels == 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// Validate reports whether the options (after defaults) are usable.
func (o LoadOptions) Validate() error {
	o = o.withDefaults()
	if o.Height < 1 || o.Width < 1 || o.Height > maxSide || o.Width > maxSide {
		return fmt.Errorf("image size %dx%d (height x width) must be between 1 and %d on each side", o.Height, o.Width, maxSide)
	}
	if o.Crop != CenterCrop && o.Crop != RandomCrop {
		return fmt.Errorf("unknown crop mode %d", int(o.Crop))
	}
	if o.MaxPixels < 0 {
		return fmt.Errorf("MaxPixels must not be negative, got %d", o.MaxPixels)
	}
	if o.MaxFiles < 0 {
		return fmt.Errorf("MaxFiles must not be negative, got %d", o.MaxFiles)
	}
	if o.Workers < 0 {
		return fmt.Errorf("Workers must not be negative, got %d", o.Workers)
	}
	return nil
}

// Skipped records a file LoadFolder could not use.
type Skipped struct {
	// Path is the file's path as found under the folder given to LoadFolder.
	Path string
	// Reason is a one-line explanation.
	Reason string
}

// String returns "path: reason".
func (s Skipped) String() string { return s.Path + ": " + s.Reason }

// Dataset is a set of images held in memory, ready to be batched for
// training. Create it with [LoadFolder]; [Dataset.Split] and
// [Dataset.Subset] derive datasets that share its pixels.
type Dataset struct {
	// Height and Width are the size of every image returned, in pixels.
	Height, Width int
	// Files are the files of the images, in order: image i came from
	// Files[i]. LoadFolder sorts them by path (byte-wise).
	Files []string
	// Skipped lists the files LoadFolder could not use, sorted by path.
	// Datasets made by Split and Subset have none.
	Skipped []Skipped
	// Upscaled counts the images LoadFolder had to enlarge because they
	// were smaller than the target (after cropping to its aspect ratio);
	// callers may want to warn that those will look soft. Datasets made by
	// Split and Subset report 0.
	Upscaled int
	// Labels, for a labelled dataset (see [LabelByFolder]), holds the class
	// of each image (parallel to Files), an index into Classes; nil otherwise.
	Labels []int
	// Classes are the class names of a labelled dataset, sorted.
	Classes []string

	images []rgbImage // parallel to Files
	crop   CropMode
	flip   bool
}

// rgbImage is an opaque 8-bit RGB image, HWC. 8 bits per channel are all the
// precision the resampling keeps, and a quarter of float32's memory.
type rgbImage struct {
	h, w int
	pix  []uint8 // h*w*3
}

// toUnit maps an 8-bit channel to [-1, 1]; 0 and 255 map exactly to -1 and 1.
func toUnit(p uint8) float32 { return float32(int(p)*2-255) / 255 }

// Len returns the number of images (0 for a nil Dataset).
func (d *Dataset) Len() int {
	if d == nil {
		return 0
	}
	return len(d.images)
}

// Image copies the centred Height x Width window of image i, without
// augmentation, into dst ([Height, Width, 3] float32 HWC, values in [-1, 1]).
// It returns an error if i is out of range or dst is shorter than
// Height*Width*3.
func (d *Dataset) Image(i int, dst []float32) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("image index %d out of range [0, %d)", i, d.Len())
	}
	if n := d.Height * d.Width * 3; len(dst) < n {
		return fmt.Errorf("image destination has %d floats, need %d (%dx%dx3)", len(dst), n, d.Height, d.Width)
	}
	im := d.images[i]
	d.window(im, (im.h-d.Height)/2, (im.w-d.Width)/2, false, dst)
	return nil
}

// window writes the Height x Width window of im at (y0, x0), mirrored if
// flip, into dst as [-1, 1] floats.
func (d *Dataset) window(im rgbImage, y0, x0 int, flip bool, dst []float32) {
	h, w := d.Height, d.Width
	for y := 0; y < h; y++ {
		src := im.pix[((y0+y)*im.w+x0)*3:][:w*3]
		row := dst[y*w*3:][:w*3]
		if !flip {
			for j, p := range src {
				row[j] = toUnit(p)
			}
			continue
		}
		for x := 0; x < w; x++ {
			s := src[(w-1-x)*3:][:3]
			row[x*3] = toUnit(s[0])
			row[x*3+1] = toUnit(s[1])
			row[x*3+2] = toUnit(s[2])
		}
	}
}

// Batch fills dst ([batch, Height, Width, 3] float32 NHWC, values in [-1, 1])
// with batch images drawn uniformly with replacement using rng, applying the
// random crop and horizontal flip the dataset was loaded with, and returns
// the indices drawn. The result depends only on the dataset and rng's state:
// per sample it draws the index, then (RandomCrop) the window's row and
// column, then (FlipHorizontal) the flip.
func (d *Dataset) Batch(rng *rand.Rand, batch int, dst []float32) ([]int, error) {
	if d.Len() == 0 {
		return nil, errors.New("batch from an empty dataset")
	}
	if rng == nil {
		return nil, errors.New("batch: nil random source")
	}
	if batch < 1 {
		return nil, fmt.Errorf("batch size must be at least 1, got %d", batch)
	}
	per := d.Height * d.Width * 3
	if len(dst) < batch*per {
		return nil, fmt.Errorf("batch destination has %d floats, need %d (%dx%dx%dx3)", len(dst), batch*per, batch, d.Height, d.Width)
	}
	idx := make([]int, batch)
	for b := range idx {
		i := rng.IntN(len(d.images))
		idx[b] = i
		im := d.images[i]
		y0, x0 := (im.h-d.Height)/2, (im.w-d.Width)/2
		if d.crop == RandomCrop {
			y0 = rng.IntN(im.h - d.Height + 1)
			x0 = rng.IntN(im.w - d.Width + 1)
		}
		flip := d.flip && rng.IntN(2) == 1
		d.window(im, y0, x0, flip, dst[b*per:(b+1)*per])
	}
	return idx, nil
}

// Subset returns a dataset of the given images (in the order given,
// repetitions allowed) sharing d's pixels, or an error if an index is out
// of range.
func (d *Dataset) Subset(indices []int) (*Dataset, error) {
	if d == nil {
		return nil, errors.New("subset of a nil dataset")
	}
	out := &Dataset{Height: d.Height, Width: d.Width, crop: d.crop, flip: d.flip, Classes: d.Classes,
		Files: make([]string, len(indices)), images: make([]rgbImage, len(indices))}
	if d.Labels != nil {
		out.Labels = make([]int, len(indices))
	}
	for j, i := range indices {
		if i < 0 || i >= len(d.images) {
			return nil, fmt.Errorf("subset index %d out of range [0, %d)", i, len(d.images))
		}
		out.Files[j] = d.Files[i]
		out.images[j] = d.images[i]
		if d.Labels != nil {
			out.Labels[j] = d.Labels[i]
		}
	}
	return out, nil
}

// Split deterministically divides d into a training set and a hold-out set
// holding round(fraction*Len()) images chosen by a permutation seeded with
// seed; both keep d's order. When 0 < fraction < 1 and Len() >= 2, each side
// gets at least one image. fraction must be in [0, 1].
func (d *Dataset) Split(fraction float64, seed int64) (train, holdout *Dataset, err error) {
	if d == nil {
		return nil, nil, errors.New("split of a nil dataset")
	}
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return nil, nil, fmt.Errorf("hold-out fraction must be in [0, 1], got %g", fraction)
	}
	n := d.Len()
	k := int(math.Round(fraction * float64(n)))
	if fraction > 0 && fraction < 1 && n >= 2 {
		k = min(max(k, 1), n-1)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Perm(n)
	hold, rest := perm[:k], perm[k:]
	slices.Sort(hold)
	slices.Sort(rest)
	if train, err = d.Subset(rest); err != nil {
		return nil, nil, err
	}
	if holdout, err = d.Subset(hold); err != nil {
		return nil, nil, err
	}
	return train, holdout, nil
}

// LoadFolder reads every image under dir (recursively) into memory, scaled
// and cropped to opts.Height x opts.Width (see [LoadOptions]).
//
// Files are found with filepath.WalkDir, which does not descend into
// symbolic links to folders (so a link loop cannot hang it); symbolic links
// to files are read. Hidden files and folders (name starting with ".") and
// files without an image extension (.jpg .jpeg .jpe .jfif .png .gif .bmp
// .tif .tiff .webp, any case) are ignored silently; the content, not the
// extension, decides the format. JPEG EXIF orientation is applied;
// grayscale, paletted, 16-bit and CMYK images are converted to 8-bit RGB and
// transparency is composited onto opts.Background.
//
// Unusable files (empty, truncated, not an image, header over MaxPixels,
// unreadable) are listed in Dataset.Skipped with a one-line reason. A
// missing folder, a file instead of a folder, a folder without image files
// or one where every image was skipped is an error. LoadFolder returns
// ctx.Err() (wrapped) if ctx is cancelled.
func LoadFolder(ctx context.Context, dir string, opts LoadOptions) (*Dataset, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	opts = opts.withDefaults()

	files, skipped, err := findImageFiles(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		msg := fmt.Sprintf("image folder %s contains no image files (%s)", dir, formatList)
		if len(skipped) > 0 {
			msg += ": " + summarizeSkips(skipped)
		}
		return nil, errors.New(msg)
	}

	d := &Dataset{Height: opts.Height, Width: opts.Width, crop: opts.Crop, flip: opts.FlipHorizontal}
	bg := opaqueRGB(opts.Background)
	// Decode in chunks so MaxFiles keeps the first usable images in order
	// without decoding far past them.
	for next := 0; next < len(files); {
		end := len(files)
		if opts.MaxFiles > 0 {
			if len(d.images) >= opts.MaxFiles {
				break
			}
			end = min(end, next+opts.MaxFiles-len(d.images))
		}
		results := loadFiles(ctx, files[next:end], opts, bg)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("load %s: %w", dir, err)
		}
		for j, r := range results {
			if r.reason != "" {
				skipped = append(skipped, Skipped{Path: files[next+j], Reason: r.reason})
				continue
			}
			d.Files = append(d.Files, files[next+j])
			d.images = append(d.images, r.img)
			if r.upscaled {
				d.Upscaled++
			}
		}
		next = end
	}
	slices.SortFunc(skipped, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
	d.Skipped = skipped
	if len(d.images) == 0 {
		return nil, fmt.Errorf("image folder %s has no usable images: %s", dir, summarizeSkips(skipped))
	}
	return d, nil
}

// summarizeSkips describes up to three skipped files in one line.
func summarizeSkips(s []Skipped) string {
	const show = 3
	parts := make([]string, 0, show)
	for _, sk := range s[:min(len(s), show)] {
		parts = append(parts, sk.String())
	}
	msg := fmt.Sprintf("%d file(s) skipped (%s", len(s), strings.Join(parts, "; "))
	if len(s) > show {
		msg += fmt.Sprintf("; and %d more", len(s)-show)
	}
	return msg + ")"
}

// findImageFiles walks dir and returns the image-extension files in it,
// sorted by path, plus those it could not consider.
func findImageFiles(ctx context.Context, dir string) ([]string, []Skipped, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("image folder: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("image folder %s is a file, not a folder", dir)
	}
	// WalkDir does not follow a symbolic link given as its root: resolve it,
	// and report paths under dir as given.
	root := dir
	if li, err := os.Lstat(dir); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		if root, err = filepath.EvalSymlinks(dir); err != nil {
			return nil, nil, fmt.Errorf("image folder %s: %w", dir, err)
		}
	}
	display := func(path string) string {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return path
		}
		return filepath.Join(dir, rel)
	}

	var files []string
	var skipped []Skipped
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if path == root {
				return err
			}
			skipped = append(skipped, Skipped{Path: display(path), Reason: oneLine("cannot read: " + err.Error())})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if path == root {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(path)
			switch {
			case err != nil:
				if HasImageExt(name) {
					skipped = append(skipped, Skipped{Path: display(path), Reason: oneLine("broken symbolic link: " + err.Error())})
				}
			case st.IsDir():
				skipped = append(skipped, Skipped{Path: display(path), Reason: "symbolic link to a folder: not followed"})
			case HasImageExt(name):
				files = append(files, display(path))
			}
			return nil
		}
		if !HasImageExt(name) {
			return nil
		}
		if !d.Type().IsRegular() {
			skipped = append(skipped, Skipped{Path: display(path), Reason: "not a regular file"})
			return nil
		}
		files = append(files, display(path))
		return nil
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, nil, fmt.Errorf("load %s: %w", dir, cerr)
		}
		return nil, nil, fmt.Errorf("image folder %s: %w", dir, err)
	}
	slices.Sort(files)
	return files, skipped, nil
}

// HasImageExt reports whether name ends in an extension of an image format
// LoadFolder reads (JPEG, PNG, GIF, BMP, TIFF, WebP; any case).
func HasImageExt(name string) bool {
	return slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(name)))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// loadResult is one file's outcome: an image, or a reason it was skipped.
type loadResult struct {
	img      rgbImage
	upscaled bool
	reason   string
}

// loadFiles decodes and prepares files with opts.Workers goroutines. Files
// not reached because ctx was cancelled get a reason; the caller checks ctx.
func loadFiles(ctx context.Context, files []string, opts LoadOptions, bg [3]uint8) []loadResult {
	results := make([]loadResult, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() != nil {
					results[i].reason = "cancelled"
					continue
				}
				img, up, err := loadFile(files[i], opts, bg)
				if err != nil {
					results[i].reason = oneLine(err.Error())
					continue
				}
				results[i].img, results[i].upscaled = img, up
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return results
}

// loadFile decodes one file and prepares it for the dataset, reporting
// whether it had to be enlarged. Its errors are skip reasons: they do not
// repeat the path.
func loadFile(path string, opts LoadOptions, bg [3]uint8) (rgbImage, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return rgbImage{}, false, fmt.Errorf("cannot open: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		return rgbImage{}, false, errors.New("empty file (0 bytes)")
	}
	img, err := decodeImage(f, opts.MaxPixels)
	if err != nil {
		return rgbImage{}, false, err
	}
	im, up := prepare(img, opts.Height, opts.Width, bg, opts.Crop == RandomCrop)
	return im, up, nil
}

// DecodeFile decodes the image in the file at path with [DecodeImage].
// maxPixels <= 0 means DefaultMaxPixels.
func DecodeFile(path string, maxPixels int64) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := DecodeImage(f, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// DecodeImage decodes a JPEG, PNG, GIF (first frame), BMP, TIFF or WebP image
// from r, applying JPEG EXIF orientation. It reads the header first and
// refuses images claiming more than maxPixels pixels (<= 0 means
// DefaultMaxPixels) before decoding them. A decoder panic is returned as an
// error.
func DecodeImage(r io.ReadSeeker, maxPixels int64) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	return decodeImage(r, maxPixels)
}

func decodeImage(r io.ReadSeeker, maxPixels int64) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("image decoder failed: %v", p)
		}
	}()
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("not a %s image", formatList)
		}
		return nil, fmt.Errorf("unreadable image header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s header claims an empty %dx%d image", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, fmt.Errorf("%s header claims %dx%d = %d pixels, above the limit of %d", format, cfg.Width, cfg.Height, px, maxPixels)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind: %w", err)
	}
	img, err = imaging.Decode(r, imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("invalid %s data: %w", format, err)
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("%s image has no pixels", format)
	}
	return img, nil
}

// opaqueRGB returns c's 8-bit non-premultiplied RGB, ignoring its alpha.
func opaqueRGB(c color.Color) [3]uint8 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// prepare scales img to cover h x w and, unless keepAll, cuts the centred
// h x w window; the result is composited onto bg. It reports whether the
// image had to be enlarged.
func prepare(img image.Image, h, w int, bg [3]uint8, keepAll bool) (rgbImage, bool) {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	var src image.Image = img
	var nw, nh int
	if keepAll {
		scale := math.Max(float64(w)/float64(sw), float64(h)/float64(sh))
		nw = max(w, int(math.Round(float64(sw)*scale)))
		nh = max(h, int(math.Round(float64(sh)*scale)))
	} else {
		// Cut the centred region with the target's aspect ratio first, so
		// large images are not resampled where they will be cropped away.
		cw, ch := sw, sh
		if int64(sw)*int64(h) > int64(sh)*int64(w) {
			cw = max(1, int(math.Round(float64(sh)*float64(w)/float64(h))))
		} else {
			ch = max(1, int(math.Round(float64(sw)*float64(h)/float64(w))))
		}
		if cw != sw || ch != sh {
			x0, y0 := b.Min.X+(sw-cw)/2, b.Min.Y+(sh-ch)/2
			src = imaging.Crop(img, image.Rect(x0, y0, x0+cw, y0+ch))
		}
		sw, sh, nw, nh = cw, ch, w, h
	}
	var n *image.NRGBA
	upscaled := nw > sw || nh > sh
	switch {
	case nw == sw && nh == sh:
		n = imaging.Clone(src)
	case nw < sw:
		n = imaging.Resize(src, nw, nh, imaging.Lanczos)
	default:
		n = imaging.Resize(src, nw, nh, imaging.Linear)
	}
	out := rgbImage{h: nh, w: nw, pix: make([]uint8, nh*nw*3)}
	for y := 0; y < nh; y++ {
		row := n.Pix[y*n.Stride:][:nw*4]
		dst := out.pix[y*nw*3:][:nw*3]
		for x := 0; x < nw; x++ {
			p := row[x*4:][:4]
			a := uint32(p[3])
			for c := 0; c < 3; c++ {
				dst[x*3+c] = uint8((uint32(p[c])*a + uint32(bg[c])*(255-a) + 127) / 255)
			}
		}
	}
	return out, upscaled
}

// FromImage scales img to cover h x w, cuts the centred h x w window,
// composites transparency onto background (nil means white; its alpha is
// ignored) and writes it into dst ([h, w, 3] float32 HWC, values in [-1, 1]),
// exactly as LoadFolder prepares a CenterCrop image.
func FromImage(img image.Image, h, w int, background color.Color, dst []float32) error {
	if img == nil || img.Bounds().Empty() {
		return errors.New("from image: empty image")
	}
	if h < 1 || w < 1 || h > maxSide || w > maxSide {
		return fmt.Errorf("from image: size %dx%d must be between 1 and %d on each side", h, w, maxSide)
	}
	if len(dst) < h*w*3 {
		return fmt.Errorf("from image: destination has %d floats, need %d (%dx%dx3)", len(dst), h*w*3, h, w)
	}
	if background == nil {
		background = color.White
	}
	im, _ := prepare(img, h, w, opaqueRGB(background), false)
	for i, p := range im.pix {
		dst[i] = toUnit(p)
	}
	return nil
}

// ToImage converts hwc ([h, w, 3] float32 HWC, values in [-1, 1]) to an
// opaque 8-bit image: v maps to round((v+1)/2*255), clamped to [0, 255];
// NaN maps to 0. It returns an error if h or w is not positive or hwc is
// shorter than h*w*3.
func ToImage(hwc []float32, h, w int) (*image.NRGBA, error) {
	if h < 1 || w < 1 || h > maxSide || w > maxSide {
		return nil, fmt.Errorf("to image: size %dx%d must be between 1 and %d on each side", h, w, maxSide)
	}
	if len(hwc) < h*w*3 {
		return nil, fmt.Errorf("to image: %d floats, need %d (%dx%dx3)", len(hwc), h*w*3, h, w)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			src := hwc[(y*w+x)*3:][:3]
			dst := img.Pix[y*img.Stride+x*4:][:4]
			for c, v := range src {
				dst[c] = toByte(v)
			}
			dst[3] = 255
		}
	}
	return img, nil
}

// toByte maps [-1, 1] to [0, 255], rounding and clamping; NaN gives 0.
func toByte(v float32) uint8 {
	f := (float64(v) + 1) * 127.5
	switch {
	case !(f > 0): // also NaN
		return 0
	case f >= 255:
		return 255
	}
	return uint8(math.Round(f))
}
