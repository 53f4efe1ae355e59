package imageset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
)

// GridGap is the number of white pixels between the cells of a grid.
const GridGap = 2

// MinCell is the smallest cell of a grid, strip or GIF: smaller images are
// enlarged by a whole factor (nearest neighbour, so pixels stay sharp) to at
// least this many pixels on their longer side.
const MinCell = 64

// upscale returns the whole factor that brings images of side s to at least
// MinCell pixels.
func upscale(s int) int { return max(1, MinCell/max(s, 1)) }

// enlarge draws src scaled by a whole factor (nearest neighbour) into dst at (x0, y0).
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

// Grid lays images out in a near-square grid (ceil(sqrt(n)) columns, in
// reading order) on a white background with GridGap pixels around every
// cell; cells are as large as the largest image, enlarged to MinCell.
func Grid(images []image.Image) (*image.NRGBA, error) {
	if len(images) == 0 {
		return nil, errors.New("grid: no images")
	}
	cw, ch := 0, 0
	for _, m := range images {
		cw, ch = max(cw, m.Bounds().Dx()), max(ch, m.Bounds().Dy())
	}
	scale := upscale(max(cw, ch))
	cw, ch = cw*scale, ch*scale
	cols := int(math.Ceil(math.Sqrt(float64(len(images)))))
	rows := (len(images) + cols - 1) / cols
	grid := image.NewNRGBA(image.Rect(0, 0, cols*cw+(cols+1)*GridGap, rows*ch+(rows+1)*GridGap))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, m := range images {
		x := GridGap + (i%cols)*(cw+GridGap)
		y := GridGap + (i/cols)*(ch+GridGap)
		enlarge(grid, m, x, y, scale)
	}
	return grid, nil
}

// Strip lays frames (all of the first frame's size) side by side, enlarged
// as in Grid, without gaps.
func Strip(frames []image.Image) (*image.NRGBA, error) {
	if len(frames) == 0 {
		return nil, errors.New("strip: no frames")
	}
	b := frames[0].Bounds()
	s := upscale(max(b.Dx(), b.Dy()))
	w, h := b.Dx()*s, b.Dy()*s
	strip := image.NewNRGBA(image.Rect(0, 0, len(frames)*w, h))
	for i, f := range frames {
		enlarge(strip, f, i*w, 0, s)
	}
	return strip, nil
}

// AnimatedGIF encodes frames as a GIF that plays forth and back, enlarged as
// in Grid, on the 216-colour web palette with Floyd-Steinberg dithering,
// 0.12 s a frame.
func AnimatedGIF(frames []image.Image) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("animated GIF: no frames")
	}
	b := frames[0].Bounds()
	s := upscale(max(b.Dx(), b.Dy()))
	order := make([]int, 0, 2*len(frames))
	for i := range frames {
		order = append(order, i)
	}
	for i := len(frames) - 2; i > 0; i-- {
		order = append(order, i)
	}
	anim := &gif.GIF{}
	for _, i := range order {
		big := image.NewNRGBA(image.Rect(0, 0, b.Dx()*s, b.Dy()*s))
		enlarge(big, frames[i], 0, 0, s)
		p := image.NewPaletted(big.Bounds(), palette.WebSafe)
		draw.FloydSteinberg.Draw(p, p.Bounds(), big, image.Point{})
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, 12)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, fmt.Errorf("encode GIF: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodePNG encodes img as PNG with the default compression.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// TensorPNG encodes one image tensor ([h, w, 3], values in [-1, 1]) as PNG,
// through ToImage.
func TensorPNG(hwc []float32, h, w int) ([]byte, error) {
	img, err := ToImage(hwc, h, w)
	if err != nil {
		return nil, err
	}
	return EncodePNG(img)
}

// DecodePNGs decodes PNG images, such as a generator's output.
func DecodePNGs(encoded [][]byte) ([]image.Image, error) {
	out := make([]image.Image, len(encoded))
	for i, data := range encoded {
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decode image %d: %w", i, err)
		}
		out[i] = img
	}
	return out, nil
}

// DecodeTensor decodes an encoded image and fits it to h x w as FromImage
// does on white: an [h, w, 3] tensor in [-1, 1].
func DecodeTensor(data []byte, h, w int) ([]float32, error) {
	img, err := DecodeImage(bytes.NewReader(data), DefaultMaxPixels)
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	out := make([]float32, h*w*3)
	if err := FromImage(img, h, w, color.White, out); err != nil {
		return nil, fmt.Errorf("fit image to %dx%d: %w", w, h, err)
	}
	return out, nil
}
