package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// Training run states.
const (
	stateRunning  = "running"
	stateStopping = "stopping" // cancelled; the plugin is writing its checkpoint
	stateDone     = "done"
	stateStopped  = "stopped"
	stateFailed   = "failed"
)

// Tuning of a run's event log.
const (
	// progressEvery is the least time between two recorded loss points;
	// checkpoints, messages and the last step are always recorded.
	progressEvery = 100 * time.Millisecond
	// maxPoints bounds the loss points kept; older ones are thinned out.
	maxPoints = 2000
	// heartbeat is how often an idle event stream sends a comment, so that
	// proxies and browsers keep it open.
	heartbeat = 15 * time.Second
	// sampleSeed seeds the checkpoint samples, so that successive grids
	// show the same noise becoming images.
	sampleSeed = 1
	// sampleTimeout bounds one checkpoint sample.
	sampleTimeout = 2 * time.Minute
)

// trainRequest is the body of POST /api/train.
type trainRequest struct {
	// Model is the name of the model directory to create under the models
	// directory (or to continue, with Resume).
	Model string `json:"model"`
	// Data is the training folder, relative to the data directory.
	Data string `json:"data"`
	// Arch is the preset ("" = the plugin's default).
	Arch string `json:"arch"`
	// Size is the image size (0 = the preset's).
	Size int `json:"size"`
	// Steps is the total number of optimisation steps (0: as many as
	// Minutes allow, or a resumed run's own total).
	Steps int `json:"steps"`
	// Minutes is a wall-clock budget (0 = none; see sdk.TrainRequest.Duration).
	Minutes float64 `json:"minutes"`
	// Batch is the batch size (0 = the plugin's default).
	Batch int `json:"batch"`
	// LR is the peak learning rate (0 = the plugin's default).
	LR float64 `json:"lr"`
	// Seed seeds initialisation and data order.
	Seed int64 `json:"seed"`
	// CheckpointEvery is the number of steps between checkpoints (0 = the
	// plugin's default).
	CheckpointEvery int `json:"checkpointEvery"`
	// Resume continues training an existing model.
	Resume bool `json:"resume"`
}

// trainEvent is one entry of a run's event log, sent as server-sent
// events. Type is "progress", "message", "checkpoint", "sample" or "end".
type trainEvent struct {
	Seq          int     `json:"seq"`
	Type         string  `json:"type"`
	Step         int     `json:"step"`
	TotalSteps   int     `json:"totalSteps"`
	Loss         float64 `json:"loss"`
	ImagesPerSec float64 `json:"imagesPerSec"`
	ETASeconds   float64 `json:"etaSeconds"`
	Message      string  `json:"message,omitempty"`
	// Images are the checkpoint sample (type "sample"), base64 PNGs.
	Images [][]byte `json:"images,omitempty"`
	// State is the run's final state (type "end"), Error why it failed.
	State string `json:"state,omitempty"`
	Error string `json:"error,omitempty"`
}

// trainRun is one training run and the log of what it reported.
type trainRun struct {
	name    string
	data    string // relative to the data directory
	dir     string
	started time.Time
	cancel  context.CancelFunc
	// samples counts checkpoint samples in flight; the end event waits.
	samples sync.WaitGroup

	mu       sync.Mutex
	state    string
	last     sdk.TrainProgress
	events   []trainEvent
	seq      int
	points   int       // progress events in events
	recorded time.Time // when the last progress event was recorded
	sampling bool      // a sampleLoop runs
	// pendingSample is the step of a checkpoint written while sampling,
	// to be sampled next (0: none).
	pendingSample int
	changed       chan struct{} // closed and replaced when events change
	endedWith     error
}

// add appends e to the log and wakes the streams. r.mu must be held.
func (r *trainRun) add(e trainEvent) {
	r.seq++
	e.Seq = r.seq
	switch e.Type {
	case "progress":
		r.points++
		if r.points > maxPoints {
			r.thin()
		}
	case "sample":
		// Only the latest sample is kept for streams that join later.
		r.events = slices.DeleteFunc(r.events, func(old trainEvent) bool { return old.Type == "sample" })
	}
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
}

// thin drops every other loss point of the older half of the log.
func (r *trainRun) thin() {
	n := 0
	r.events = slices.DeleteFunc(r.events, func(e trainEvent) bool {
		if e.Type != "progress" {
			return false
		}
		n++
		return n%2 == 0 && n < r.points/2
	})
	r.points = 0
	for _, e := range r.events {
		if e.Type == "progress" {
			r.points++
		}
	}
}

// since returns the events after seq, the channel that will be closed on
// the next change, and whether the run has ended.
func (r *trainRun) since(seq int) ([]trainEvent, <-chan struct{}, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(r.events, seq+1, func(e trainEvent, s int) int { return e.Seq - s })
	out := slices.Clone(r.events[i:])
	ended := r.state == stateDone || r.state == stateStopped || r.state == stateFailed
	return out, r.changed, ended
}

// runJSON describes a run in GET /api/trainings and POST /api/train.
type runJSON struct {
	Model      string    `json:"model"`
	Data       string    `json:"data"`
	State      string    `json:"state"`
	Step       int       `json:"step"`
	TotalSteps int       `json:"totalSteps"`
	Loss       float64   `json:"loss"`
	Started    time.Time `json:"started"`
	Error      string    `json:"error,omitempty"`
}

func (r *trainRun) describe() runJSON {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := runJSON{Model: r.name, Data: r.data, State: r.state, Step: r.last.Step, TotalSteps: r.last.TotalSteps,
		Loss: r.last.Loss, Started: r.started}
	if r.endedWith != nil {
		out.Error = r.endedWith.Error()
	}
	return out
}

// isTraining reports whether a run on model name is in progress.
func (s *Server) isTraining(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[name]
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == stateRunning || r.state == stateStopping
}

// trainingsJSON is the answer of GET /api/trainings.
type trainingsJSON struct {
	Runs []runJSON `json:"runs"`
}

func (s *Server) handleTrainings(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	runs := make([]*trainRun, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	out := trainingsJSON{Runs: make([]runJSON, 0, len(runs))}
	for _, r := range runs {
		out.Runs = append(out.Runs, r.describe())
	}
	slices.SortFunc(out.Runs, func(a, b runJSON) int { return b.Started.Compare(a.Started) })
	writeJSON(w, http.StatusOK, out)
}

// trainRequestToSDK validates r and returns the plugin request.
func (s *Server) trainRequestToSDK(ctx context.Context, r trainRequest) (sdk.TrainRequest, error) {
	if !modelNameRE.MatchString(r.Model) {
		return sdk.TrainRequest{}, errorf(http.StatusBadRequest,
			"invalid model name %q: want letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit", r.Model)
	}
	if s.isTraining(r.Model) {
		return sdk.TrainRequest{}, errorf(http.StatusConflict, "model %q is training already", r.Model)
	}
	if err := s.checkPreset(ctx, r.Arch); err != nil {
		return sdk.TrainRequest{}, err
	}
	data, err := s.dataDir(r.Data)
	if err != nil {
		return sdk.TrainRequest{}, err
	}
	dir := filepath.Join(s.cfg.ModelsDir, r.Model)
	_, err = os.Stat(dir)
	switch {
	case err == nil && !r.Resume:
		return sdk.TrainRequest{}, errorf(http.StatusConflict, "model %q already exists: choose another name, or resume it", r.Model)
	case errors.Is(err, fs.ErrNotExist) && r.Resume:
		return sdk.TrainRequest{}, errorf(http.StatusNotFound, "no model %q to resume", r.Model)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return sdk.TrainRequest{}, fmt.Errorf("model %q: %w", r.Model, err)
	}
	req := sdk.TrainRequest{
		DataDir: data, ModelDir: dir, Arch: r.Arch, Size: r.Size, Steps: r.Steps, Batch: r.Batch, LR: r.LR,
		Duration: time.Duration(r.Minutes * float64(time.Minute)),
		Seed:     r.Seed, Resume: r.Resume, CheckpointEvery: r.CheckpointEvery,
	}
	if err := req.Validate(); err != nil {
		return sdk.TrainRequest{}, &httpError{status: http.StatusBadRequest, err: err}
	}
	return req, nil
}

func (s *Server) handleTrain(w http.ResponseWriter, r *http.Request) {
	var body trainRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.trainRequestToSDK(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.startRun(body, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, run.describe())
}

// startRun registers a run for body.Model and starts it, unless that model
// or too many others are training already.
func (s *Server) startRun(body trainRequest, req sdk.TrainRequest) (*trainRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil, errorf(http.StatusServiceUnavailable, "the server is shutting down")
	}
	active := 0
	for name, r := range s.runs {
		r.mu.Lock()
		running := r.state == stateRunning || r.state == stateStopping
		r.mu.Unlock()
		if running && name == body.Model {
			return nil, errorf(http.StatusConflict, "model %q is training already", body.Model)
		}
		if running {
			active++
		}
	}
	if active >= s.cfg.MaxTrainings {
		return nil, errorf(http.StatusConflict, "%d training run(s) in progress, the most this server runs at once; stop one first", active)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	run := &trainRun{
		name: body.Model, data: strings.Trim(body.Data, "/"), dir: req.ModelDir, started: time.Now(), cancel: cancel,
		state: stateRunning, changed: make(chan struct{}),
		last: sdk.TrainProgress{TotalSteps: req.Steps},
	}
	s.runs[body.Model] = run
	s.wg.Add(1)
	go s.train(ctx, run, req)
	return run, nil
}

// train runs req and records its progress in run.
func (s *Server) train(ctx context.Context, run *trainRun, req sdk.TrainRequest) {
	defer s.wg.Done()
	defer run.cancel()
	err := s.gen.Train(ctx, req, func(p sdk.TrainProgress) { s.record(run, p) })
	run.samples.Wait()
	run.mu.Lock()
	defer run.mu.Unlock()
	end := trainEvent{Type: "end", Step: run.last.Step, TotalSteps: run.last.TotalSteps}
	switch {
	case err == nil:
		run.state = stateDone
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		run.state = stateStopped
		end.Message = fmt.Sprintf("stopped at step %d; checkpoint saved, resume to continue", run.last.Step)
	default:
		run.state = stateFailed
		run.endedWith = fmt.Errorf("train: %w", err)
		end.Error = run.endedWith.Error()
		s.cfg.Logger.Warn("training failed", "model", run.name, "err", err)
	}
	end.State = run.state
	run.add(end)
}

// record logs one progress report of run; after a checkpoint it starts a
// sample in the background (the plugin's progress calls must not block).
func (s *Server) record(run *trainRun, p sdk.TrainProgress) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.last = p
	now := time.Now()
	e := trainEvent{Step: p.Step, TotalSteps: p.TotalSteps, Loss: p.Loss, ImagesPerSec: p.ImagesPerSec,
		ETASeconds: p.ETA.Seconds()}
	if p.Message != "" {
		e.Type, e.Message = "message", p.Message
		run.add(e)
	}
	if p.Loss > 0 && (now.Sub(run.recorded) >= progressEvery || p.Checkpoint != "" || p.Step == p.TotalSteps) {
		e.Type, e.Message = "progress", ""
		run.add(e)
		run.recorded = now
	}
	if p.Checkpoint == "" {
		return
	}
	e.Type, e.Message = "checkpoint", fmt.Sprintf("checkpoint written at step %d", p.Step)
	run.add(e)
	switch {
	case s.cfg.SampleImages <= 0:
	case run.sampling:
		run.pendingSample = p.Step
	default:
		run.sampling = true
		run.samples.Add(1)
		go s.sampleLoop(run, p.Step)
	}
}

// sampleLoop samples run's checkpoint at step, then, until none is left,
// the latest checkpoint written meanwhile: the final checkpoint always
// gets its sample, and a slow sample never piles up others behind it.
func (s *Server) sampleLoop(run *trainRun, step int) {
	defer run.samples.Done()
	for {
		s.sample(run, step)
		run.mu.Lock()
		step, run.pendingSample = run.pendingSample, 0
		if step == 0 {
			run.sampling = false
		}
		run.mu.Unlock()
		if step == 0 {
			return
		}
	}
}

// sample generates a few images from run's checkpoint at step, waiting
// for a generation slot unless the queue is full, and logs them.
func (s *Server) sample(run *trainRun, step int) {
	t, err := s.reserve()
	if err != nil {
		return // busy serving people; skip this sample
	}
	defer t.release()
	ctx, cancel := context.WithTimeout(s.ctx, sampleTimeout)
	defer cancel()
	if err := t.wait(ctx); err != nil {
		return
	}
	images, err := s.gen.Generate(ctx, sdk.GenerateRequest{
		ModelDir: run.dir, N: s.cfg.SampleImages, Steps: s.cfg.SampleSteps, Seed: sampleSeed, Sampler: sdk.SamplerHeun,
	}, nil)
	run.mu.Lock()
	defer run.mu.Unlock()
	if err != nil {
		run.add(trainEvent{Type: "message", Step: step, TotalSteps: run.last.TotalSteps,
			Message: fmt.Sprintf("sample at step %d failed: %v", step, err)})
		return
	}
	e := trainEvent{Type: "sample", Step: step, TotalSteps: run.last.TotalSteps,
		Message: fmt.Sprintf("%d samples, %d heun steps, seed %d", len(images), s.cfg.SampleSteps, sampleSeed)}
	for _, img := range images {
		e.Images = append(e.Images, img.PNG)
	}
	run.add(e)
}

// runRequest is the body of POST /api/train/stop.
type runRequest struct {
	Model string `json:"model"`
}

// findRun returns the run of model name, or a 404 error.
func (s *Server) findRun(name string) (*trainRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[name]
	if !ok {
		return nil, errorf(http.StatusNotFound, "no training run for model %q", name)
	}
	return r, nil
}

func (s *Server) handleTrainStop(w http.ResponseWriter, r *http.Request) {
	var body runRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	run, err := s.findRun(body.Model)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	run.mu.Lock()
	if run.state != stateRunning {
		state := run.state
		run.mu.Unlock()
		s.fail(w, r, errorf(http.StatusConflict, "model %q is not training (%s)", body.Model, state))
		return
	}
	run.state = stateStopping
	run.mu.Unlock()
	run.cancel()
	writeJSON(w, http.StatusAccepted, run.describe())
}

// handleTrainEvents streams a run's log as server-sent events, from the
// start (or after the Last-Event-ID a reconnecting EventSource sends) until
// the run's end event.
func (s *Server) handleTrainEvents(w http.ResponseWriter, r *http.Request) {
	run, err := s.findRun(r.URL.Query().Get("model"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	seq := 0
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if n, err := strconv.Atoi(id); err == nil && n >= 0 {
			seq = n
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		events, changed, ended := run.since(seq)
		for _, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b); err != nil {
				return
			}
			seq = e.Seq
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if ended && len(events) == 0 {
			return
		}
		if ended {
			continue // send nothing more than the log holds, then stop
		}
		select {
		case <-changed:
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// checkPreset refuses a preset name the plugin does not offer ("" is its
// default), before a run is started for it.
func (s *Server) checkPreset(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	presets, err := s.gen.Presets(ctx)
	if err != nil {
		return fmt.Errorf("list the plugin's presets: %w", err)
	}
	names := make([]string, len(presets))
	for i, p := range presets {
		if p.Name == name {
			return nil
		}
		names[i] = p.Name
	}
	return errorf(http.StatusBadRequest, "invalid preset %q: want one of %v (or empty for the default)", name, names)
}
