package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// previewing adds previews to a Generator (normally the fake): on every
// PreviewEvery-th step but the last, its progress carries the fake's noise
// for each image.
type previewing struct {
	sdk.Generator
	mu    sync.Mutex
	every []int // PreviewEvery of each request
}

func (g *previewing) Generate(ctx context.Context, req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	g.mu.Lock()
	g.every = append(g.every, req.PreviewEvery)
	g.mu.Unlock()
	return g.Generator.Generate(ctx, req, func(p sdk.GenerateProgress) {
		if req.PreviewEvery > 0 && p.Step%req.PreviewEvery == 0 && p.Step < p.TotalSteps {
			for i := range min(req.N, sdk.MaxPreviewImages) {
				data, err := sdktest.NoisePNG(8, int64(p.Step), i)
				if err != nil {
					panic(err)
				}
				p.Previews = append(p.Previews, sdk.Image{Index: i, Width: 8, Height: 8, PNG: data})
			}
		}
		if progress != nil {
			progress(p)
		}
	})
}

// previewEventJSON is a preview event as the page reads it.
type previewEventJSON struct {
	Type   string         `json:"type"`
	Step   int            `json:"step"`
	Steps  int            `json:"steps"`
	Images []previewImage `json:"images"`
}

func TestGeneratePreviewStream(t *testing.T) {
	gen := &previewing{Generator: &sdktest.Generator{}}
	_, ts := newTestServer(t, gen, newFixture(t), Config{})

	t.Run("previews every 2 steps", func(t *testing.T) {
		resp := do(t, ts, "POST", "/api/generate", `{"model":"m16","steps":7,"n":3,"seed":5,"preview":2}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		var previews []previewEventJSON
		var last string
		dec := json.NewDecoder(resp.Body)
		for {
			var ev previewEventJSON
			if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if ev.Type == "preview" {
				previews = append(previews, ev)
			}
			last = ev.Type
		}
		if last != "done" {
			t.Fatalf("the stream ended with %q, want done", last)
		}
		if len(previews) != 3 {
			t.Fatalf("%d preview events, want 3 (steps 2, 4, 6)", len(previews))
		}
		for k, ev := range previews {
			if ev.Step != 2*(k+1) || ev.Steps != 7 || len(ev.Images) != 3 {
				t.Fatalf("preview event %d: step %d/%d with %d images, want step %d/7 with 3", k, ev.Step, ev.Steps, len(ev.Images), 2*(k+1))
			}
			for i, img := range ev.Images {
				dec, err := png.Decode(bytes.NewReader(img.PNG))
				if err != nil || img.Index != i || img.Width != 8 || dec.Bounds().Dx() != 8 {
					t.Fatalf("preview event %d image %d: index %d width %d, decode error %v", k, i, img.Index, img.Width, err)
				}
			}
		}
	})
	t.Run("no previews unless asked", func(t *testing.T) {
		events := readGenerate(t, do(t, ts, "POST", "/api/generate", `{"model":"m16","steps":4,"n":1}`))
		if p := ofType(events, "preview"); len(p) != 0 {
			t.Fatalf("%d preview events without asking", len(p))
		}
		if len(ofType(events, "image")) != 1 {
			t.Fatal("no image")
		}
	})
	gen.mu.Lock()
	if len(gen.every) != 2 || gen.every[0] != 2 || gen.every[1] != 0 {
		t.Errorf("the plugin got PreviewEvery %v, want [2 0]", gen.every)
	}
	gen.mu.Unlock()
	for _, body := range []string{
		`{"model":"m16","steps":3,"n":1,"preview":-1}`,
		`{"model":"m16","steps":3,"n":1,"preview":101}`,
	} {
		wantError(t, do(t, ts, "POST", "/api/generate", body), http.StatusBadRequest, "invalid preview")
	}
}
