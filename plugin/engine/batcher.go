package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fm-image/fm-image/flow"
)

// batcher serves concurrent integrations of one model by evaluating their
// velocity requests together, as inference servers batch requests: a
// request waits until every integration in flight has one waiting (or the
// window has passed, or the batch is full), then all go through the model
// as one batch and each gets its rows back. A lone integration is never
// delayed. Each image's velocity is computed as it would be alone (the
// model treats the images of a batch independently), so the images do not
// change, up to float32 rounding. A batcher is safe for concurrent use.
type batcher struct {
	field    flow.Field // the model's field, safe for concurrent use
	dim      int        // floats per image
	window   time.Duration
	maxBatch int // images per evaluation at most

	mu      sync.Mutex
	active  int            // integrations in flight (between begin and end)
	pending []*velocityJob // requests waiting for the next evaluation
	timer   *time.Timer    // flushes pending when the window ends
	// batches and requests count the batched evaluations and the requests
	// they served (for tests and logs).
	batches, requests int
}

// velocityJob is one integration's request for the velocity of its images,
// or (h set) for their average velocity over steps h.
type velocityJob struct {
	x, t, h, dst []float32
	done         chan error
}

func newBatcher(field flow.Field, dim int, window time.Duration, maxBatch int) *batcher {
	return &batcher{field: field, dim: dim, window: window, maxBatch: maxBatch}
}

// begin registers an integration; the returned field batches its requests
// with those of the other integrations in flight (it is a flow.StepField
// when the model's field is). Call end when done.
func (b *batcher) begin() (field flow.Field, end func()) {
	b.mu.Lock()
	b.active++
	b.mu.Unlock()
	var once sync.Once
	field = flow.FieldFunc(b.velocity)
	if _, ok := b.field.(flow.StepField); ok {
		field = batchedStepField{b}
	}
	return field, func() {
		once.Do(func() {
			b.mu.Lock()
			b.active--
			b.flushIfReadyLocked()
			b.mu.Unlock()
		})
	}
}

// batchedStepField is the batched field of a model with average velocities.
type batchedStepField struct{ b *batcher }

func (f batchedStepField) Velocity(ctx context.Context, x, t, dst []float32) error {
	return f.b.velocity(ctx, x, t, dst)
}

func (f batchedStepField) AverageVelocity(ctx context.Context, x, t, h, dst []float32) error {
	return f.b.submit(ctx, x, t, h, dst)
}

// velocity implements flow.Field for one integration.
func (b *batcher) velocity(ctx context.Context, x, t, dst []float32) error {
	return b.submit(ctx, x, t, nil, dst)
}

// evaluate runs one request (h nil: velocity) on the model's field.
func (b *batcher) evaluate(ctx context.Context, x, t, h, dst []float32) error {
	if h == nil {
		return b.field.Velocity(ctx, x, t, dst)
	}
	return b.field.(flow.StepField).AverageVelocity(ctx, x, t, h, dst)
}

// submit queues one integration's request and waits for its result.
func (b *batcher) submit(ctx context.Context, x, t, h, dst []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(x) != len(t)*b.dim || len(dst) != len(x) || h != nil && len(h) != len(t) {
		return fmt.Errorf("batched velocity: %d and %d floats for %d images of %d values", len(x), len(dst), len(t), b.dim)
	}
	b.mu.Lock()
	if b.active <= 1 && len(b.pending) == 0 {
		b.mu.Unlock()
		return b.evaluate(ctx, x, t, h, dst) // alone: no waiting
	}
	job := &velocityJob{x: x, t: t, h: h, dst: dst, done: make(chan error, 1)}
	b.pending = append(b.pending, job)
	if len(b.pending) == 1 {
		b.timer = time.AfterFunc(b.window, b.flush)
	}
	b.flushIfReadyLocked()
	b.mu.Unlock()
	// The job runs to completion once taken (its buffers are written then),
	// so wait for it even if ctx ends meanwhile; the integration notices the
	// cancellation at its next step.
	return <-job.done
}

// flushIfReadyLocked evaluates the pending requests when every integration
// in flight has one waiting or they fill a batch. b.mu must be held.
func (b *batcher) flushIfReadyLocked() {
	if len(b.pending) == 0 {
		return
	}
	images := 0
	for _, j := range b.pending {
		images += len(j.t)
	}
	if len(b.pending) >= b.active || images >= b.maxBatch {
		b.startLocked()
	}
}

// flush evaluates whatever is pending (the window has ended).
func (b *batcher) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.startLocked()
}

// startLocked takes the pending requests and evaluates them in the
// background. b.mu must be held.
func (b *batcher) startLocked() {
	if len(b.pending) == 0 {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	jobs := b.pending
	b.pending = nil
	b.batches++
	b.requests += len(jobs)
	go b.run(jobs)
}

// run evaluates jobs as batches, the velocity requests in one and the
// average-velocity requests in another, and hands each job its rows.
func (b *batcher) run(jobs []*velocityJob) {
	var plain, average []*velocityJob
	for _, j := range jobs {
		if j.h == nil {
			plain = append(plain, j)
		} else {
			average = append(average, j)
		}
	}
	for _, group := range [][]*velocityJob{plain, average} {
		if len(group) > 0 {
			b.runGroup(group)
		}
	}
}

// runGroup evaluates jobs of one kind as one batch.
func (b *batcher) runGroup(jobs []*velocityJob) {
	if len(jobs) == 1 {
		j := jobs[0]
		j.done <- b.evaluate(context.Background(), j.x, j.t, j.h, j.dst)
		return
	}
	n := 0
	for _, j := range jobs {
		n += len(j.t)
	}
	x, t, v := make([]float32, 0, n*b.dim), make([]float32, 0, n), make([]float32, n*b.dim)
	var h []float32
	for _, j := range jobs {
		x, t = append(x, j.x...), append(t, j.t...)
		if j.h != nil {
			h = append(h, j.h...)
		}
	}
	err := b.evaluate(context.Background(), x, t, h, v)
	off := 0
	for _, j := range jobs {
		if err == nil {
			copy(j.dst, v[off:off+len(j.dst)])
		}
		off += len(j.dst)
		j.done <- err
	}
}

// stats returns the number of batched evaluations and of the requests they
// served so far.
func (b *batcher) stats() (batches, requests int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.batches, b.requests
}
