package host

import (
	"fmt"
	"image"
	"path/filepath"

	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/internal/atomicfile"
	"github.com/fm-image/fm-image/sdk"
)

func joinDir(file, name string) string { return filepath.Join(filepath.Dir(file), name) }

// samplePath is the file an image is written to inside outDir.
func samplePath(outDir string, index int) string {
	return filepath.Join(outDir, fmt.Sprintf("sample-%04d.png", index))
}

// writeFile writes data to path atomically: readers never see a partial file.
func writeFile(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// decodeImages decodes the PNGs of generated images.
func decodeImages(images []sdk.Image) ([]image.Image, error) {
	encoded := make([][]byte, len(images))
	for i, img := range images {
		encoded[i] = img.PNG
	}
	return imageset.DecodePNGs(encoded)
}

// makeGrid lays generated images out in a near-square grid (imageset.Grid)
// and returns it as PNG.
func makeGrid(images []sdk.Image) ([]byte, error) {
	decoded, err := decodeImages(images)
	if err != nil {
		return nil, fmt.Errorf("make grid: %w", err)
	}
	grid, err := imageset.Grid(decoded)
	if err != nil {
		return nil, fmt.Errorf("make grid: %w", err)
	}
	return imageset.EncodePNG(grid)
}
