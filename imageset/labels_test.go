package imageset_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/imageset"
)

// writeTwoClasses writes n red discs under red/ and n blue squares under
// blue/ (8x8, white background, varying position), plus one unlabelled file.
func writeTwoClasses(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	for _, class := range []string{"red", "blue"} {
		dir := filepath.Join(root, class)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
			cx, cy := 3+i%2, 3+(i/2)%2
			for y := range 8 {
				for x := range 8 {
					c := color.NRGBA{255, 255, 255, 255}
					dx, dy := x-cx, y-cy
					if class == "red" && dx*dx+dy*dy <= 5 {
						c = color.NRGBA{220, 20, 20, 255}
					}
					if class == "blue" && dx >= -2 && dx <= 2 && dy >= -2 && dy <= 2 {
						c = color.NRGBA{20, 20, 220, 255}
					}
					img.SetNRGBA(x, y, c)
				}
			}
			f, err := os.Create(filepath.Join(dir, class+string(rune('a'+i))+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	// An image directly in the root belongs to no class.
	if err := os.WriteFile(filepath.Join(root, "stray.png"), mustPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func mustPNG(t *testing.T) []byte {
	t.Helper()
	var sb strings.Builder
	if err := png.Encode(&sb, image.NewNRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return []byte(sb.String())
}

// classify says whether an 8x8 image in [-1, 1] is mostly red (0) or blue (1).
func classify(img []float32) int {
	var red, blue float64
	for i := 0; i < len(img); i += 3 {
		red += float64(img[i])
		blue += float64(img[i+2])
	}
	if red > blue {
		return 0
	}
	return 1
}

func TestLabelByFolder(t *testing.T) {
	root := writeTwoClasses(t, 3)
	data, err := imageset.LoadFolder(context.Background(), root, imageset.LoadOptions{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	labelled, skipped, err := imageset.LabelByFolder(data, root)
	if err != nil {
		t.Fatal(err)
	}
	if labelled.Len() != 6 || len(skipped) != 1 || !strings.HasSuffix(skipped[0].Path, "stray.png") {
		t.Fatalf("labelled %d images, skipped %v; want 6 and stray.png", labelled.Len(), skipped)
	}
	if strings.Join(labelled.Classes, ",") != "blue,red" {
		t.Errorf("classes %v, want [blue red]", labelled.Classes)
	}
	img := make([]float32, 8*8*3)
	for i := range labelled.Len() {
		if err := labelled.Image(i, img); err != nil {
			t.Fatal(err)
		}
		// classify returns 0 for red, 1 for blue; class indices are blue=0, red=1.
		if got := 1 - classify(img); got != labelled.Labels[i] {
			t.Errorf("image %s labelled %d, looks like %d", labelled.Files[i], labelled.Labels[i], got)
		}
	}
	train, hold, err := labelled.Split(0.5, 1)
	if err != nil || len(train.Labels) != train.Len() || len(hold.Labels) != hold.Len() || len(train.Classes) != 2 {
		t.Errorf("split lost the labels: %v", err)
	}
	if _, _, err := imageset.LabelByFolder(data, filepath.Join(root, "red")); err == nil {
		t.Error("labelling with a single class succeeded")
	}
	if _, err := imageset.ClassIndex(labelled.Classes, "green"); err == nil || !strings.Contains(err.Error(), "blue, red") {
		t.Errorf("ClassIndex(green) error = %v, want one listing the classes", err)
	}
}
