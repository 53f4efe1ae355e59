package host

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"

	"github.com/fm-image/fm-image/sdk"
)

func joinDir(file, name string) string { return filepath.Join(filepath.Dir(file), name) }

// samplePath is the file an image is written to inside outDir.
func samplePath(outDir string, index int) string {
	return filepath.Join(outDir, fmt.Sprintf("sample-%04d.png", index))
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so that readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// gridGap is the number of pixels between grid cells.
const gridGap = 2

// minGridCell is the smallest cell size of a grid: smaller images are
// enlarged by an integer factor (nearest neighbour, so pixels stay sharp).
const minGridCell = 64

// upscale returns the integer factor that makes images of size s at least
// minGridCell pixels.
func upscale(s int) int { return max(1, minGridCell/max(s, 1)) }

// enlarge draws src scaled by an integer factor (nearest neighbour) into dst at (x0, y0).
func enlarge(dst draw.Image, src image.Image, x0, y0, scale int) {
	b := src.Bounds()
	if scale == 1 {
		draw.Draw(dst, image.Rect(x0, y0, x0+b.Dx(), y0+b.Dy()), src, b.Min, draw.Src)
		return
	}
	for y := range b.Dy() * scale {
		for x := range b.Dx() * scale {
			dst.Set(x0+x, y0+y, src.At(b.Min.X+x/scale, b.Min.Y+y/scale))
		}
	}
}

// makeGrid lays the images out in a near-square grid on a white background,
// enlarging images smaller than minGridCell, and returns it as PNG.
func makeGrid(images []sdk.Image) ([]byte, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("make grid: no images")
	}
	decoded := make([]image.Image, len(images))
	cw, ch := 0, 0
	for i, img := range images {
		m, err := png.Decode(bytes.NewReader(img.PNG))
		if err != nil {
			return nil, fmt.Errorf("make grid: decode image %d: %w", img.Index, err)
		}
		decoded[i] = m
		cw, ch = max(cw, m.Bounds().Dx()), max(ch, m.Bounds().Dy())
	}
	scale := upscale(max(cw, ch))
	cw, ch = cw*scale, ch*scale
	cols := int(math.Ceil(math.Sqrt(float64(len(images)))))
	rows := (len(images) + cols - 1) / cols
	grid := image.NewNRGBA(image.Rect(0, 0, cols*cw+(cols+1)*gridGap, rows*ch+(rows+1)*gridGap))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, m := range decoded {
		x := gridGap + (i%cols)*(cw+gridGap)
		y := gridGap + (i/cols)*(ch+gridGap)
		enlarge(grid, m, x, y, scale)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, grid); err != nil {
		return nil, fmt.Errorf("make grid: encode: %w", err)
	}
	return buf.Bytes(), nil
}
