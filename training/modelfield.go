package training

import (
	stdcontext "context"
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/flow"
)

// ModelField is a [Field] backed by a trained velocity model: it evaluates
// the model's graph on a GoMLX backend. The graph is compiled once per batch
// size. A ModelField is safe for concurrent use.
type ModelField struct {
	model   Model
	exec    *context.Exec
	dim     int
	classes int  // number of classes of a class-conditional model, else 0
	flowMap bool // the model takes a step size (exec has a third input)
	train   TrainConfig
}

// NewModelField returns the field of model with the weights of ckpt. With
// useEMA (what sampling should use) it takes the exponential moving average
// of the weights, otherwise the raw trained weights.
func NewModelField(backend backends.Backend, model Model, ckpt *Checkpoint, useEMA bool) (*ModelField, error) {
	prefix := ""
	if useEMA {
		prefix = emaScope
	}
	return newModelField(backend, model, ckpt, prefix)
}

// newModelField returns the field of model with the weights of ckpt found
// under prefix ("" for the trained weights, emaScope for their average,
// teacherScope for a distillation teacher).
func newModelField(backend backends.Backend, model Model, ckpt *Checkpoint, prefix string) (*ModelField, error) {
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
	if err := setVariables(ctx, ckpt.Tensors, prefix); err != nil {
		return nil, fmt.Errorf("new model field: %w", err)
	}
	if ctx.NumVariables() == 0 {
		return nil, errors.New("new model field: the checkpoint holds no model weights")
	}
	ctx = ctx.Reuse() // every weight must come from the checkpoint
	h, w, c := model.ImageShape()
	f := &ModelField{model: model, dim: h * w * c, classes: numClasses(model), flowMap: hasStepInput(model), train: ckpt.Train.WithDefaults()}
	switch {
	case f.flowMap:
		f.exec, err = context.NewExec(backend, ctx, func(ctx *context.Context, x, t, d *Node) *Node {
			ctx.SetTraining(x.Graph(), false)
			return model.(FlowMapModel).AverageVelocity(ctx.In("model"), x, t, d)
		})
	case f.classes > 0:
		f.exec, err = context.NewExec(backend, ctx, func(ctx *context.Context, x, t, labels *Node) *Node {
			ctx.SetTraining(x.Graph(), false)
			return model.(LabeledModel).VelocityLabeled(ctx.In("model"), x, t, labels)
		})
	default:
		f.exec, err = context.NewExec(backend, ctx, func(ctx *context.Context, x, t *Node) *Node {
			ctx.SetTraining(x.Graph(), false)
			return model.Velocity(ctx.In("model"), x, t)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("new model field: %w", err)
	}
	return f, nil
}

// Velocity implements [Field]: x and dst hold len(t) images [H,W,C]. For a
// class-conditional model it is the unconditional velocity.
func (f *ModelField) Velocity(ctx stdcontext.Context, x, t, dst []float32) error {
	if f.flowMap {
		return f.average(ctx, x, t, make([]float32, len(t)), dst)
	}
	return f.velocity(ctx, x, t, nil, dst)
}

// AverageVelocity implements [StepField]: the average velocity over
// [t, t+h] of a model trained with a few-step objective, its step input
// being TrainConfig.ModelStep(h) (so a shortcut model asked for a step below
// its finest level uses the velocity). For a plain velocity model it is the
// velocity (FlowMap sampling is then Euler).
func (f *ModelField) AverageVelocity(ctx stdcontext.Context, x, t, h, dst []float32) error {
	if !f.flowMap {
		return f.velocity(ctx, x, t, nil, dst)
	}
	d := make([]float32, len(h))
	for i, v := range h {
		d[i] = float32(f.train.ModelStep(float64(v)))
	}
	return f.average(ctx, x, t, d, dst)
}

// FlowMap reports whether the model takes a step size, and so is made for
// the FlowMap sampler; StepCounts then lists the step counts it was trained
// for (nil: any).
func (f *ModelField) FlowMap() bool { return f.flowMap }

// StepCounts returns the sampling step counts the model was trained for with
// the FlowMap sampler (nil: any); see TrainConfig.StepCounts.
func (f *ModelField) StepCounts() []int { return f.train.StepCounts() }

// average evaluates a flow-map model at step inputs d.
func (f *ModelField) average(ctx stdcontext.Context, x, t, d, dst []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := len(t)
	if b == 0 || len(x) != b*f.dim || len(dst) != len(x) || len(d) != b {
		return fmt.Errorf("model average velocity: %d and %d floats for %d images of %d values", len(x), len(dst), b, f.dim)
	}
	h, w, c := f.model.ImageShape()
	out, err := f.exec.Exec1(tensors.FromFlatDataAndDimensions(x, b, h, w, c), t, d)
	if err != nil {
		return fmt.Errorf("model average velocity: %w", err)
	}
	defer out.FinalizeAll()
	return tensors.ConstFlatData(out, func(v []float32) { copy(dst, v) })
}

// velocity evaluates the model; labels (nil: "no label") is used only by
// class-conditional models.
func (f *ModelField) velocity(ctx stdcontext.Context, x, t []float32, labels []int32, dst []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := len(t)
	if b == 0 || len(x) != b*f.dim || len(dst) != len(x) {
		return fmt.Errorf("model velocity: %d and %d floats for %d images of %d values", len(x), len(dst), b, f.dim)
	}
	h, w, c := f.model.ImageShape()
	args := []any{tensors.FromFlatDataAndDimensions(x, b, h, w, c), t}
	if f.classes > 0 {
		if labels == nil {
			labels = make([]int32, b)
			for i := range labels {
				labels[i] = int32(f.classes)
			}
		}
		args = append(args, labels)
	}
	out, err := f.exec.Exec1(args...)
	if err != nil {
		return fmt.Errorf("model velocity: %w", err)
	}
	defer out.FinalizeAll()
	return tensors.ConstFlatData(out, func(v []float32) { copy(dst, v) })
}

// NumClasses returns the number of classes of a class-conditional model (0
// for an unconditional one).
func (f *ModelField) NumClasses() int { return f.classes }

// Guided returns the classifier-free-guided field of class label with
// guidance scale w: v = v_uncond + w·(v_label − v_uncond). w = 1 is the plain
// conditional velocity, w = 0 the unconditional one, w > 1 strengthens the
// class. Each evaluation runs the model once on a doubled batch. The returned
// field is for one integration at a time (it reuses its buffers).
func (f *ModelField) Guided(label int, w float64) (flow.Field, error) {
	if f.classes == 0 {
		return nil, errors.New("guided field: the model has no classes (it was trained without labels)")
	}
	if label < 0 || label >= f.classes {
		return nil, fmt.Errorf("guided field: label %d out of range [0, %d)", label, f.classes)
	}
	if math.IsNaN(w) || math.IsInf(w, 0) {
		return nil, fmt.Errorf("guided field: guidance scale %v is not a number", w)
	}
	// The doubled batch's buffers are reused from one evaluation to the next
	// (an integration calls the field sequentially with the same batch).
	var (
		xx, tt, out []float32
		labels      []int32
	)
	return flow.FieldFunc(func(ctx stdcontext.Context, x, t, dst []float32) error {
		b := len(t)
		if len(labels) != 2*b || len(xx) != 2*len(x) {
			xx, tt, out = make([]float32, 2*len(x)), make([]float32, 2*b), make([]float32, 2*len(x))
			labels = make([]int32, 2*b)
			for i := range b {
				labels[i], labels[b+i] = int32(label), int32(f.classes)
			}
		}
		copy(xx, x)
		copy(xx[len(x):], x)
		copy(tt, t)
		copy(tt[b:], t)
		if err := f.velocity(ctx, xx, tt, labels, out); err != nil {
			return err
		}
		cond, uncond := out[:len(x)], out[len(x):]
		for i := range dst {
			dst[i] = uncond[i] + float32(w)*(cond[i]-uncond[i])
		}
		return nil
	}), nil
}
