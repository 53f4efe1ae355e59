package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/internal/backend"
	"github.com/fm-image/fm-image/plugin/modeldir"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// loadedModel is a trained model ready to sample: its checkpoint, network,
// backend and velocity field.
type loadedModel struct {
	ck      *training.Checkpoint
	model   unet.Model
	backend backends.Backend
	field   *training.ModelField
}

// loadModel loads the checkpoint in run and builds its field on the named
// backend, with the EMA weights (ema) or the raw ones.
func loadModel(run, backendName string, ema bool) (*loadedModel, error) {
	ck, _, err := modeldir.LoadCheckpoint(run)
	if err != nil {
		return nil, err
	}
	cfg, err := unet.ParseConfig(ck.Model)
	if err != nil {
		return nil, err
	}
	lm := &loadedModel{ck: ck, model: unet.Model{Config: cfg}}
	if lm.backend, err = backend.Select(backendName); err != nil {
		return nil, err
	}
	if lm.field, err = training.NewModelField(lm.backend, lm.model, ck, ema); err != nil {
		return nil, err
	}
	return lm, nil
}

// parseSteps parses a comma-separated list of step counts of at least
// least; cmd and flag name the command and flag in errors.
func parseSteps(list string, least int, cmd, flag string) ([]int, error) {
	var steps []int
	for _, s := range strings.Split(list, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < least {
			return nil, fmt.Errorf("%s: %s %q: want step counts of at least %d", cmd, flag, s, least)
		}
		steps = append(steps, k)
	}
	return steps, nil
}
