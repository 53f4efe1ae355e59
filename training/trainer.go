package training

import (
	stdcontext "context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/imageset"
)

// Model is what training and sampling need of a velocity model.
type Model interface {
	// Velocity builds v(x, t) in the GoMLX context: x [B,H,W,C], t [B] ->
	// [B,H,W,C], creating its variables in ctx's scope on first use. Like all
	// GoMLX graph code it may panic; the trainer recovers.
	Velocity(ctx *context.Context, x, t *Node) *Node
	// ImageShape returns the (H, W, C) of the images the model takes.
	ImageShape() (h, w, c int)
	// ConfigJSON returns the model's configuration, stored in checkpoints.
	ConfigJSON() ([]byte, error)
}

// LabeledModel is a class-conditional [Model].
type LabeledModel interface {
	Model
	// NumClasses returns the number of classes (0: the model is unconditional).
	NumClasses() int
	// VelocityLabeled builds v(x, t | labels) with labels [B] int32 in
	// [0, NumClasses], NumClasses meaning "no label".
	VelocityLabeled(ctx *context.Context, x, t, labels *Node) *Node
}

// numClasses returns the number of classes of m (0 if unconditional).
func numClasses(m Model) int {
	if lm, ok := m.(LabeledModel); ok {
		return lm.NumClasses()
	}
	return 0
}

// Variable scopes inside the trainer's context.
const (
	modelScope = "/model" // the weights being trained
	emaScope   = "/ema"   // their exponential moving average (what sampling uses)
	adamMScope = "/adam_m"
	adamVScope = "/adam_v"
)

// Progress is one training report.
type Progress struct {
	// Step is the number of steps done, out of TotalSteps.
	Step, TotalSteps int
	// Loss is the flow-matching loss of the last step; SmoothLoss an
	// exponential moving average of it (over about 20 steps).
	Loss, SmoothLoss float64
	// GradNorm is the global gradient norm of the last step, before clipping.
	GradNorm float64
	// LearningRate used by the last step.
	LearningRate float64
	// ImagesPerSec is the training throughput since the run (or resume)
	// started, excluding graph compilation; ETA the time left at that rate.
	ImagesPerSec float64
	ETA          time.Duration
	// Checkpoint is the path of a checkpoint written right after this step
	// ("" if none).
	Checkpoint string
	// Message, when set, says what the run is doing between steps (the
	// distillation phase's teacher making its trajectories); the other
	// fields then describe the step reached.
	Message string
}

// Trainer trains a velocity model by flow matching. It holds the model's
// variables, the optimiser state and the EMA weights in a GoMLX context.
// A Trainer is not safe for concurrent use.
type Trainer struct {
	backend backends.Backend
	model   Model
	cfg     TrainConfig
	ctx     *context.Context
	exec    *context.Exec // the step of cfg's objective
	execFM  *context.Exec // plain flow matching, before FlowMapStart (few-step objectives only)
	// execDistill is the step of the distillation phase (runs with
	// DistillStart only), pool the teacher's trajectories once it began.
	execDistill *context.Exec
	pool        *distillPool
	step        int
	smoothLoss  float64
	history     [][2]float64
	// dataset size and class names recorded in checkpoints
	datasetSize int
	classes     []string
}

// NewTrainer prepares a training run of model on backend. The model's
// weights are created (from cfg.Seed) when the first step runs, unless
// [Trainer.Restore] loads them first.
func NewTrainer(backend backends.Backend, model Model, cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil || model == nil {
		return nil, errors.New("new trainer: backend and model are required")
	}
	if cfg.Objective.FlowMap() && !hasStepInput(model) {
		return nil, fmt.Errorf("new trainer: objective %q needs a model with a step input (unet step_input)", cfg.Objective)
	}
	if cfg.Objective.FlowMap() && numClasses(model) > 0 {
		return nil, fmt.Errorf("new trainer: objective %q does not support class-conditional models", cfg.Objective)
	}
	ctx := context.New()
	ctx.SetParam(context.ParamInitialSeed, cfg.Seed^0x5eed) // dropout and any in-graph randomness
	ctx.SetParam("unet_init_seed", cfg.Seed)
	tr := &Trainer{backend: backend, model: model, cfg: cfg, ctx: ctx}
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node { return tr.stepGraph(ctx, in, tr.cfg, false) })
	if err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	tr.exec = exec
	if cfg.Objective.FlowMap() && cfg.FlowMapStart > 0 {
		fm := cfg
		fm.Objective = ObjectiveFlowMatching
		if tr.execFM, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node { return tr.stepGraph(ctx, in, fm, false) }); err != nil {
			return nil, fmt.Errorf("new trainer: %w", err)
		}
	}
	if cfg.DistillStart > 0 {
		if tr.execDistill, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*Node) []*Node { return tr.stepGraph(ctx, in, tr.cfg, true) }); err != nil {
			return nil, fmt.Errorf("new trainer: %w", err)
		}
	}
	return tr, nil
}

// Config returns the training configuration with defaults filled in.
func (tr *Trainer) Config() TrainConfig { return tr.cfg }

// Step returns the number of optimisation steps done.
func (tr *Trainer) Step() int { return tr.step }

// SetTotalSteps changes the run's total number of steps, as a resumed run
// asked to go further (or less far) does. The learning rate stays
// continuous: from the current step on it decays by a half cosine from the
// rate the run has reached to its minimum at the new total (recorded in
// TrainConfig.ScheduleFrom). During warm-up nothing is recorded: the warm-up
// goes on (shortened, if need be, to a tenth of the new total) and the
// cosine is laid over the new length.
func (tr *Trainer) SetTotalSteps(steps int) error {
	c := tr.cfg
	if steps == c.Steps {
		return nil
	}
	if steps <= tr.step {
		return fmt.Errorf("set total steps: %d is not beyond step %d, where the run is", steps, tr.step)
	}
	if warm := max(c.WarmupSteps, 0); tr.step < warm {
		c.WarmupSteps = min(warm, max(steps/10, tr.step+1))
	} else if tr.step > 0 {
		c.ScheduleFromLR = c.LearningRateAt(tr.step)
		c.ScheduleFrom = tr.step
	}
	c.Steps = steps
	if err := c.Validate(); err != nil {
		return err
	}
	tr.cfg = c
	return nil
}

// stepGraph builds one training step. Inputs: x1 (data) and x0 (noise), both
// [B,H,W,C], t [B], and the scalars lr, bias corrections 1/(1-β1^k) and
// 1/(1-β2^k), and the EMA decay; then, for a few-step objective, the step
// sizes d [B], and for a class-conditional model the labels [B]; withPool
// (the distillation phase) adds the pool's examples, states [K,H,W,C],
// times and steps [K] and targets [K,H,W,C]. Outputs: the loss and the
// gradient norm.
func (tr *Trainer) stepGraph(ctx *context.Context, in []*Node, cfg TrainConfig, withPool bool) []*Node {
	x1, x0, t, lr, bc1, bc2, emaDecay := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
	rest := in[7:]
	var d, labels *Node
	if cfg.Objective.FlowMap() {
		d, rest = rest[0], rest[1:]
	}
	var pool *distillNodes
	if withPool {
		pool, rest = &distillNodes{x: rest[0], t: rest[1], d: rest[2], u: rest[3]}, rest[4:]
	}
	if len(rest) > 0 {
		labels = rest[0]
	}
	g := x1.Graph()
	ctx.SetTraining(g, true)
	mctx := ctx.In("model")
	f := func(x, t, d *Node) *Node {
		switch {
		case d != nil:
			return tr.model.(FlowMapModel).AverageVelocity(mctx, x, t, d)
		case labels != nil:
			return tr.model.(LabeledModel).VelocityLabeled(mctx, x, t, labels)
		}
		return tr.model.Velocity(mctx, x, t)
	}
	teacher := f
	if cfg.TargetsFromEMA {
		teacher = tr.emaModelFunc(ctx)
	}
	loss := objectiveLoss(cfg, f, teacher, x1, x0, t, d, pool)

	vars := scopeVariables(ctx, modelScope)
	values := make([]*Node, len(vars))
	for i, vr := range vars {
		values[i] = vr.ValueGraph(g)
	}
	grads := Gradient(loss, values...)

	sumSq := ScalarZero(g, dtypes.Float32)
	for _, gr := range grads {
		sumSq = Add(sumSq, ReduceAllSum(Square(gr)))
	}
	gradNorm := Sqrt(sumSq)
	clip := ScalarOne(g, dtypes.Float32)
	if tr.cfg.ClipNorm > 0 {
		clip = Min(clip, Div(Scalar(g, dtypes.Float32, tr.cfg.ClipNorm), AddScalar(gradNorm, 1e-6)))
	}

	b1, b2 := tr.cfg.Beta1, tr.cfg.Beta2
	wd := max(tr.cfg.WeightDecay, 0)
	for i, vr := range vars {
		p := values[i]
		gr := Mul(grads[i], clip)
		m := stateVariable(ctx, adamMScope, vr, false)
		s := stateVariable(ctx, adamVScope, vr, false)
		mNew := Add(MulScalar(m.ValueGraph(g), b1), MulScalar(gr, 1-b1))
		sNew := Add(MulScalar(s.ValueGraph(g), b2), MulScalar(Square(gr), 1-b2))
		m.SetValueGraph(mNew)
		s.SetValueGraph(sNew)
		update := Div(Mul(mNew, bc1), AddScalar(Sqrt(Mul(sNew, bc2)), tr.cfg.Epsilon))
		if wd > 0 && vr.Shape().Rank() >= 2 {
			update = Add(update, MulScalar(p, wd))
		}
		pNew := Sub(p, Mul(update, lr))
		vr.SetValueGraph(pNew)
		e := stateVariable(ctx, emaScope, vr, true)
		e.SetValueGraph(Add(Mul(e.ValueGraph(g), emaDecay), Mul(pNew, OneMinus(emaDecay))))
	}
	return []*Node{loss, gradNorm}
}

// emaModelFunc returns the flow map on the EMA weights, for teacher
// targets. It is called after the model has been built on the trained
// weights, so every model variable exists; their EMA shadows are created
// (as copies) on first use, and the model is rebuilt under the EMA scope
// with reuse, so that a missing shadow fails instead of being initialised.
func (tr *Trainer) emaModelFunc(ctx *context.Context) modelFunc {
	var ectx *context.Context
	return func(x, t, d *Node) *Node {
		if ectx == nil {
			for _, vr := range scopeVariables(ctx, modelScope) {
				stateVariable(ctx, emaScope, vr, true)
			}
			ectx = ctx.InAbsPath(emaScope + modelScope).Reuse()
		}
		return tr.model.(FlowMapModel).AverageVelocity(ectx, x, t, d)
	}
}

// scopeVariables returns the variables under scope (and its sub-scopes),
// sorted by name so that graphs are built in a stable order.
func scopeVariables(ctx *context.Context, scope string) []*context.Variable {
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), scope+"/") || v.Scope() == scope {
			vars = append(vars, v)
		}
	}
	slices.SortFunc(vars, func(a, b *context.Variable) int { return strings.Compare(a.ScopeAndName(), b.ScopeAndName()) })
	return vars
}

// stateVariable returns the optimiser or EMA variable that shadows model
// variable v under prefix, creating it (zeros, or a copy of v's value when
// copyValue) if needed. It is not trainable.
func stateVariable(ctx *context.Context, prefix string, v *context.Variable, copyValue bool) *context.Variable {
	scope := prefix + v.Scope()
	if s := ctx.GetVariableByScopeAndName(scope, v.Name()); s != nil {
		return s
	}
	var value *tensors.Tensor
	if copyValue {
		value = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](v.MustValue()), v.Shape().Dimensions...)
	} else {
		value = tensors.FromShape(v.Shape())
	}
	return ctx.InAbsPath(scope).Checked(false).VariableWithValue(v.Name(), value).SetTrainable(false)
}

// TrainStep runs one optimisation step on the batch x1 ([B,H,W,C] flattened,
// values in [-1, 1]) with the noise and times the run's seed gives this step,
// and returns the loss and the gradient norm before clipping. For a
// class-conditional model every image is unlabelled; see TrainStepLabeled.
func (tr *Trainer) TrainStep(x1 []float32, batch int) (loss, gradNorm float64, err error) {
	return tr.TrainStepLabeled(x1, nil, batch)
}

// TrainStepLabeled is TrainStep for class-conditional models: labels [B]
// holds each image's class (nil: none). A fraction LabelDropout of the labels,
// drawn from the run's seed, is replaced by "no label" so that the model also
// learns the unconditional velocity that classifier-free guidance needs.
func (tr *Trainer) TrainStepLabeled(x1 []float32, labels []int, batch int) (loss, gradNorm float64, err error) {
	h, w, c := tr.model.ImageShape()
	dim := h * w * c
	if batch < 1 || len(x1) != batch*dim {
		return 0, 0, fmt.Errorf("train step: batch of %d floats is not %d images of %dx%dx%d", len(x1), batch, h, w, c)
	}
	classes := numClasses(tr.model)
	if labels != nil && (classes == 0 || len(labels) != batch) {
		return 0, 0, fmt.Errorf("train step: %d labels for %d images of a model with %d classes", len(labels), batch, classes)
	}
	x0 := make([]float32, len(x1))
	if err := flow.GaussianNoiseBatch(tr.cfg.Seed, tr.step*batch, dim, x0); err != nil {
		return 0, 0, err
	}
	// In the distillation phase the first examples of the batch come from
	// the pool, in place of as many images.
	var pool *distillBatch
	if tr.pool != nil {
		kp := tr.cfg.distillCount(batch)
		db := tr.drawDistillBatch(kp)
		pool = &db
		x1, x0, batch = x1[kp*dim:], x0[kp*dim:], batch-kp
	}
	if tr.cfg.OTCoupling {
		couple(x0, x1, labels, batch, dim)
	}
	ts, ds := tr.sampleTimesSteps(batch)
	k := float64(tr.step + 1)
	lr := tr.cfg.LearningRateAt(tr.step)
	bc1 := 1 / (1 - math.Pow(tr.cfg.Beta1, k))
	bc2 := 1 / (1 - math.Pow(tr.cfg.Beta2, k))
	decay := tr.cfg.emaDecayAt(tr.step)
	args := []any{
		tensors.FromFlatDataAndDimensions(x1, batch, h, w, c),
		tensors.FromFlatDataAndDimensions(x0, batch, h, w, c),
		ts, float32(lr), float32(bc1), float32(bc2), float32(decay)}
	if ds != nil {
		args = append(args, ds)
	}
	if pool != nil {
		k := len(pool.t)
		args = append(args, tensors.FromFlatDataAndDimensions(pool.x, k, h, w, c), pool.t, pool.d,
			tensors.FromFlatDataAndDimensions(pool.u, k, h, w, c))
	}
	if classes > 0 {
		args = append(args, tr.dropLabels(labels, batch, classes))
	}
	exec := tr.exec
	switch {
	case pool != nil:
		exec = tr.execDistill
	case ds == nil && tr.execFM != nil:
		exec = tr.execFM
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		return 0, 0, fmt.Errorf("train step %d: %w", tr.step+1, err)
	}
	loss = float64(tensors.MustCopyFlatData[float32](outs[0])[0])
	gradNorm = float64(tensors.MustCopyFlatData[float32](outs[1])[0])
	for _, o := range outs {
		o.FinalizeAll()
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, gradNorm, fmt.Errorf("train step %d: loss is %v (training diverged; try a lower learning rate)", tr.step+1, loss)
	}
	tr.step++
	if tr.step == 1 || tr.smoothLoss == 0 {
		tr.smoothLoss = loss
	} else {
		tr.smoothLoss = 0.95*tr.smoothLoss + 0.05*loss
	}
	if tr.step%max(1, tr.cfg.Steps/200) == 0 || tr.step == tr.cfg.Steps {
		tr.history = append(tr.history, [2]float64{float64(tr.step), tr.smoothLoss})
	}
	return loss, gradNorm, nil
}

// dropLabels returns this step's labels as int32, each replaced by the "no
// label" index (classes) with probability LabelDropout; nil labels are all
// "no label".
func (tr *Trainer) dropLabels(labels []int, batch, classes int) []int32 {
	rng := tr.stepRand(2)
	out := make([]int32, batch)
	for i := range out {
		out[i] = int32(classes)
		if labels != nil && rng.Float64() >= max(tr.cfg.LabelDropout, 0) {
			out[i] = int32(labels[i])
		}
	}
	return out
}

// stepRand returns a generator that depends only on the run's seed, the
// current step and a stream number (0: batch draws, 1: times and step
// sizes, 2: label dropout).
func (tr *Trainer) stepRand(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(tr.cfg.Seed), uint64(tr.step)<<8|stream))
}

// RunOptions configure [Trainer.Run].
type RunOptions struct {
	// Save stores a checkpoint and returns where it went (required): every
	// CheckpointEvery steps, at the end and when the run is cancelled.
	Save func(*Checkpoint) (string, error)
	// OnProgress, if set, receives a report every ReportEvery steps and after
	// every checkpoint. It is called synchronously.
	OnProgress func(Progress)
	// OnBatch, if set, receives the dataset indices of every batch drawn
	// (for tests and diagnostics of what a run trains on).
	OnBatch func(indices []int)
	// Duration, if positive, is the run's wall-clock budget, counted from the
	// start of Run: the total number of steps is fitted to the steps it
	// allows (timed early in the run and checked again at a quarter, half,
	// three quarters and nine tenths of it, with [Trainer.SetTotalSteps], so
	// the learning rate decays over the run's real length), and the run
	// stops, with a checkpoint, when the budget is spent. The configured
	// Steps is then only the total until the first fit.
	Duration time.Duration
	// MaxSteps, with a Duration, caps the totals fitted (0: no cap).
	MaxSteps int
}

// Run trains on data until the configured total number of steps (or the end
// of RunOptions.Duration), writing a checkpoint every CheckpointEvery steps,
// at the end, and when ctx is cancelled (then it returns an error wrapping
// ctx.Err() after saving).
func (tr *Trainer) Run(ctx stdcontext.Context, data *imageset.Dataset, opts RunOptions) error {
	if opts.Save == nil {
		return errors.New("train: no place to save checkpoints (RunOptions.Save)")
	}
	if err := tr.checkData(data); err != nil {
		return err
	}
	batch := tr.cfg.BatchSize
	h, w, c := tr.model.ImageShape()
	x1 := make([]float32, batch*h*w*c)
	report := func(p Progress) {
		if opts.OnProgress != nil {
			opts.OnProgress(p)
		}
	}
	save := func() (string, error) {
		ck, err := tr.Checkpoint()
		if err != nil {
			return "", err
		}
		return opts.Save(ck)
	}
	startStep := tr.step
	var start time.Time
	budget := newBudget(opts.Duration, time.Now(), opts.MaxSteps)
	for tr.step < tr.cfg.Steps {
		if err := ctx.Err(); err != nil {
			path, serr := save()
			if serr != nil {
				return fmt.Errorf("train interrupted at step %d, and saving failed: %w", tr.step, errors.Join(err, serr))
			}
			report(tr.progress(startStep, start, 0, 0, path))
			return fmt.Errorf("train interrupted at step %d (checkpoint %s): %w", tr.step, path, err)
		}
		if budget.spent(time.Now()) {
			return tr.endEarly(save, report, startStep, start)
		}
		took, err := tr.startDistillation(ctx, report)
		if err != nil {
			if ctx.Err() == nil {
				return err
			}
			continue // cancelled: saved and reported at the top of the loop
		}
		budget.exclude(took)
		loss, gnorm, err := tr.trainOnBatch(data, x1, opts.OnBatch)
		if err != nil {
			return err
		}
		if start.IsZero() {
			start = time.Now() // the first step compiles the graph: leave it out of the rate
			startStep = tr.step
		}
		if err := tr.fitToBudget(budget); err != nil {
			return err
		}
		var path string
		if (tr.cfg.CheckpointEvery > 0 && tr.step%tr.cfg.CheckpointEvery == 0) || tr.step == tr.cfg.Steps {
			if path, err = save(); err != nil {
				return err
			}
		}
		if path != "" || tr.step%tr.cfg.ReportEvery == 0 {
			report(tr.progress(startStep, start, loss, gnorm, path))
		}
	}
	return nil
}

// trainOnBatch draws this step's batch from data into x1 (reporting its
// indices to onBatch, if set) and runs the step.
func (tr *Trainer) trainOnBatch(data *imageset.Dataset, x1 []float32, onBatch func([]int)) (loss, gradNorm float64, err error) {
	batch := tr.cfg.BatchSize
	idx, err := data.Batch(tr.stepRand(0), batch, x1)
	if err != nil {
		return 0, 0, fmt.Errorf("train: draw batch: %w", err)
	}
	if onBatch != nil {
		onBatch(idx)
	}
	var labels []int
	if data.Labels != nil && numClasses(tr.model) > 0 {
		labels = make([]int, batch)
		for i, j := range idx {
			labels[i] = data.Labels[j]
		}
	}
	return tr.TrainStepLabeled(x1, labels, batch)
}

// fitToBudget records the step just done and, at the budget's fit points,
// sets the total to what the budget allows (if it moved by more than 1%).
func (tr *Trainer) fitToBudget(b *budget) error {
	now := time.Now()
	b.stepDone(tr.step, now)
	total, due := b.fit(tr.step, now)
	if !due || math.Abs(float64(total-tr.cfg.Steps)) <= 0.01*float64(tr.cfg.Steps) {
		return nil
	}
	return tr.SetTotalSteps(total)
}

// endEarly ends a run whose budget is spent before its total: the total
// becomes the step reached (so the checkpoint says the run is complete),
// and a checkpoint is saved and reported.
func (tr *Trainer) endEarly(save func() (string, error), report func(Progress), startStep int, start time.Time) error {
	tr.cfg.Steps = tr.step
	if tr.cfg.ScheduleFrom >= tr.cfg.Steps {
		tr.cfg.ScheduleFrom, tr.cfg.ScheduleFromLR = 0, 0
	}
	path, err := save()
	if err != nil {
		return err
	}
	report(tr.progress(startStep, start, 0, 0, path))
	return nil
}

// checkData checks that data suits the model and records its size and
// classes for the checkpoints.
func (tr *Trainer) checkData(data *imageset.Dataset) error {
	h, w, c := tr.model.ImageShape()
	if data == nil || data.Len() == 0 {
		return errors.New("train: the dataset is empty")
	}
	if data.Height != h || data.Width != w || c != 3 {
		return fmt.Errorf("train: dataset images are %dx%d, the model takes %dx%dx%d", data.Width, data.Height, w, h, c)
	}
	tr.datasetSize = data.Len()
	if k := numClasses(tr.model); k > 0 {
		if data.Labels == nil || len(data.Classes) != k {
			return fmt.Errorf("train: the model has %d classes, the dataset %d (train with labels on a folder of class sub-folders)", k, len(data.Classes))
		}
		if tr.classes != nil && !slices.Equal(tr.classes, data.Classes) {
			return fmt.Errorf("train: the dataset's classes %v differ from the model's %v", data.Classes, tr.classes)
		}
		tr.classes = data.Classes
	}
	return nil
}

// progress assembles a report after the current step.
func (tr *Trainer) progress(startStep int, start time.Time, loss, gnorm float64, path string) Progress {
	p := Progress{
		Step: tr.step, TotalSteps: tr.cfg.Steps, Loss: loss, SmoothLoss: tr.smoothLoss,
		GradNorm: gnorm, LearningRate: tr.cfg.LearningRateAt(max(tr.step-1, 0)), Checkpoint: path,
	}
	if done := tr.step - startStep; done > 0 && !start.IsZero() {
		el := time.Since(start).Seconds()
		p.ImagesPerSec = float64(done*tr.cfg.BatchSize) / el
		p.ETA = time.Duration(float64(tr.cfg.Steps-tr.step) * el / float64(done) * float64(time.Second))
	}
	return p
}

// Checkpoint captures the run's current state.
func (tr *Trainer) Checkpoint() (*Checkpoint, error) {
	modelJSON, err := tr.model.ConfigJSON()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: model config: %w", err)
	}
	ck := &Checkpoint{
		Version: CheckpointVersion, Step: tr.step, Model: json.RawMessage(modelJSON),
		Train: tr.cfg, DatasetSize: tr.datasetSize, LossHistory: slices.Clone(tr.history), Classes: slices.Clone(tr.classes),
		TrainedOn: tr.backend.Description(),
	}
	var errs []error
	for v := range tr.ctx.IterVariables() {
		t, err := tensorFromVariable(v)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ck.Tensors = append(ck.Tensors, t)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("checkpoint: %w", errors.Join(errs...))
	}
	slices.SortFunc(ck.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return ck, nil
}

// tensorFromVariable copies a variable's value into a Tensor.
func tensorFromVariable(v *context.Variable) (Tensor, error) {
	val, err := v.Value()
	if err != nil {
		return Tensor{}, fmt.Errorf("read variable %s: %w", v.ScopeAndName(), err)
	}
	var data []byte
	if err := val.ConstBytes(func(b []byte) { data = slices.Clone(b) }); err != nil {
		return Tensor{}, fmt.Errorf("read variable %s: %w", v.ScopeAndName(), err)
	}
	return Tensor{Name: v.ScopeAndName(), DType: val.DType().String(), Dims: slices.Clone(val.Shape().Dimensions), Data: data}, nil
}

// tensorValue turns a saved Tensor back into a GoMLX tensor.
func tensorValue(t Tensor) (*tensors.Tensor, error) {
	dtype, err := dtypes.DTypeString(t.DType)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: unknown dtype %q", t.Name, t.DType)
	}
	shape := shapes.Make(dtype, t.Dims...)
	if int(shape.Memory()) != len(t.Data) {
		return nil, fmt.Errorf("tensor %s: %d bytes of data for shape %s", t.Name, len(t.Data), shape)
	}
	val := tensors.FromShape(shape)
	if err := val.MutableBytes(func(b []byte) { copy(b, t.Data) }); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return val, nil
}

// Restore loads a checkpoint's variables and step into the trainer, so that
// the next step continues the saved run. The checkpoint's model config must
// match the trainer's model.
func (tr *Trainer) Restore(ck *Checkpoint) error {
	modelJSON, err := tr.model.ConfigJSON()
	if err != nil {
		return fmt.Errorf("restore: model config: %w", err)
	}
	if !jsonEqual(modelJSON, ck.Model) {
		return errors.New("restore: the checkpoint was made for a different model configuration")
	}
	// Where a distillation phase began is the run's state, like its step:
	// the teacher saved with it is the one whose trajectories it learns from.
	if from := ck.Train.DistillFrom; from > 0 {
		if tr.cfg.DistillStart == 0 {
			return fmt.Errorf("restore: the checkpoint is in a distillation phase (from step %d) and the trainer does not distil", from)
		}
		tr.cfg.DistillFrom = from
	}
	if err := setVariables(tr.ctx, ck.Tensors, ""); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tr.step = ck.Step
	tr.datasetSize = ck.DatasetSize
	tr.classes = slices.Clone(ck.Classes)
	tr.history = slices.Clone(ck.LossHistory)
	if n := len(tr.history); n > 0 {
		tr.smoothLoss = tr.history[n-1][1]
	}
	return nil
}

// setVariables creates (or overwrites) a variable in ctx for each tensor. With
// a non-empty fromPrefix only tensors under it are used, renamed with the
// prefix removed (e.g. "/ema/model/x" -> "/model/x").
func setVariables(ctx *context.Context, ts []Tensor, fromPrefix string) error {
	for _, t := range ts {
		name := t.Name
		if fromPrefix != "" {
			if !strings.HasPrefix(name, fromPrefix+"/") {
				continue
			}
			name = strings.TrimPrefix(name, fromPrefix)
		}
		val, err := tensorValue(t)
		if err != nil {
			return err
		}
		scope, vname := context.SplitScope(name)
		if scope == "" {
			scope = context.RootScope
		}
		if v := ctx.GetVariableByScopeAndName(scope, vname); v != nil {
			if !v.Shape().Equal(val.Shape()) {
				return fmt.Errorf("variable %s: checkpoint shape %s differs from %s", name, val.Shape(), v.Shape())
			}
			if err := v.SetValue(val); err != nil {
				return fmt.Errorf("set variable %s: %w", name, err)
			}
			continue
		}
		v := ctx.InAbsPath(scope).Checked(false).VariableWithValue(vname, val)
		if scope != modelScope && !strings.HasPrefix(scope, modelScope+"/") {
			v.SetTrainable(false)
		}
	}
	return nil
}

// jsonEqual compares two JSON documents for equal content.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// startDistillation begins the distillation phase when the run reaches its
// first step (see distill.go), and returns how long that took: the first
// time, it freezes the EMA weights as the teacher and records the step in
// DistillFrom; every time (a resumed run too) it has the teacher make the
// pool of trajectories, reporting its progress. Outside the phase, or once
// the pool exists, it does nothing.
func (tr *Trainer) startDistillation(ctx stdcontext.Context, report func(Progress)) (time.Duration, error) {
	first := tr.cfg.distillStartStep()
	if tr.pool != nil || first < 0 || tr.step < first {
		return 0, nil
	}
	began := time.Now()
	if tr.cfg.DistillFrom == 0 {
		if err := tr.freezeTeacher(); err != nil {
			return 0, err
		}
		tr.cfg.DistillFrom = tr.step
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		return 0, err
	}
	teacher, err := newModelField(tr.backend, tr.model, ck, teacherScope)
	if err != nil {
		return 0, fmt.Errorf("distillation teacher: %w", err)
	}
	c := tr.cfg
	h, w, ch := tr.model.ImageShape()
	say := func(msg string) {
		report(Progress{Step: tr.step, TotalSteps: tr.cfg.Steps, SmoothLoss: tr.smoothLoss, Message: msg})
	}
	say(fmt.Sprintf("distillation from step %d: the teacher (the EMA weights at step %d) makes %d samples in %d steps each",
		tr.step, c.DistillFrom, c.DistillTrajectories, c.DistillTeacherSteps))
	pool, err := buildDistillPool(ctx, teacher, poolSeed(c.Seed), c.DistillTrajectories, h*w*ch, c.DistillTeacherSteps, c.DistillGrid, distillPoolBatch, nil)
	if err != nil {
		return 0, err
	}
	tr.pool = pool
	took := time.Since(began)
	say(fmt.Sprintf("distillation: the teacher's samples took %v; the few-step flow map learns from them from now on", took.Round(time.Second)))
	return took, nil
}

// distillPoolBatch is the number of trajectories the teacher integrates
// at once.
const distillPoolBatch = 128

// freezeTeacher copies the EMA weights into the teacher's variables
// (teacherScope), which checkpoints save like every other variable.
func (tr *Trainer) freezeTeacher() error {
	for _, vr := range scopeVariables(tr.ctx, modelScope) {
		ema := tr.ctx.GetVariableByScopeAndName(emaScope+vr.Scope(), vr.Name())
		if ema == nil {
			return fmt.Errorf("distillation: no EMA weights for %s", vr.ScopeAndName())
		}
		val, err := ema.Value()
		if err != nil {
			return fmt.Errorf("distillation: read %s: %w", ema.ScopeAndName(), err)
		}
		copied := tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](val), val.Shape().Dimensions...)
		scope := teacherScope + vr.Scope()
		if t := tr.ctx.GetVariableByScopeAndName(scope, vr.Name()); t != nil {
			if err := t.SetValue(copied); err != nil {
				return fmt.Errorf("distillation: set %s: %w", t.ScopeAndName(), err)
			}
			continue
		}
		tr.ctx.InAbsPath(scope).Checked(false).VariableWithValue(vr.Name(), copied).SetTrainable(false)
	}
	return nil
}
