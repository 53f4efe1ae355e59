package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fm-image/fm-image/sdk/sdktest"
)

// readTrainEvents reads the server-sent events of model's run until the
// stream ends, calling each (if non-nil) as they come.
func readTrainEvents(t *testing.T, ts *httptest.Server, model string, each func(trainEvent)) []trainEvent {
	t.Helper()
	resp := do(t, ts, "GET", "/api/train/events?model="+model, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var events []trainEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e trainEvent
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
		if each != nil {
			each(e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

func trainOfType(events []trainEvent, typ string) []trainEvent {
	var out []trainEvent
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestTrainValidation(t *testing.T) {
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{})
	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"bad name", `{"model":"../x","data":"faces","steps":5}`, http.StatusBadRequest, "invalid model name"},
		{"hidden name", `{"model":".x","data":"faces","steps":5}`, http.StatusBadRequest, "invalid model name"},
		{"existing model", `{"model":"m16","data":"faces","steps":5}`, http.StatusConflict, `model "m16" already exists`},
		{"resume missing", `{"model":"m2","data":"faces","steps":5,"resume":true}`, http.StatusNotFound, `no model "m2" to resume`},
		{"data outside", `{"model":"m2","data":"../models","steps":5}`, http.StatusBadRequest, "invalid folder"},
		{"data through link", `{"model":"m2","data":"escape","steps":5}`, http.StatusForbidden, "leads outside"},
		{"missing data", `{"model":"m2","data":"nope","steps":5}`, http.StatusNotFound, `no folder "nope"`},
		{"bad size", `{"model":"m2","data":"faces","steps":5,"size":12}`, http.StatusBadRequest, "invalid size: must be a multiple of 8"},
		{"no steps", `{"model":"m2","data":"faces"}`, http.StatusBadRequest, "invalid steps"},
		{"bad preset", `{"model":"m2","data":"faces","steps":5,"arch":"huge"}`, http.StatusBadRequest, `invalid preset "huge"`},
		{"bad lr", `{"model":"m2","data":"faces","steps":5,"lr":2}`, http.StatusBadRequest, "invalid lr"},
		{"unknown field", `{"model":"m2","data":"faces","steps":5,"epochs":1}`, http.StatusBadRequest, `unknown field "epochs"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, do(t, ts, "POST", "/api/train", tt.body), tt.status, tt.msg)
		})
	}
	wantError(t, do(t, ts, "POST", "/api/train/stop", `{"model":"m16"}`), http.StatusNotFound, `no training run for model "m16"`)
	wantError(t, do(t, ts, "GET", "/api/train/events?model=m16", ""), http.StatusNotFound, "no training run")
}

func TestTrainRun(t *testing.T) {
	f := newFixture(t)
	_, ts := newTestServer(t, &sdktest.Generator{StepDelay: time.Millisecond}, f, Config{SampleImages: 3, SampleSteps: 2})
	resp := do(t, ts, "POST", "/api/train", `{"model":"new","data":"faces","size":16,"steps":40,"checkpointEvery":10,"arch":"tiny"}`)
	if resp.StatusCode != http.StatusAccepted {
		wantError(t, resp, http.StatusAccepted, "")
	}
	var run runJSON
	decode(t, resp, &run)
	if run.Model != "new" || run.Data != "faces" || run.State != stateRunning || run.TotalSteps != 40 {
		t.Fatalf("run %+v", run)
	}
	events := readTrainEvents(t, ts, "new", nil)
	last := events[len(events)-1]
	if last.Type != "end" || last.State != stateDone || last.Step != 40 {
		t.Fatalf("last event %+v, want end, done at step 40", last)
	}
	if m := trainOfType(events, "message"); len(m) == 0 || !strings.Contains(m[0].Message, "loaded 3 images") {
		t.Errorf("messages %+v", m)
	}
	if p := trainOfType(events, "progress"); len(p) < 4 || p[len(p)-1].Step != 40 || p[len(p)-1].Loss != 1.0/40 {
		t.Errorf("progress %+v: want loss points up to step 40", p)
	}
	if c := trainOfType(events, "checkpoint"); len(c) != 4 {
		t.Errorf("%d checkpoints, want 4", len(c))
	}
	// A live stream sees every sample taken (one per checkpoint, unless the
	// previous one is still running).
	samples := trainOfType(events, "sample")
	if len(samples) == 0 || len(samples[len(samples)-1].Images) != 3 || samples[len(samples)-1].Step != 40 {
		t.Fatalf("%d samples: want the last at step 40, with 3 images", len(samples))
	}
	for _, b := range samples[len(samples)-1].Images {
		m, err := png.Decode(bytes.NewReader(b))
		if err != nil || m.Bounds().Dx() != 16 {
			t.Fatalf("sample image: %v", err)
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].Seq <= events[i-1].Seq {
			t.Fatalf("events out of order: %+v", events)
		}
	}

	// Joining again replays the log, with only the latest sample;
	// Last-Event-ID skips what was seen.
	again := readTrainEvents(t, ts, "new", nil)
	if len(again) != len(events)-len(samples)+1 || len(trainOfType(again, "sample")) != 1 || again[len(again)-1].Seq != last.Seq {
		t.Fatalf("replay: %d events, want %d ending with seq %d", len(again), len(events)-len(samples)+1, last.Seq)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/train/events?model=new", nil)
	req.Header.Set("Last-Event-ID", "1000000")
	if r2, err := ts.Client().Do(req); err != nil {
		t.Fatal(err)
	} else {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r2.Body)
		r2.Body.Close()
		if strings.Contains(b.String(), "data:") {
			t.Fatalf("events after the last one: %s", b.String())
		}
	}

	var ms modelsJSON
	decode(t, do(t, ts, "GET", "/api/models", ""), &ms)
	var found bool
	for _, m := range ms.Models {
		found = found || m.Name == "new" && m.Step == 40 && m.Arch == "tiny" && !m.Training
	}
	if !found {
		t.Fatalf("models %+v: want the new one, trained 40 steps", ms.Models)
	}
	var list trainingsJSON
	decode(t, do(t, ts, "GET", "/api/trainings", ""), &list)
	if len(list.Runs) != 1 || list.Runs[0].State != stateDone || list.Runs[0].Step != 40 {
		t.Fatalf("trainings %+v", list.Runs)
	}

	// Resume it to more steps.
	resp = do(t, ts, "POST", "/api/train", `{"model":"new","data":"faces","steps":50,"resume":true}`)
	if resp.StatusCode != http.StatusAccepted {
		wantError(t, resp, http.StatusAccepted, "")
	}
	events = readTrainEvents(t, ts, "new", nil)
	if last := events[len(events)-1]; last.State != stateDone || last.Step != 50 {
		t.Fatalf("resumed run ended with %+v", last)
	}
}

func TestTrainStopAndLimits(t *testing.T) {
	f := newFixture(t)
	gen := &sdktest.Generator{StepDelay: 2 * time.Millisecond, SaveDelay: 20 * time.Millisecond}
	s, ts := newTestServer(t, gen, f, Config{SampleImages: -1})
	resp := do(t, ts, "POST", "/api/train", `{"model":"long","data":"faces","steps":1000000}`)
	if resp.StatusCode != http.StatusAccepted {
		wantError(t, resp, http.StatusAccepted, "")
	}
	wantError(t, do(t, ts, "POST", "/api/train", `{"model":"long","data":"faces","steps":5,"resume":true}`),
		http.StatusConflict, `model "long" is training already`)
	wantError(t, do(t, ts, "POST", "/api/train", `{"model":"other","data":"faces","steps":5}`),
		http.StatusConflict, "1 training run(s) in progress")
	if !s.isTraining("long") {
		t.Fatal("long is not training")
	}

	stopped := false
	events := readTrainEvents(t, ts, "long", func(e trainEvent) {
		if e.Type == "progress" && e.Step >= 20 && !stopped {
			stopped = true
			resp := do(t, ts, "POST", "/api/train/stop", `{"model":"long"}`)
			var run runJSON
			decode(t, resp, &run)
			if resp.StatusCode != http.StatusAccepted || run.State != stateStopping {
				t.Errorf("stop: status %d, run %+v", resp.StatusCode, run)
			}
		}
	})
	last := events[len(events)-1]
	if last.Type != "end" || last.State != stateStopped || !strings.Contains(last.Message, "checkpoint saved") {
		t.Fatalf("last event %+v, want stopped", last)
	}
	b, err := os.ReadFile(filepath.Join(f.models, "long", sdktest.ModelFile))
	if err != nil || !strings.Contains(string(b), `"step":`) {
		t.Fatalf("no checkpoint after stop: %v", err)
	}
	wantError(t, do(t, ts, "POST", "/api/train/stop", `{"model":"long"}`), http.StatusConflict, "is not training (stopped)")
}

func TestCloseStopsTraining(t *testing.T) {
	f := newFixture(t)
	gen := &sdktest.Generator{StepDelay: 2 * time.Millisecond}
	s, ts := newTestServer(t, gen, f, Config{})
	if resp := do(t, ts, "POST", "/api/train", `{"model":"long","data":"faces","steps":1000000}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := readTrainEvents(t, ts, "long", nil)
	if last := events[len(events)-1]; last.State != stateStopped {
		t.Fatalf("after Close the run ended with %+v", last)
	}
	wantError(t, do(t, ts, "POST", "/api/train", `{"model":"later","data":"faces","steps":5}`),
		http.StatusServiceUnavailable, "shutting down")
}
