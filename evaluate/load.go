package evaluate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fm-image/fm-image/imageset"
	"github.com/fm-image/fm-image/quality"
	"github.com/fm-image/fm-image/sdk"
)

// invalidRef is a problem with the reference images.
func invalidRef(format string, args ...any) error {
	return &sdk.ValidationError{Field: "ref", Problem: fmt.Sprintf(format, args...)}
}

// loadReference loads the reference images at the model's size: the folder
// or list file ref names, else the model's hold-out. It returns them with
// their file paths and a name for the reference.
func loadReference(ctx context.Context, ref string, info sdk.ModelInfo) (quality.Set, []string, string, error) {
	h, w := info.Height, info.Width
	if ref == "" {
		if len(info.HoldoutFiles) == 0 {
			return quality.Set{}, nil, "", invalidRef("none given and the model %s held no images out of training: train with a hold-out, or name a reference folder", info.ModelDir)
		}
		s, err := loadFiles(ctx, info.HoldoutFiles, HoldoutReference, h, w)
		return s, info.HoldoutFiles, HoldoutReference, err
	}
	st, err := os.Stat(ref)
	if err != nil {
		return quality.Set{}, nil, "", invalidRef("%s: cannot read it (%v)", ref, err)
	}
	if !st.IsDir() {
		files, err := readList(ref)
		if err != nil {
			return quality.Set{}, nil, "", invalidRef("%s: %v", ref, err)
		}
		s, err := loadFiles(ctx, files, ref, h, w)
		return s, files, ref, err
	}
	data, err := imageset.LoadFolder(ctx, ref, imageset.LoadOptions{Height: h, Width: w})
	if err != nil {
		if ctx.Err() != nil {
			return quality.Set{}, nil, "", err
		}
		return quality.Set{}, nil, "", invalidRef("folder %s: %v", ref, err)
	}
	s, err := datasetSet(data)
	return s, data.Files, ref, err
}

// loadFiles loads the listed images at h x w; list names them in errors.
func loadFiles(ctx context.Context, files []string, list string, h, w int) (quality.Set, error) {
	s := quality.Set{Height: h, Width: w}
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return quality.Set{}, fmt.Errorf("evaluate: load reference images: %w", err)
		}
		img, err := imageset.DecodeFile(f, 0)
		if err != nil {
			return quality.Set{}, invalidRef("%s: entry %d (%s): %v", list, i+1, f, err)
		}
		dst := make([]float32, h*w*3)
		if err := imageset.FromImage(img, h, w, nil, dst); err != nil {
			return quality.Set{}, invalidRef("%s: entry %d (%s): %v", list, i+1, f, err)
		}
		s.Images = append(s.Images, dst)
	}
	return s, nil
}

// readList reads a file of paths, one per line; blank lines and lines
// starting with # are skipped.
func readList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read list: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("the list names no image files")
	}
	return out, nil
}

// datasetSet copies every image of d into a quality.Set.
func datasetSet(d *imageset.Dataset) (quality.Set, error) {
	s := quality.Set{Height: d.Height, Width: d.Width, Images: make([][]float32, d.Len())}
	for i := range s.Images {
		s.Images[i] = make([]float32, d.Height*d.Width*3)
		if err := d.Image(i, s.Images[i]); err != nil {
			return s, fmt.Errorf("copy image %s: %w", d.Files[i], err)
		}
	}
	return s, nil
}

// trainingSet is the training set of the nearest-neighbour check and where
// it came from.
type trainingSet struct {
	set    quality.Set
	source string
}

// loadTraining loads the training set of the nearest-neighbour check: the
// images of dir, else of the model's data folder, except the reference files.
func loadTraining(ctx context.Context, dir string, info sdk.ModelInfo, refFiles []string, h, w int) (*trainingSet, error) {
	if dir == "" {
		if info.DataDir == "" {
			return nil, errors.New("the model names no training folder (name one)")
		}
		dir = info.DataDir
	}
	exclude := map[string]bool{}
	for _, f := range refFiles {
		exclude[filepath.Clean(f)] = true
	}
	data, err := imageset.LoadFolder(ctx, dir, imageset.LoadOptions{Height: h, Width: w})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("training data %s: %w (name the training folder)", dir, err)
		}
		return nil, fmt.Errorf("load training images: %w", err)
	}
	var keep []int
	excluded := 0
	for i, f := range data.Files {
		if exclude[filepath.Clean(f)] {
			excluded++
		} else {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("every image of %s is a reference image", dir)
	}
	if data, err = data.Subset(keep); err != nil {
		return nil, fmt.Errorf("select training images: %w", err)
	}
	s, err := datasetSet(data)
	if err != nil {
		return nil, err
	}
	src := dir
	if excluded > 0 {
		src = fmt.Sprintf("%s minus %d reference files", dir, excluded)
	}
	return &trainingSet{set: s, source: src}, nil
}
