package imageset

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// LabelByFolder returns a labelled copy of d whose class names are the
// sub-folders of root (the folder d was loaded from): each image is labelled
// by the first folder of its path below root. Images directly in root belong
// to no class; they are left out and reported as skipped. It is an error if
// fewer than two classes remain.
func LabelByFolder(d *Dataset, root string) (*Dataset, []Skipped, error) {
	if d == nil {
		return nil, nil, errors.New("label by folder: nil dataset")
	}
	var (
		keep    []int
		names   []string
		skipped []Skipped
	)
	for i, f := range d.Files {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			skipped = append(skipped, Skipped{Path: f, Reason: "not inside " + root})
			continue
		}
		first, _, nested := strings.Cut(filepath.ToSlash(rel), "/")
		if !nested {
			skipped = append(skipped, Skipped{Path: f, Reason: "not inside a label folder (with labels, each sub-folder of the data folder is a class)"})
			continue
		}
		keep = append(keep, i)
		names = append(names, first)
	}
	classes := slices.Clone(names)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return nil, skipped, fmt.Errorf("labels need at least two sub-folders of images in %s (found %d: %s)", root, len(classes), strings.Join(classes, ", "))
	}
	out, err := d.Subset(keep)
	if err != nil {
		return nil, nil, err
	}
	out.Skipped = append(slices.Clone(d.Skipped), skipped...)
	out.Upscaled = d.Upscaled
	out.Classes = classes
	out.Labels = make([]int, len(keep))
	for j, name := range names {
		out.Labels[j], _ = slices.BinarySearch(classes, name)
	}
	return out, skipped, nil
}

// ClassIndex returns the index of a class name in classes, or an error that
// lists the valid names.
func ClassIndex(classes []string, name string) (int, error) {
	if i := slices.Index(classes, name); i >= 0 {
		return i, nil
	}
	if len(classes) == 0 {
		return 0, fmt.Errorf("label %q: the model has no labels (it was trained without --labels)", name)
	}
	return 0, fmt.Errorf("unknown label %q: the model knows %s", name, strings.Join(classes, ", "))
}
