package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// fixture is a models directory with a trained fake model "m16" (16x16)
// and an unreadable one "broken", and a data directory with the folders
// faces (two images) and other, plus a link "escape" leading outside.
type fixture struct {
	models, data string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := t.TempDir()
	f := fixture{models: filepath.Join(root, "models"), data: filepath.Join(root, "data")}
	outside := filepath.Join(root, "outside")
	for _, d := range []string{f.models, filepath.Join(f.data, "faces"), filepath.Join(f.data, "other"), outside,
		filepath.Join(f.models, "broken"), filepath.Join(f.models, "empty-dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a.png", "b.JPG", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(f.data, "faces", name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(f.data, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.models, "broken", sdktest.ModelFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	req := sdk.TrainRequest{DataDir: f.data, ModelDir: filepath.Join(f.models, "m16"), Size: 16, Steps: 3}
	if err := (&sdktest.Generator{}).Train(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// newTestServer serves gen over f with cfg (its directories filled in) and
// closes everything at the end of the test.
func newTestServer(t *testing.T, gen sdk.Generator, f fixture, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.ModelsDir, cfg.DataDir = f.models, f.data
	s, err := New(gen, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s, ts
}

// do sends a request; body, if non-empty, is sent as JSON.
func do(t *testing.T, ts *httptest.Server, method, path, body string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// decode reads a JSON answer into v.
func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s answer: %v", resp.Request.URL.Path, err)
	}
}

// wantError checks an error answer's status and message.
func wantError(t *testing.T, resp *http.Response, status int, msg string) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	var e errorJSON
	decode(t, resp, &e)
	if !strings.Contains(e.Error, msg) {
		t.Fatalf("error %q, want it to contain %q", e.Error, msg)
	}
}

// genEvent is any generate event, decoded loosely.
type genEvent struct {
	Type   string `json:"type"`
	Seed   int64  `json:"seed"`
	Step   int    `json:"step"`
	Steps  int    `json:"steps"`
	Index  int    `json:"index"`
	Width  int    `json:"width"`
	PNG    []byte `json:"png"`
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// readGenerate reads a whole generate stream.
func readGenerate(t *testing.T, resp *http.Response) []genEvent {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	var events []genEvent
	dec := json.NewDecoder(resp.Body)
	for {
		var e genEvent
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return events
		} else if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
}

func ofType(events []genEvent, typ string) []genEvent {
	var out []genEvent
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestStaticPage(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{})
	tests := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `<script src="app.js"`},
		{"/app.js", "text/javascript", "/api/generate"},
		{"/app.css", "text/css", ".gallery"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := do(t, ts, "GET", tt.path, "")
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !bytes.Contains(b, []byte(tt.contains)) {
				t.Fatalf("body lacks %q", tt.contains)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Fatalf("Content-Security-Policy %q", csp)
			}
		})
	}
	wantError(t, do(t, ts, "GET", "/api/nothing", ""), http.StatusNotFound, "no API route")
	wantError(t, do(t, ts, "POST", "/index.html", "{}"), http.StatusMethodNotAllowed, "method POST not allowed")
}

func TestConfigAndModels(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{MaxImages: 5})
	var cfg configJSON
	decode(t, do(t, ts, "GET", "/api/config", ""), &cfg)
	if cfg.MaxSteps != 100 || cfg.MaxImages != 5 || cfg.Samplers[0] != sdk.SamplerEuler || cfg.MaxSeed != MaxSeed {
		t.Fatalf("config %+v", cfg)
	}
	var ms modelsJSON
	resp := do(t, ts, "GET", "/api/models", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	decode(t, resp, &ms)
	if len(ms.Models) != 2 {
		t.Fatalf("models %+v, want broken and m16 (empty-dir has no model file)", ms.Models)
	}
	broken, m16 := ms.Models[0], ms.Models[1]
	if broken.Name != "broken" || !strings.Contains(broken.Error, "plugin: parse model") {
		t.Errorf("broken model: %+v", broken)
	}
	if m16.Name != "m16" || m16.Error != "" || m16.Width != 16 || m16.Step != 3 || m16.Params != 42 || m16.Training {
		t.Errorf("m16: %+v", m16)
	}
}

func TestGenerateValidation(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{})
	tests := []struct {
		name, method, body string
		status             int
		msg                string
	}{
		{"not JSON", "POST", "steps=3", http.StatusBadRequest, "invalid JSON request"},
		{"unknown field", "POST", `{"model":"m16","steps":3,"n":1,"colour":"red"}`, http.StatusBadRequest, `unknown field "colour"`},
		{"two objects", "POST", `{"model":"m16","steps":3,"n":1}{}`, http.StatusBadRequest, "data after the object"},
		{"too large", "POST", `{"model":"` + strings.Repeat("m", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, "larger than"},
		{"unknown model", "POST", `{"model":"nope","steps":3,"n":1}`, http.StatusNotFound, `no model "nope"`},
		{"dir without model", "POST", `{"model":"empty-dir","steps":3,"n":1}`, http.StatusNotFound, `no model "empty-dir"`},
		{"path as model", "POST", `{"model":"../models/m16","steps":3,"n":1}`, http.StatusBadRequest, "invalid model name"},
		{"no steps", "POST", `{"model":"m16","n":1}`, http.StatusBadRequest, "invalid steps 0: want 1..100"},
		{"too many steps", "POST", `{"model":"m16","steps":101,"n":1}`, http.StatusBadRequest, "invalid steps 101"},
		{"no images", "POST", `{"model":"m16","steps":3}`, http.StatusBadRequest, "invalid number of images 0: want 1..16"},
		{"too many images", "POST", `{"model":"m16","steps":3,"n":17}`, http.StatusBadRequest, "invalid number of images 17"},
		{"bad sampler", "POST", `{"model":"m16","steps":3,"n":1,"sampler":"ddim"}`, http.StatusBadRequest, `invalid sampler "ddim": want one of euler, heun, midpoint, rk4`},
		{"negative seed", "POST", `{"model":"m16","steps":3,"n":1,"seed":-1}`, http.StatusBadRequest, "invalid seed -1"},
		{"seed past 2^53", "POST", `{"model":"m16","steps":3,"n":1,"seed":9007199254740992}`, http.StatusBadRequest, "invalid seed 9007199254740992"},
		{"fractional seed", "POST", `{"model":"m16","steps":3,"n":1,"seed":1.5}`, http.StatusBadRequest, "invalid JSON request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, do(t, ts, tt.method, "/api/generate", tt.body), tt.status, tt.msg)
		})
	}
	t.Run("not JSON content type", func(t *testing.T) {
		resp, err := ts.Client().Post(ts.URL+"/api/generate", "text/plain", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		wantError(t, resp, http.StatusUnsupportedMediaType, "must be JSON")
	})
	t.Run("GET", func(t *testing.T) {
		wantError(t, do(t, ts, "GET", "/api/generate", ""), http.StatusNotFound, "no API route GET /api/generate")
	})
	t.Run("cross-site POST", func(t *testing.T) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/generate", strings.NewReader(`{"model":"m16","steps":1,"n":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
}

func TestGenerateStream(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{})
	tests := []struct {
		name, body          string
		seed                int64 // -1: random
		n, steps            int
		sampler             string
		wantProgressAtLeast int
	}{
		{"seeded", `{"model":"m16","steps":5,"n":3,"seed":42,"sampler":"heun"}`, 42, 3, 5, "heun", 5},
		{"random seed", `{"model":"m16","steps":1,"n":1}`, -1, 1, 1, "euler", 1},
		{"largest seed", `{"model":"m16","steps":2,"n":2,"seed":9007199254740991,"sampler":"rk4"}`, MaxSeed, 2, 2, "rk4", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := readGenerate(t, do(t, ts, "POST", "/api/generate", tt.body))
			if events[0].Type != "start" || events[len(events)-1].Type != "done" {
				t.Fatalf("events %+v: want start ... done", events)
			}
			seed := events[0].Seed
			if tt.seed >= 0 && seed != tt.seed || seed < 0 || seed > MaxSeed {
				t.Fatalf("seed %d, want %d", seed, tt.seed)
			}
			if p := ofType(events, "progress"); len(p) != tt.steps || p[len(p)-1].Step != tt.steps || p[0].Steps != tt.steps {
				t.Fatalf("progress %+v", p)
			}
			images := ofType(events, "image")
			if len(images) != tt.n {
				t.Fatalf("%d images, want %d", len(images), tt.n)
			}
			for i, img := range images {
				want, err := sdktest.NoisePNG(16, seed, i)
				if err != nil {
					t.Fatal(err)
				}
				if img.Index != i || img.Width != 16 || !bytes.Equal(img.PNG, want) {
					t.Fatalf("image %d: index %d width %d, %d bytes; want the fake's noise for seed %d", i, img.Index, img.Width, len(img.PNG), seed)
				}
				if _, err := png.Decode(bytes.NewReader(img.PNG)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// failing is a Generator whose Generate fails with err.
type failing struct {
	sdktest.Generator
	err error
}

func (f *failing) Generate(context.Context, sdk.GenerateRequest, func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	return nil, f.err
}

func TestGeneratePluginErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"not found", fmt.Errorf("model gone: %w", sdk.ErrNotFound), http.StatusNotFound},
		{"plugin exited", fmt.Errorf("%w (EOF)", sdk.ErrPluginExited), http.StatusBadGateway},
		{"other", errors.New("out of memory"), http.StatusInternalServerError},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, &failing{err: tt.err}, f, Config{})
			events := readGenerate(t, do(t, ts, "POST", "/api/generate", `{"model":"m16","steps":2,"n":1}`))
			last := events[len(events)-1]
			if last.Type != "error" || last.Status != tt.status || last.Error != "generation failed: "+tt.err.Error() {
				t.Fatalf("last event %+v, want error %q with status %d", last, tt.err, tt.status)
			}
		})
	}
}

// gated is a Generator whose Generate waits for gate (or its context) and
// records how many calls run at once.
type gated struct {
	sdktest.Generator
	gate    chan struct{}
	mu      sync.Mutex
	running int
	peak    int
}

func (g *gated) Generate(ctx context.Context, req sdk.GenerateRequest, p func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	g.mu.Lock()
	g.running++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Generator.Generate(ctx, req, p)
}

func TestGenerateLimitsConcurrency(t *testing.T) {
	g := &gated{gate: make(chan struct{})}
	s, ts := newTestServer(t, g, newFixture(t), Config{MaxGenerations: 2, MaxQueued: 3})
	const body = `{"model":"m16","steps":2,"n":1,"seed":7}`
	type result struct {
		events []genEvent
		err    error
	}
	results := make(chan result, 5)
	for range 5 {
		go func() {
			req, _ := http.NewRequest("POST", ts.URL+"/api/generate", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := ts.Client().Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var r result
			for dec := json.NewDecoder(resp.Body); ; {
				var e genEvent
				if err := dec.Decode(&e); err != nil {
					if !errors.Is(err, io.EOF) {
						r.err = err
					}
					break
				}
				r.events = append(r.events, e)
			}
			results <- r
		}()
	}
	// Wait until two run and three wait: the queue is full then.
	for deadline := time.Now().Add(10 * time.Second); len(s.running) < 2 || len(s.waiting) < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d running and %d waiting, want 2 and 3", len(s.running), len(s.waiting))
		}
	}
	wantError(t, do(t, ts, "POST", "/api/generate", body), http.StatusServiceUnavailable, "the server is busy")
	close(g.gate)
	queued := 0
	for range 5 {
		r := <-results
		if r.err != nil || len(r.events) == 0 || r.events[len(r.events)-1].Type != "done" {
			t.Fatalf("events %+v, %v; want done", r.events, r.err)
		}
		if len(ofType(r.events, "queued")) > 0 {
			queued++
		}
	}
	g.mu.Lock()
	peak := g.peak
	g.mu.Unlock()
	if peak != 2 || queued != 3 {
		t.Fatalf("peak %d concurrent generations, %d queued; want 2 and 3", peak, queued)
	}
}

func TestGenerateCancelledByClient(t *testing.T) {
	cancelled := make(chan string, 1)
	gen := &sdktest.Generator{StepDelay: 5 * time.Millisecond, OnCancel: func(call string) { cancelled <- call }}
	_, ts := newTestServer(t, gen, newFixture(t), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/generate", strings.NewReader(`{"model":"m16","steps":100,"n":1}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"type":"start"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	select {
	case call := <-cancelled:
		if call != "generate" {
			t.Fatalf("cancelled %q", call)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the plugin call was not cancelled when the client went away")
	}
}

func TestFolders(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{})
	tests := []struct {
		dir     string
		status  int
		folders []string
		images  int
		msg     string
	}{
		{"", http.StatusOK, []string{"escape", "faces", "other"}, 0, ""},
		{"faces", http.StatusOK, []string{}, 2, ""},
		{"/faces/", http.StatusOK, []string{}, 2, ""},
		{"..", http.StatusBadRequest, nil, 0, "invalid folder"},
		{"faces/../..", http.StatusBadRequest, nil, 0, "invalid folder"},
		{"faces/../other", http.StatusBadRequest, nil, 0, "invalid folder"},
		{`faces\..\..`, http.StatusBadRequest, nil, 0, "invalid folder"},
		{"escape", http.StatusForbidden, nil, 0, "leads outside the data directory"},
		{"nope", http.StatusNotFound, nil, 0, `no folder "nope"`},
		{"faces/a.png", http.StatusBadRequest, nil, 0, "is not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			resp := do(t, ts, "GET", "/api/folders?dir="+url.QueryEscape(tt.dir), "")
			if tt.status != http.StatusOK {
				wantError(t, resp, tt.status, tt.msg)
				return
			}
			var f folderJSON
			decode(t, resp, &f)
			if fmt.Sprint(f.Folders) != fmt.Sprint(tt.folders) || f.Images != tt.images {
				t.Fatalf("got %+v, want folders %v and %d images", f, tt.folders, tt.images)
			}
		})
	}
}
