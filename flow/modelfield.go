package flow

import (
	stdcontext "context"
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// ModelField is a [Field] backed by a trained velocity model: it evaluates
// the model's graph on a GoMLX backend. The graph is compiled once per batch
// size. A ModelField is safe for concurrent use.
type ModelField struct {
	model Model
	exec  *context.Exec
	dim   int
}

// NewModelField returns the field of model with the weights of ckpt. With
// useEMA (what sampling should use) it takes the exponential moving average
// of the weights, otherwise the raw trained weights.
func NewModelField(backend backends.Backend, model Model, ckpt *Checkpoint, useEMA bool) (*ModelField, error) {
	if backend == nil || model == nil || ckpt == nil {
		return nil, errors.New("new model field: backend, model and checkpoint are required")
	}
	modelJSON, err := model.ConfigJSON()
	if err != nil {
		return nil, fmt.Errorf("new model field: %w", err)
	}
	if !jsonEqual(modelJSON, ckpt.Model) {
		return nil, errors.New("new model field: the checkpoint was made for a different model configuration")
	}
	ctx := context.New()
	prefix := ""
	if useEMA {
		prefix = emaScope
	}
	if err := setVariables(ctx, ckpt.Tensors, prefix); err != nil {
		return nil, fmt.Errorf("new model field: %w", err)
	}
	if ctx.NumVariables() == 0 {
		return nil, errors.New("new model field: the checkpoint holds no model weights")
	}
	ctx = ctx.Reuse() // every weight must come from the checkpoint
	h, w, c := model.ImageShape()
	f := &ModelField{model: model, dim: h * w * c}
	f.exec, err = context.NewExec(backend, ctx, func(ctx *context.Context, x, t *Node) *Node {
		ctx.SetTraining(x.Graph(), false)
		return model.Velocity(ctx.In("model"), x, t)
	})
	if err != nil {
		return nil, fmt.Errorf("new model field: %w", err)
	}
	return f, nil
}

// Velocity implements [Field]: x and dst hold len(t) images [H,W,C].
func (f *ModelField) Velocity(ctx stdcontext.Context, x, t, dst []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := len(t)
	if b == 0 || len(x) != b*f.dim || len(dst) != len(x) {
		return fmt.Errorf("model velocity: %d and %d floats for %d images of %d values", len(x), len(dst), b, f.dim)
	}
	h, w, c := f.model.ImageShape()
	out, err := f.exec.Exec1(tensors.FromFlatDataAndDimensions(x, b, h, w, c), t)
	if err != nil {
		return fmt.Errorf("model velocity: %w", err)
	}
	defer out.FinalizeAll()
	return tensors.ConstFlatData(out, func(v []float32) { copy(dst, v) })
}
