package imageset

import (
	"context"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

// writeClasses writes n solid red images under red/ and n solid blue ones
// under blue/, plus one image directly in the root, which has no class.
func writeClasses(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	colours := map[string]color.NRGBA{"red": {220, 20, 20, 255}, "blue": {20, 20, 220, 255}}
	for class, c := range colours {
		for i := range n {
			writeFile(t, root, filepath.Join(class, class+string(rune('a'+i))+".png"), encode(t, "png", solid(8, 8, c)))
		}
	}
	writeFile(t, root, "stray.png", encode(t, "png", solid(8, 8, color.NRGBA{A: 255})))
	return root
}

func TestLabelByFolder(t *testing.T) {
	root := writeClasses(t, 3)
	data, err := LoadFolder(context.Background(), root, LoadOptions{Height: 8, Width: 8})
	if err != nil {
		t.Fatal(err)
	}
	labelled, skipped, err := LabelByFolder(data, root)
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
		want := 0 // blue
		if img[0] > img[2] {
			want = 1 // red
		}
		if labelled.Labels[i] != want {
			t.Errorf("image %s labelled %d, looks like %d", labelled.Files[i], labelled.Labels[i], want)
		}
	}
	train, hold, err := labelled.Split(0.5, 1)
	if err != nil || len(train.Labels) != train.Len() || len(hold.Labels) != hold.Len() || len(train.Classes) != 2 {
		t.Errorf("split lost the labels: %v", err)
	}
	if _, _, err := LabelByFolder(data, filepath.Join(root, "red")); err == nil {
		t.Error("labelling with a single class succeeded")
	}
	if _, err := ClassIndex(labelled.Classes, "green"); err == nil || !strings.Contains(err.Error(), "blue, red") {
		t.Errorf("ClassIndex(green) error = %v, want one listing the classes", err)
	}
}
