// Package modeldir owns the layout of an fm-image model directory, the
// folder a training run creates and every later call reads:
//
//	model.json            what the model is (MetaFile): preset, U-Net
//	                      configuration, training folder; written when
//	                      training starts
//	train.txt             the images trained on (TrainFile), one path per
//	                      line, relative to the training folder
//	holdout.txt           the images kept out of training (HoldoutFile), in
//	                      the same form; only when training held some out
//	checkpoint.fmck       the newest checkpoint (CheckpointFile): weights, their
//	                      EMA, the optimiser state, the step
//	checkpoint.prev.fmck  the one before (PreviousCheckpointFile)
//	timegrids.json        few-step sampling time grids fitted to the newest
//	                      checkpoint at the end of training (TimeGridsFile);
//	                      only for a model trained with a few-step objective
//	train.lock            held locked by the process training the model
//	                      (LockFile), so that a model has one writer
//
// Every file is written atomically (package atomicfile), so a reader such as
// a Generate call during training sees a complete old or new file. Only the
// plugin reads and writes these files; hosts learn what they need through
// the sdk (sdk.ModelInfo).
package modeldir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fm-image/fm-image/internal/atomicfile"
	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// File names inside a model directory.
const (
	// MetaFile describes the model (see Meta).
	MetaFile = "model.json"
	// TrainFile lists the images a training run trains on.
	TrainFile = "train.txt"
	// HoldoutFile lists the images a training run kept out of training.
	HoldoutFile = "holdout.txt"
	// LockFile is locked by the process that trains the model.
	LockFile = "train.lock"
	// CheckpointFile is the newest checkpoint.
	CheckpointFile = "checkpoint.fmck"
	// PreviousCheckpointFile is the checkpoint before the newest.
	PreviousCheckpointFile = "checkpoint.prev.fmck"
)

// metaFormat and metaVersion identify the model.json files this package reads.
const (
	metaFormat  = "fm-image-model"
	metaVersion = 1
)

// Meta is the content of MetaFile.
type Meta struct {
	// Arch is the preset the model was made from.
	Arch string
	// DataDir is the folder of training images, as the training request gave it.
	DataDir string
	// Holdout is the fraction of DataDir's images kept out of training.
	Holdout float64
	// UNet is the model's configuration.
	UNet unet.Config
}

// metaJSON is Meta as stored.
type metaJSON struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Arch    string          `json:"arch"`
	DataDir string          `json:"data_dir"`
	Holdout float64         `json:"holdout,omitempty"`
	UNet    json.RawMessage `json:"unet"`
}

// checkDir fails unless dir is an existing directory, wrapping sdk.ErrNotFound
// when it does not exist.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("model directory %s does not exist: %w", dir, sdk.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("model directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("model directory %s is a file, not a directory: %w", dir, sdk.ErrInvalidRequest)
	}
	return nil
}

// ReadMeta reads and checks a model directory's MetaFile. A directory that
// does not exist or holds no MetaFile is an error wrapping sdk.ErrNotFound.
func ReadMeta(dir string) (Meta, error) {
	if err := checkDir(dir); err != nil {
		return Meta{}, err
	}
	path := filepath.Join(dir, MetaFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Meta{}, fmt.Errorf("%s is not an fm-image model directory (no %s): %w", dir, MetaFile, sdk.ErrNotFound)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("read %s: %w", path, err)
	}
	var raw metaJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Meta{}, fmt.Errorf("%s is corrupt: %w", path, err)
	}
	if raw.Format != metaFormat {
		return Meta{}, fmt.Errorf("%s is not an fm-image model description (format %q)", path, raw.Format)
	}
	if raw.Version != metaVersion {
		return Meta{}, fmt.Errorf("%s has version %d; this fm-image reads version %d: the model comes from an incompatible version", path, raw.Version, metaVersion)
	}
	cfg, err := unet.ParseConfig(raw.UNet)
	if err != nil {
		return Meta{}, fmt.Errorf("%s: %w", path, err)
	}
	return Meta{Arch: raw.Arch, DataDir: raw.DataDir, Holdout: raw.Holdout, UNet: cfg}, nil
}

// WriteMeta writes dir's MetaFile.
func WriteMeta(dir string, meta Meta) error {
	cfg, err := json.Marshal(meta.UNet)
	if err != nil {
		return fmt.Errorf("encode %s: %w", MetaFile, err)
	}
	data, err := json.MarshalIndent(metaJSON{Format: metaFormat, Version: metaVersion, Arch: meta.Arch, DataDir: meta.DataDir, Holdout: meta.Holdout, UNet: cfg}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", MetaFile, err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, MetaFile), append(data, '\n'))
}

// listHeader starts the image lists this package writes: their paths are
// relative to the training folder. Lists without it (written by earlier
// versions) hold the paths as found, the training folder included.
const listHeader = "# fm-image image list: paths relative to the training folder"

// WriteImageLists writes dir's TrainFile and, if holdout is not empty, its
// HoldoutFile: the images of dataDir trained on and kept out, as found there
// (dataDir joined to their paths).
func WriteImageLists(dir, dataDir string, train, holdout []string) error {
	if err := writeList(filepath.Join(dir, TrainFile), dataDir, train); err != nil {
		return err
	}
	if len(holdout) == 0 {
		return nil
	}
	return writeList(filepath.Join(dir, HoldoutFile), dataDir, holdout)
}

func writeList(path, dataDir string, files []string) error {
	var b strings.Builder
	b.WriteString(listHeader + "\n")
	for _, f := range files {
		rel, err := filepath.Rel(dataDir, f)
		if err != nil || !filepath.IsLocal(rel) {
			return fmt.Errorf("write %s: image %s is not inside the training folder %s", path, f, dataDir)
		}
		b.WriteString(filepath.ToSlash(rel) + "\n")
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}

// ReadTrainList returns the images listed in dir's TrainFile, relative to
// the training folder dataDir, or nil if the model has no such list (it was
// made by an earlier version).
func ReadTrainList(dir, dataDir string) ([]string, error) {
	return readList(filepath.Join(dir, TrainFile), dataDir)
}

// ReadHoldout returns the images listed in dir's HoldoutFile, relative to
// the training folder dataDir, or nil if the model has no hold-out.
func ReadHoldout(dir, dataDir string) ([]string, error) {
	return readList(filepath.Join(dir, HoldoutFile), dataDir)
}

// readList reads an image list (blank lines and comments skipped) as paths
// relative to dataDir, in the host's separator.
func readList(path, dataDir string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	relative := strings.HasPrefix(string(data), listHeader+"\n")
	var files []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := filepath.FromSlash(line)
		if !relative {
			if rel, err := filepath.Rel(dataDir, f); err == nil && filepath.IsLocal(rel) {
				f = rel
			}
		}
		files = append(files, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return files, nil
}

// RefuseExisting fails with sdk.ErrAlreadyExists if dir exists and is not an
// empty directory: a new training run never overwrites a model.
func RefuseExisting(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("model directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("model directory %s exists as a file: %w", dir, sdk.ErrAlreadyExists)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("model directory %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("model directory %s already exists and is not empty (use resume to continue it, or choose another directory): %w", dir, sdk.ErrAlreadyExists)
	}
	return nil
}

// SaveCheckpoint writes c as dir's CheckpointFile atomically: the data goes
// to a temporary file in dir, which is synced, then the current checkpoint
// (if any) is renamed to PreviousCheckpointFile and the new file renamed into
// place. A failure at any point leaves the previous checkpoint intact (as
// CheckpointFile, or as PreviousCheckpointFile if the failure came between
// the two renames, which LoadCheckpoint falls back to). It returns the path
// written.
func SaveCheckpoint(dir string, c *training.Checkpoint) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create model directory %s: %w", dir, err)
	}
	final := filepath.Join(dir, CheckpointFile)
	f, err := atomicfile.Create(final)
	if err != nil {
		return "", fmt.Errorf("save checkpoint in %s: %w", dir, err)
	}
	defer f.Abort()
	fail := func(err error) (string, error) { return "", fmt.Errorf("save checkpoint %s: %w", final, err) }
	if err := c.Encode(f); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, filepath.Join(dir, PreviousCheckpointFile)); err != nil {
			return fail(err)
		}
	}
	if err := f.Commit(); err != nil {
		return fail(err)
	}
	return final, nil
}

// LoadCheckpoint reads the newest valid checkpoint of a model directory:
// CheckpointFile, or PreviousCheckpointFile when the former is missing (a
// save interrupted between its two renames) or damaged. Falling back from a
// damaged newest checkpoint comes with a warning that says so and how many
// steps it loses. A directory without a checkpoint is an error wrapping
// sdk.ErrNotFound; a damaged checkpoint without a good previous one is an
// error.
func LoadCheckpoint(dir string) (ck *training.Checkpoint, warning string, err error) {
	if err := checkDir(dir); err != nil {
		return nil, "", err
	}
	newest, prev := filepath.Join(dir, CheckpointFile), filepath.Join(dir, PreviousCheckpointFile)
	ck, damaged, err := readCheckpoint(newest)
	if err == nil || !errors.Is(err, os.ErrNotExist) && damaged == nil {
		return ck, "", err
	}
	older, _, perr := readCheckpoint(prev)
	switch {
	case damaged == nil && errors.Is(perr, os.ErrNotExist):
		return nil, "", fmt.Errorf("model directory %s holds no checkpoint (%s): %w", dir, CheckpointFile, sdk.ErrNotFound)
	case damaged == nil:
		return older, "", perr
	case perr != nil:
		return nil, "", fmt.Errorf("%w (and the previous checkpoint cannot replace it: %v)", damaged, perr)
	}
	lost := "an unknown number of steps"
	if step, ok := training.PeekCheckpointStep(damaged.data); ok && step >= older.Step {
		lost = fmt.Sprintf("%d steps", step-older.Step)
	}
	return older, fmt.Sprintf("%s is damaged (%v); using %s at step %d instead: %s of training lost",
		newest, damaged.err, PreviousCheckpointFile, older.Step, lost), nil
}

// damagedCheckpoint is a checkpoint file that exists but cannot be decoded.
type damagedCheckpoint struct {
	path string
	data []byte
	err  error
}

func (d *damagedCheckpoint) Error() string { return fmt.Sprintf("load %s: %v", d.path, d.err) }

// readCheckpoint reads and decodes one checkpoint file. A file that exists
// but does not decode is reported as damaged (with err set too).
func readCheckpoint(path string) (*training.Checkpoint, *damagedCheckpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read checkpoint: %w", err)
	}
	ck, err := training.DecodeCheckpoint(data)
	if err != nil {
		d := &damagedCheckpoint{path: path, data: data, err: err}
		return nil, d, d
	}
	return ck, nil, nil
}

// CheckpointStamp identifies the current checkpoint of dir and its fitted
// time grids (their sizes and modification times), "" if there is no
// checkpoint: a loaded model is still current while the stamp is unchanged.
func CheckpointStamp(dir string) string {
	fi, err := os.Stat(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return ""
	}
	stamp := fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
	if gi, err := os.Stat(filepath.Join(dir, TimeGridsFile)); err == nil {
		stamp += fmt.Sprintf(" grids %d/%d", gi.Size(), gi.ModTime().UnixNano())
	}
	return stamp
}
