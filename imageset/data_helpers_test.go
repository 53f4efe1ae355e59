package imageset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// solid returns a w x h opaque image of one colour.
func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// columns returns a w x h image whose column x has grey level levels[x].
func columns(levels []uint8, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, len(levels), h))
	for y := 0; y < h; y++ {
		for x, l := range levels {
			img.SetNRGBA(x, y, color.NRGBA{l, l, l, 255})
		}
	}
	return img
}

// encode returns img encoded in the named format.
func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	case "bmp":
		err = bmp.Encode(&buf, img)
	case "tiff":
		err = tiff.Encode(&buf, img, nil)
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return buf.Bytes()
}

// writeFile writes data to dir/name, creating parent folders.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFixture returns a file from testdata.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withOrientation inserts an EXIF APP1 segment carrying the given
// orientation tag right after a JPEG's SOI marker.
func withOrientation(jpg []byte, orientation uint16) []byte {
	var tiffHdr bytes.Buffer
	tiffHdr.WriteString("MM\x00\x2a")                       // big-endian TIFF
	binary.Write(&tiffHdr, binary.BigEndian, uint32(8))     // IFD0 offset
	binary.Write(&tiffHdr, binary.BigEndian, uint16(1))     // one entry
	binary.Write(&tiffHdr, binary.BigEndian, uint16(0x112)) // Orientation
	binary.Write(&tiffHdr, binary.BigEndian, uint16(3))     // SHORT
	binary.Write(&tiffHdr, binary.BigEndian, uint32(1))     // count
	binary.Write(&tiffHdr, binary.BigEndian, orientation)   // value, padded
	binary.Write(&tiffHdr, binary.BigEndian, uint16(0))
	binary.Write(&tiffHdr, binary.BigEndian, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiffHdr.Bytes()...)

	var out bytes.Buffer
	out.Write(jpg[:2]) // SOI
	out.Write([]byte{0xff, 0xe1})
	binary.Write(&out, binary.BigEndian, uint16(len(payload)+2))
	out.Write(payload)
	out.Write(jpg[2:])
	return out.Bytes()
}

// pngChunk returns a PNG chunk with a correct CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// hugePNG returns a PNG whose valid IHDR claims w x h RGB pixels, followed by
// a garbage IDAT: decoding it for real would need w*h*3 bytes.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	b.Write(pngChunk("IHDR", ihdr))
	b.Write(pngChunk("IDAT", []byte("definitely not zlib data")))
	return b.Bytes()
}

// pixel returns the RGB floats at (y, x) of an HWC tensor of width w.
func pixel(hwc []float32, w, y, x int) [3]float32 {
	i := (y*w + x) * 3
	return [3]float32{hwc[i], hwc[i+1], hwc[i+2]}
}

// unit returns the [-1, 1] value of an 8-bit level.
func unit(l uint8) float32 { return float32(int(l)*2-255) / 255 }

// near reports whether every channel of got is within tol of want.
func near(got, want [3]float32, tol float64) bool {
	for c := range got {
		if math.Abs(float64(got[c]-want[c])) > tol {
			return false
		}
	}
	return true
}
