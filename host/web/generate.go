package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// generateRequest is the body of POST /api/generate.
type generateRequest struct {
	// Model is a name listed by GET /api/models.
	Model string `json:"model"`
	// Sampler is one of sdk.Samplers ("" = euler).
	Sampler string `json:"sampler"`
	// Steps is the number of integration steps, 1..MaxSteps.
	Steps int `json:"steps"`
	// Seed is the noise seed, 0..MaxSeed; null or absent picks one at
	// random (the start event says which).
	Seed *int64 `json:"seed"`
	// N is the number of images, 1..Config.MaxImages.
	N int `json:"n"`
	// Preview asks for a preview event every Preview integration steps,
	// 0..MaxSteps (0 or absent = no previews).
	Preview int `json:"preview"`
}

// The events of a generate response, one JSON object per line
// (application/x-ndjson), told apart by Type.
type (
	// startEvent opens every stream: the request as it will run.
	startEvent struct {
		Type    string `json:"type"` // "start"
		Model   string `json:"model"`
		Sampler string `json:"sampler"`
		Steps   int    `json:"steps"`
		Seed    int64  `json:"seed"`
		N       int    `json:"n"`
	}
	// queuedEvent says the request waits for a free generation slot.
	queuedEvent struct {
		Type string `json:"type"` // "queued"
	}
	// progressEvent reports a finished integration step.
	progressEvent struct {
		Type  string `json:"type"` // "progress"
		Step  int    `json:"step"`
		Steps int    `json:"steps"`
	}
	// previewEvent carries small PNGs of the current estimate of the
	// images (the first sdk.MaxPreviewImages of those being integrated),
	// after the progress event of the same step. The images events replace
	// them.
	previewEvent struct {
		Type   string         `json:"type"` // "preview"
		Step   int            `json:"step"`
		Steps  int            `json:"steps"`
		Images []previewImage `json:"images"`
	}
	// previewImage is one preview; PNG is base64 in JSON.
	previewImage struct {
		Index  int    `json:"index"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		PNG    []byte `json:"png"`
	}
	// imageEvent carries one finished image; PNG is base64 in JSON.
	imageEvent struct {
		Type   string `json:"type"` // "image"
		Index  int    `json:"index"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		PNG    []byte `json:"png"`
	}
	// doneEvent closes a successful stream.
	doneEvent struct {
		Type   string `json:"type"` // "done"
		Millis int64  `json:"millis"`
	}
	// errorEvent closes a failed stream; Status is the HTTP status the
	// error would have had, had the stream not started.
	errorEvent struct {
		Type   string `json:"type"` // "error"
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
)

// toSDK validates r against the server's limits and returns the plugin
// request for the model directory dir. A random seed is drawn if none is
// given.
func (r generateRequest) toSDK(dir string, maxImages int, defaultSampler string) (sdk.GenerateRequest, error) {
	if r.Sampler == "" {
		r.Sampler = defaultSampler
	}
	if !slices.Contains(sdk.Samplers(), r.Sampler) {
		return sdk.GenerateRequest{}, errorf(http.StatusBadRequest, "invalid sampler %q: want one of %s",
			r.Sampler, strings.Join(sdk.Samplers(), ", "))
	}
	if r.Steps < 1 || r.Steps > MaxSteps {
		return sdk.GenerateRequest{}, errorf(http.StatusBadRequest, "invalid steps %d: want 1..%d", r.Steps, MaxSteps)
	}
	if r.N < 1 || r.N > maxImages {
		return sdk.GenerateRequest{}, errorf(http.StatusBadRequest, "invalid number of images %d: want 1..%d", r.N, maxImages)
	}
	if r.Preview < 0 || r.Preview > MaxSteps {
		return sdk.GenerateRequest{}, errorf(http.StatusBadRequest,
			"invalid preview %d: want 0..%d (steps between previews, 0 = none)", r.Preview, MaxSteps)
	}
	var seed int64
	if r.Seed == nil {
		seed = rand.Int64N(MaxSeed + 1)
	} else {
		seed = *r.Seed
	}
	if seed < 0 || seed > MaxSeed {
		return sdk.GenerateRequest{}, errorf(http.StatusBadRequest, "invalid seed %d: want 0..%d", seed, int64(MaxSeed))
	}
	req := sdk.GenerateRequest{ModelDir: dir, N: r.N, Steps: r.Steps, Seed: seed, Sampler: r.Sampler, PreviewEvery: r.Preview}
	if err := req.Validate(); err != nil {
		return sdk.GenerateRequest{}, &httpError{status: http.StatusBadRequest, err: err}
	}
	return req, nil
}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	var body generateRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	dir, err := s.modelDir(body.Model)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Ask the plugin first, so that a directory without a model is answered
	// 404 before the event stream starts.
	info, err := s.gen.Info(r.Context(), dir)
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			err = errorf(http.StatusNotFound, "no model %q in the models directory (%v)", body.Model, err)
		} else {
			err = fmt.Errorf("generation failed: %w", err)
		}
		s.fail(w, r, err)
		return
	}
	req, err := body.toSDK(dir, s.cfg.MaxImages, cmp.Or(info.Sampler, sdk.SamplerEuler))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.reserve()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer t.release()

	st := newStream(w, "application/x-ndjson")
	st.send(startEvent{Type: "start", Model: body.Model, Sampler: req.Sampler, Steps: req.Steps, Seed: req.Seed, N: req.N})
	ctx := r.Context()
	if t.queued {
		st.send(queuedEvent{Type: "queued"})
	}
	if err := t.wait(ctx); err != nil {
		st.send(errorEvent{Type: "error", Error: fmt.Sprintf("waiting for a free slot: %v", err), Status: statusOf(err)})
		return
	}
	start := time.Now()
	images, err := s.gen.Generate(ctx, req, func(p sdk.GenerateProgress) {
		st.send(progressEvent{Type: "progress", Step: p.Step, Steps: p.TotalSteps})
		if len(p.Previews) > 0 {
			ev := previewEvent{Type: "preview", Step: p.Step, Steps: p.TotalSteps, Images: make([]previewImage, len(p.Previews))}
			for i, img := range p.Previews {
				ev.Images[i] = previewImage{Index: img.Index, Width: img.Width, Height: img.Height, PNG: img.PNG}
			}
			st.send(ev)
		}
	})
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("generate failed", "model", body.Model, "err", err)
		}
		st.send(errorEvent{Type: "error", Error: fmt.Sprintf("generation failed: %v", err), Status: statusOf(err)})
		return
	}
	for _, img := range images {
		st.send(imageEvent{Type: "image", Index: img.Index, Width: img.Width, Height: img.Height, PNG: img.PNG})
	}
	st.send(doneEvent{Type: "done", Millis: time.Since(start).Milliseconds()})
}

// ticket is a reserved generation slot, or a place in the queue for one.
type ticket struct {
	s      *Server
	queued bool // waiting for a slot; wait takes it
	held   bool // holds a slot; release frees it
}

// reserve takes a free generation slot, or else a place in the queue; it
// fails with 503 when the queue is full too.
func (s *Server) reserve() (*ticket, error) {
	select {
	case s.running <- struct{}{}:
		return &ticket{s: s, held: true}, nil
	default:
	}
	select {
	case s.waiting <- struct{}{}:
		return &ticket{s: s, queued: true}, nil
	default:
		return nil, errorf(http.StatusServiceUnavailable,
			"the server is busy (%d generations running, %d waiting); try again shortly", cap(s.running), cap(s.waiting))
	}
}

// wait turns a queue place into a slot, giving up when ctx is done.
func (t *ticket) wait(ctx context.Context) error {
	if !t.queued {
		return nil
	}
	defer func() {
		t.queued = false
		<-t.s.waiting
	}()
	select {
	case t.s.running <- struct{}{}:
		t.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back what t holds. It is safe to call more than once.
func (t *ticket) release() {
	if t.queued {
		t.queued = false
		<-t.s.waiting
	}
	if t.held {
		t.held = false
		<-t.s.running
	}
}

// stream writes a streamed response: one JSON value per line, flushed at
// once. It is safe for concurrent use; after a write fails (the client has
// gone) it drops everything.
type stream struct {
	mu     sync.Mutex
	enc    *json.Encoder
	rc     *http.ResponseController
	broken bool
}

// newStream sends the response header for a stream of contentType.
func newStream(w http.ResponseWriter, contentType string) *stream {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // for reverse proxies that buffer
	w.WriteHeader(http.StatusOK)
	st := &stream{enc: json.NewEncoder(w), rc: http.NewResponseController(w)}
	_ = st.rc.Flush()
	return st
}

// send writes v as one line and flushes it.
func (st *stream) send(v any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.broken {
		return
	}
	if err := st.enc.Encode(v); err != nil {
		st.broken = true
		return
	}
	if err := st.rc.Flush(); err != nil {
		st.broken = true
	}
}
