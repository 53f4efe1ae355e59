package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/unet"
)

// MetaFile is the name of the model description inside a model directory.
const MetaFile = "model.json"

// HoldoutFile lists, one path per line, the images that a training run with
// a hold-out fraction kept out of training.
const HoldoutFile = "holdout.txt"

// metaFormat and metaVersion identify model.json files this engine reads.
const (
	metaFormat  = "fm-image-model"
	metaVersion = 1
)

// modelMeta is the content of model.json.
type modelMeta struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Arch    string      `json:"arch"`
	DataDir string      `json:"data_dir"`
	UNet    unet.Config `json:"unet"`
}

// readModelMeta reads and checks a model directory's model.json.
func readModelMeta(modelDir string) (modelMeta, error) {
	fi, err := os.Stat(modelDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return modelMeta{}, fmt.Errorf("model directory %s does not exist: %w", modelDir, sdk.ErrNotFound)
		}
		return modelMeta{}, fmt.Errorf("model directory %s: %w", modelDir, err)
	}
	if !fi.IsDir() {
		return modelMeta{}, fmt.Errorf("model directory %s is a file, not a directory: %w", modelDir, sdk.ErrInvalidRequest)
	}
	path := filepath.Join(modelDir, MetaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return modelMeta{}, fmt.Errorf("%s is not an fm-image model directory (no %s): %w", modelDir, MetaFile, sdk.ErrNotFound)
	}
	if err != nil {
		return modelMeta{}, fmt.Errorf("read %s: %w", path, err)
	}
	var raw struct {
		Format  string          `json:"format"`
		Version int             `json:"version"`
		Arch    string          `json:"arch"`
		DataDir string          `json:"data_dir"`
		UNet    json.RawMessage `json:"unet"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return modelMeta{}, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	if raw.Format != metaFormat {
		return modelMeta{}, fmt.Errorf("%s is not an fm-image model description (format %q)", path, raw.Format)
	}
	if raw.Version != metaVersion {
		return modelMeta{}, fmt.Errorf("%s has version %d; this fm-image reads version %d: the model comes from an incompatible version", path, raw.Version, metaVersion)
	}
	cfg, err := unet.ParseConfig(raw.UNet)
	if err != nil {
		return modelMeta{}, fmt.Errorf("%s: %w", path, err)
	}
	return modelMeta{Format: raw.Format, Version: raw.Version, Arch: raw.Arch, DataDir: raw.DataDir, UNet: cfg}, nil
}

// writeModelMeta writes model.json atomically (temporary file, sync, rename).
func writeModelMeta(modelDir string, meta modelMeta) error {
	meta.Format, meta.Version = metaFormat, metaVersion
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", MetaFile, err)
	}
	return writeFileAtomic(filepath.Join(modelDir, MetaFile), append(data, '\n'))
}

// writeFileAtomic writes data to path through a synced temporary file in the
// same directory and a rename, so readers see the old or the new file, never
// a half-written one.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}
