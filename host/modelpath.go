package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fm-image/fm-image/sdk"
)

// ModelSuffix ends the name of the model directory `fm-image train DIR`
// creates when --model is not given: DIR's name followed by ModelSuffix, in
// the current directory.
const ModelSuffix = "-model"

// maxModelScan bounds the sub-directories looked at when searching the
// current directory for a model.
const maxModelScan = 1000

// defaultModelDir is the model directory of `train DIR` without --model:
// DIR's base name plus ModelSuffix, in the current directory.
func defaultModelDir(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", usagef("data directory %s: %w", dataDir, err)
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." || base == "" {
		return "", usagef("cannot name a model after the folder %s: pass --model DIR", dataDir)
	}
	return base + ModelSuffix, nil
}

// findModel returns the model directory a command works on: flagValue when
// given, else the one directory of the current directory that holds a model
// (asked of the plugin). No model, or several, is a usage error saying what
// to do.
func findModel(ctx context.Context, gen sdk.Generator, flagValue string, stderr func(string)) (string, error) {
	if flagValue != "" {
		if exists, dir, err := isDir(flagValue); err != nil || !exists || !dir {
			return "", usagef("--model %s does not exist or is not a directory", flagValue)
		}
		return flagValue, nil
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		return "", usagef("no --model given, and the current directory cannot be read: %v", err)
	}
	var models []string
	for i, e := range entries {
		if i == maxModelScan {
			break
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		_, err := gen.Info(ctx, e.Name())
		switch {
		case err == nil:
			models = append(models, e.Name())
		case ctx.Err() != nil:
			return "", ctx.Err()
		case !errors.Is(err, sdk.ErrNotFound):
			models = append(models, e.Name()) // a model, if a broken one: say so later
		}
	}
	slices.Sort(models)
	switch len(models) {
	case 0:
		return "", usagef("no --model given, and no model in the current directory: train one with `fm-image train DIR` (it creates DIR's name + %q here), or pass --model MODEL_DIR", ModelSuffix)
	case 1:
		stderr(fmt.Sprintf("using the model in %s (--model chooses another)", models[0]))
		return models[0], nil
	}
	return "", usagef("no --model given, and the current directory holds several models (%s): pass --model MODEL_DIR", strings.Join(models, ", "))
}

// freeOutDir returns the first of base, base-2, base-3, ... that does not
// exist yet: where generate writes when --out is not given, so that a
// second run never overwrites the first.
func freeOutDir(base string) (string, error) {
	for i := 1; i < 10000; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return dir, nil
		} else if err != nil {
			return "", usagef("--out %s: %v", dir, err)
		}
	}
	return "", usagef("no free output directory named %s-N here: pass --out DIR", base)
}
