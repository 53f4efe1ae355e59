// Package sdktest provides test doubles of the sdk contract, as
// net/http/httptest does for net/http: Generator, a fast, deterministic
// sdk.Generator for tests of the host<->plugin plumbing, the fakeplugin
// command that serves it as a real plugin process, and Build, which compiles
// such commands for tests.
//
// Generator trains nothing: Train counts steps and writes a small JSON
// "model", Generate returns seeded noise images of the model's size. It
// honours cancellation like the real engine (a cancelled Train writes a
// checkpoint before returning).
package sdktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// ModelFile is the file Train writes inside the model directory.
const ModelFile = "fake-state.json"

// DefaultSize is the image size when TrainRequest.Size is 0.
const DefaultSize = 32

// Generator is the fake. The zero value is ready to use and fast.
type Generator struct {
	// StepDelay is slept at every train or integration step.
	StepDelay time.Duration
	// SaveDelay is slept before each checkpoint is written.
	SaveDelay time.Duration
	// OnCancel, if non-nil, is called when a call notices its context was
	// cancelled, with the call's name ("train" or "generate").
	OnCancel func(call string)
	// OnGenerateStep, if non-nil, is called at every integration step
	// before progress is reported (tests use it to crash the process).
	OnGenerateStep func(step int)
}

var _ sdk.Generator = (*Generator)(nil)

// model is the content of ModelFile.
type model struct {
	Arch        string `json:"arch"`
	Size        int    `json:"size"`
	Step        int    `json:"step"`
	TotalSteps  int    `json:"total_steps"`
	DatasetSize int    `json:"dataset_size"`
	DataDir     string `json:"data_dir"`
	// HoldoutFiles are the last round(Holdout·n) files of the data folder.
	HoldoutFiles []string `json:"holdout_files,omitempty"`
}

func readModel(dir string) (model, error) {
	var m model
	b, err := os.ReadFile(filepath.Join(dir, ModelFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("model %s: %w", dir, sdk.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("read model %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("parse model %s: %w", dir, err)
	}
	return m, nil
}

func (g *Generator) save(dir string, m model) (string, error) {
	time.Sleep(g.SaveDelay)
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, ModelFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return "", fmt.Errorf("write checkpoint: %w", err)
	}
	return path, os.Rename(tmp, path)
}

// Train implements sdk.Generator.
func (g *Generator) Train(ctx context.Context, req sdk.TrainRequest, progress func(sdk.TrainProgress)) error {
	if progress == nil {
		progress = func(sdk.TrainProgress) {}
	}
	entries, err := os.ReadDir(req.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", req.DataDir, sdk.ErrNotFound)
	}
	m := model{Arch: req.Arch, Size: req.Size, TotalSteps: req.Steps, DatasetSize: len(entries), DataDir: req.DataDir}
	if k := int(req.Holdout*float64(len(entries)) + 0.5); k > 0 {
		for _, e := range entries[len(entries)-k:] {
			m.HoldoutFiles = append(m.HoldoutFiles, filepath.Join(req.DataDir, e.Name()))
		}
		m.DatasetSize -= k
	}
	if m.Size == 0 {
		m.Size = DefaultSize
	}
	if m.Arch == "" {
		m.Arch = "fake"
	}
	if req.Resume {
		old, err := readModel(req.ModelDir)
		if err != nil {
			return err
		}
		m.Step, m.Size, m.Arch, m.HoldoutFiles, m.DatasetSize = old.Step, old.Size, old.Arch, old.HoldoutFiles, old.DatasetSize
	} else {
		if _, err := os.Stat(req.ModelDir); err == nil {
			return fmt.Errorf("model dir %s: %w (use resume)", req.ModelDir, sdk.ErrAlreadyExists)
		}
		if err := os.MkdirAll(req.ModelDir, 0o755); err != nil {
			return fmt.Errorf("create model dir: %w", err)
		}
	}
	every := req.CheckpointEvery
	if every == 0 {
		every = 100
	}
	progress(sdk.TrainProgress{Step: m.Step, TotalSteps: m.TotalSteps, Message: fmt.Sprintf("loaded %d images", len(entries))})
	for m.Step < m.TotalSteps {
		time.Sleep(g.StepDelay)
		if ctx.Err() != nil {
			if g.OnCancel != nil {
				g.OnCancel("train")
			}
			path, err := g.save(req.ModelDir, m)
			if err != nil {
				return err
			}
			progress(sdk.TrainProgress{Step: m.Step, TotalSteps: m.TotalSteps, Checkpoint: path, Message: "cancelled"})
			return ctx.Err()
		}
		m.Step++
		p := sdk.TrainProgress{
			Step: m.Step, TotalSteps: m.TotalSteps, Loss: 1 / float64(m.Step),
			ImagesPerSec: 1000, ETA: time.Duration(m.TotalSteps-m.Step) * g.StepDelay,
		}
		if m.Step%every == 0 || m.Step == m.TotalSteps {
			if p.Checkpoint, err = g.save(req.ModelDir, m); err != nil {
				return err
			}
		}
		progress(p)
	}
	return nil
}

// Generate implements sdk.Generator: req.N noise images of the model's size,
// image i seeded by (req.Seed, i).
func (g *Generator) Generate(ctx context.Context, req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	m, err := readModel(req.ModelDir)
	if err != nil {
		return nil, err
	}
	for s := 1; s <= req.Steps; s++ {
		time.Sleep(g.StepDelay)
		if ctx.Err() != nil {
			if g.OnCancel != nil {
				g.OnCancel("generate")
			}
			return nil, ctx.Err()
		}
		if g.OnGenerateStep != nil {
			g.OnGenerateStep(s)
		}
		if progress != nil {
			progress(sdk.GenerateProgress{Step: s, TotalSteps: req.Steps})
		}
	}
	out := make([]sdk.Image, req.N)
	for i := range out {
		b, err := NoisePNG(m.Size, req.Seed, i)
		if err != nil {
			return nil, err
		}
		out[i] = sdk.Image{Index: i, Width: m.Size, Height: m.Size, PNG: b}
	}
	return out, nil
}

// NoisePNG returns the deterministic size x size noise image for (seed, index).
func NoisePNG(size int, seed int64, index int) ([]byte, error) {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(index)))
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			v := r.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: 255})
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode image %d: %w", index, err)
	}
	return buf.Bytes(), nil
}

// Info implements sdk.Generator.
func (g *Generator) Info(_ context.Context, modelDir string) (sdk.ModelInfo, error) {
	m, err := readModel(modelDir)
	if err != nil {
		return sdk.ModelInfo{}, err
	}
	cfg, _ := json.Marshal(m)
	return sdk.ModelInfo{
		ModelDir: modelDir, Arch: m.Arch, Width: m.Size, Height: m.Size, Step: m.Step,
		TotalSteps: m.TotalSteps, DatasetSize: m.DatasetSize, Backend: "fake", Params: 42,
		ConfigJSON: string(cfg), DataDir: m.DataDir, HoldoutFiles: m.HoldoutFiles,
	}, nil
}

// presets are the presets the fake offers, the first the default.
var presets = []sdk.Preset{
	{Name: "fake", Description: "the fake generator's only real preset", Width: DefaultSize, Height: DefaultSize, Default: true},
	{Name: "tiny", Description: "accepted for tests that name a preset", Width: 16, Height: 16},
}

// Presets implements sdk.Generator.
func (g *Generator) Presets(context.Context) ([]sdk.Preset, error) {
	return slices.Clone(presets), nil
}
