// Package web is fm-image's browser front end: an HTTP server that serves a
// small page (HTML, CSS and JavaScript embedded in the binary) and a JSON API
// over one sdk.Generator, normally the plugin client that `fm-image serve`
// opens once at start and shares between all requests.
//
// The API (every error is a JSON object {"error": "..."} with a 4xx or 5xx
// status, so that the page can show it):
//
//	GET  /api/config                 limits, samplers and presets for the form
//	GET  /api/models                 the models under Config.ModelsDir, with their info
//	POST /api/generate               sample images; the response streams NDJSON events
//	GET  /api/folders?dir=REL        sub-folders of Config.DataDir, to pick training data
//	GET  /api/trainings              the training runs this server started
//	POST /api/train                  start a training run (one at a time per model)
//	POST /api/train/stop             stop a run; the plugin writes a checkpoint first
//	GET  /api/train/events?model=M   server-sent events of a run: loss, checkpoints, samples
//
// Every request, to a page or to the API, is checked first (a 403 or 401
// answer, JSON under /api/ and plain text elsewhere, says why and how to
// reach the server):
//
//   - Its Host header must name localhost, a loopback address (127.0.0.0/8,
//     [::1]) or one of Config.AllowedHosts, with any port. A page of
//     another site whose DNS name is made to resolve to this machine (DNS
//     rebinding) is same-origin for the browser, so the cross-origin
//     checks below do not stop it; its requests still name that site.
//   - Without a Config.Token, it must come from a loopback address: the
//     server is then for this machine only, whatever it listens on.
//   - With a Config.Token, it must carry the token: a GET or HEAD with
//     ?token=TOKEN gets it set as a cookie (HttpOnly, SameSite=Strict,
//     named fm-image-token-PORT) and a 303 redirect to the same URL
//     without it; other requests send that cookie or the header
//     Authorization: Bearer TOKEN. Tokens are compared in constant time.
//
// State-changing requests from other origins are then refused by
// http.CrossOriginProtection.
//
// Model names are the names of sub-directories of Config.ModelsDir in which
// the generator finds a model (Generator.Info); requests can only name
// those, and training folders are resolved inside Config.DataDir (paths
// leading outside it are refused).
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/fm-image/fm-image/sdk"
)

// Defaults for Config.
const (
	// DefaultMaxGenerations is the number of Generate calls run at once.
	DefaultMaxGenerations = 2
	// DefaultMaxQueued is the number of generate requests that may wait for
	// a free slot; more are refused with 503.
	DefaultMaxQueued = 32
	// DefaultMaxImages is the most images one generate request may ask for.
	DefaultMaxImages = 16
	// DefaultMaxTrainings is the number of training runs at once.
	DefaultMaxTrainings = 1
	// DefaultSampleImages and DefaultSampleSteps size the sample grid drawn
	// after each checkpoint.
	DefaultSampleImages = 8
	DefaultSampleSteps  = 10
)

// Limits of the API that are not configurable.
const (
	// MaxSteps is the most integration steps a generate request may ask for.
	MaxSteps = 100
	// MaxSeed is the largest seed accepted: JavaScript numbers are exact up
	// to 2^53-1, so the page can show and reuse every seed.
	MaxSeed = 1<<53 - 1
	// maxBodyBytes bounds request bodies.
	maxBodyBytes = 64 << 10
)

//go:embed static
var staticFiles embed.FS

// Config configures a Server. ModelsDir and DataDir are required; zero
// values elsewhere mean the defaults above.
type Config struct {
	// ModelsDir holds one sub-directory per model; new models are trained
	// into it.
	ModelsDir string
	// DataDir is the root under which training folders may be chosen.
	DataDir string
	// MaxGenerations bounds the Generate calls running at once.
	MaxGenerations int
	// MaxQueued bounds the generate requests waiting for a slot.
	MaxQueued int
	// MaxImages bounds the images of one generate request.
	MaxImages int
	// MaxTrainings bounds the training runs at once.
	MaxTrainings int
	// SampleImages is the number of images generated after each checkpoint
	// (negative: none); SampleSteps their integration steps.
	SampleImages int
	SampleSteps  int
	// Logger receives request failures; nil discards them.
	Logger hclog.Logger
	// AllowedHosts are the host names and IP addresses (without a port)
	// that a request's Host header may name besides localhost and the
	// loopback addresses: those under which the server is reached from
	// other machines. Each must pass CheckHost.
	AllowedHosts []string
	// Token, if not empty, is required of every request (see the package
	// documentation); it must pass CheckToken, and NewToken makes one.
	// Without it only requests from loopback addresses are answered.
	Token string
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	for _, d := range []struct{ name, path string }{{"models", c.ModelsDir}, {"data", c.DataDir}} {
		if d.path == "" {
			return c, fmt.Errorf("web: no %s directory given", d.name)
		}
		st, err := os.Stat(d.path)
		if err != nil {
			return c, fmt.Errorf("web: %s directory: %w", d.name, err)
		}
		if !st.IsDir() {
			return c, fmt.Errorf("web: %s directory %s is not a directory", d.name, d.path)
		}
	}
	var err error
	if c.ModelsDir, err = filepath.Abs(c.ModelsDir); err != nil {
		return c, fmt.Errorf("web: models directory: %w", err)
	}
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return c, fmt.Errorf("web: data directory: %w", err)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxGenerations, DefaultMaxGenerations)
	def(&c.MaxQueued, DefaultMaxQueued)
	def(&c.MaxImages, DefaultMaxImages)
	def(&c.MaxTrainings, DefaultMaxTrainings)
	def(&c.SampleSteps, DefaultSampleSteps)
	if c.SampleImages == 0 {
		c.SampleImages = DefaultSampleImages
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	hosts := make([]string, len(c.AllowedHosts))
	for i, h := range c.AllowedHosts {
		if hosts[i], err = CheckHost(h); err != nil {
			return c, fmt.Errorf("web: allowed host: %w", err)
		}
	}
	c.AllowedHosts = hosts
	if c.Token != "" {
		if err := CheckToken(c.Token); err != nil {
			return c, fmt.Errorf("web: %w", err)
		}
	}
	return c, nil
}

// Server is the web front end. Create it with New, serve Handler, and Close
// it before closing the Generator. It is safe for concurrent use.
type Server struct {
	gen     sdk.Generator
	cfg     Config
	handler http.Handler
	// running holds a token per Generate call in flight, waiting one per
	// request queued for a slot.
	running chan struct{}
	waiting chan struct{}
	// ctx is cancelled by Close; training runs and checkpoint samples,
	// which outlive requests, derive from it. wg counts them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*trainRun // by model name; finished runs stay listed
}

// New returns a Server that serves gen according to cfg.
func New(gen sdk.Generator, cfg Config) (*Server, error) {
	if gen == nil {
		return nil, errors.New("web: no generator")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		gen:     gen,
		cfg:     cfg,
		running: make(chan struct{}, cfg.MaxGenerations),
		waiting: make(chan struct{}, cfg.MaxQueued),
		ctx:     ctx,
		cancel:  cancel,
		runs:    make(map[string]*trainRun),
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("web: embedded files: %w", err)
	}
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			writeError(w, http.StatusNotFound, fmt.Errorf("no API route %s %s", r.Method, r.URL.Path))
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed for %s", r.Method, r.URL.Path))
		default:
			files.ServeHTTP(w, r)
		}
	})
	mux.HandleFunc("GET /api/config", s.handleConfig)
	mux.HandleFunc("GET /api/models", s.handleModels)
	mux.HandleFunc("POST /api/generate", s.handleGenerate)
	mux.HandleFunc("GET /api/folders", s.handleFolders)
	mux.HandleFunc("GET /api/trainings", s.handleTrainings)
	mux.HandleFunc("POST /api/train", s.handleTrain)
	mux.HandleFunc("POST /api/train/stop", s.handleTrainStop)
	mux.HandleFunc("GET /api/train/events", s.handleTrainEvents)
	s.handler = securityHeaders(newGuard(cfg).handler(http.NewCrossOriginProtection().Handler(mux)))
	return s, nil
}

// Handler returns the HTTP handler of the page and the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the training runs (the plugin writes their checkpoints) and
// waits for them, and for checkpoint samples, until ctx is done. Requests
// still being served are cancelled by their own contexts when the HTTP
// server shuts down.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("web: training runs still finishing: %w", ctx.Err())
	}
}

// securityHeaders keeps the page to its own resources: no inline script,
// nothing fetched from elsewhere, no framing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// configJSON is the answer of GET /api/config.
type configJSON struct {
	Samplers     []string     `json:"samplers"`
	MaxSteps     int          `json:"maxSteps"`
	MaxImages    int          `json:"maxImages"`
	MaxSeed      int64        `json:"maxSeed"`
	Presets      []presetJSON `json:"presets"`
	Sizes        []int        `json:"sizes"`
	SampleImages int          `json:"sampleImages"`
}

// presetJSON is one model preset of the plugin (sdk.Preset), offered by the
// training form.
type presetJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Default     bool   `json:"default"`
}

func (s *Server) handleConfig(w http.ResponseWriter, r *http.Request) {
	presets, err := s.gen.Presets(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list the plugin's presets: %w", err))
		return
	}
	out := make([]presetJSON, len(presets))
	for i, p := range presets {
		out[i] = presetJSON{Name: p.Name, Description: p.Description, Width: p.Width, Height: p.Height, Default: p.Default}
	}
	writeJSON(w, http.StatusOK, configJSON{
		Samplers:     sdk.Samplers(),
		MaxSteps:     MaxSteps,
		MaxImages:    s.cfg.MaxImages,
		MaxSeed:      MaxSeed,
		Presets:      out,
		Sizes:        []int{16, 32, 64, 128},
		SampleImages: max(s.cfg.SampleImages, 0),
	})
}

// httpError is an error with the HTTP status it should be answered with.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// errorf returns an httpError with a formatted message.
func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, err: fmt.Errorf(format, args...)}
}

// statusOf picks the HTTP status for err: its own if it is an httpError,
// else one matching the sdk sentinel it wraps.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, sdk.ErrInvalidRequest):
		return http.StatusBadRequest
	case errors.Is(err, sdk.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, sdk.ErrAlreadyExists):
		return http.StatusConflict
	case errors.Is(err, sdk.ErrPluginExited):
		return http.StatusBadGateway
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorJSON is the body of every error answer.
type errorJSON struct {
	Error string `json:"error"`
}

// writeError answers err as JSON with the given status.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorJSON{Error: err.Error()})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client has gone if this fails
}

// fail logs err and answers it with its status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		s.cfg.Logger.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeError(w, status, err)
}

// decodeJSON reads a JSON request body of at most maxBodyBytes into v,
// refusing unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
		return errorf(http.StatusUnsupportedMediaType, "the request body must be JSON (Content-Type: application/json)")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "invalid JSON request: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid JSON request: data after the object")
	}
	return nil
}
