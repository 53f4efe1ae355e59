// Package engine is the fm-image model engine served by the plugin.
//
// This is a placeholder until the real engine lands: every method fails.
package engine

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"

	"github.com/fm-image/fm-image/sdk"
)

// errNotImplemented is returned by every placeholder method.
var errNotImplemented = errors.New("engine: not implemented yet")

// New returns the engine as an sdk.Generator.
func New(logger hclog.Logger) sdk.Generator { return stub{logger: logger} }

type stub struct{ logger hclog.Logger }

func (stub) Train(context.Context, sdk.TrainRequest, func(sdk.TrainProgress)) error {
	return errNotImplemented
}

func (stub) Generate(context.Context, sdk.GenerateRequest, func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	return nil, errNotImplemented
}

func (stub) Info(context.Context, string) (sdk.ModelInfo, error) {
	return sdk.ModelInfo{}, errNotImplemented
}
