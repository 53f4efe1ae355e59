package engine

import (
	"bytes"
	"context"
	"image/png"
	"testing"

	"github.com/fm-image/fm-image/sdk"
)

// Previews arrive on the asked-for steps of each chunk, decode as PNGs of
// the model's size, and leave the final images byte-identical.
func TestGeneratePreviews(t *testing.T) {
	e := NewWithOptions(nil, Options{GenerateBatch: 2})
	model := trained(t, e)
	for _, sampler := range []string{"euler", "heun"} {
		req := sdk.GenerateRequest{ModelDir: model, N: 3, Steps: 5, Seed: 7, Sampler: sampler}
		plain, err := e.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatalf("%s: %v", sampler, err)
		}
		req.PreviewEvery = 2
		var events []sdk.GenerateProgress
		withPreviews, err := e.Generate(context.Background(), req, func(p sdk.GenerateProgress) { events = append(events, p) })
		if err != nil {
			t.Fatalf("%s with previews: %v", sampler, err)
		}
		for i := range plain {
			if !bytes.Equal(plain[i].PNG, withPreviews[i].PNG) {
				t.Errorf("%s: image %d differs with previews", sampler, i)
			}
		}
		if len(events) != 10 {
			t.Fatalf("%s: %d progress events, want 10 (2 chunks of 5 steps)", sampler, len(events))
		}
		// Chunk 0 (images 0, 1) at its steps 2 and 4, chunk 1 (image 2) likewise.
		wantIdx := map[int][]int{2: {0, 1}, 4: {0, 1}, 7: {2}, 9: {2}}
		for _, ev := range events {
			want := wantIdx[ev.Step]
			if len(ev.Previews) != len(want) {
				t.Errorf("%s step %d: %d previews, want %d", sampler, ev.Step, len(ev.Previews), len(want))
				continue
			}
			for j, p := range ev.Previews {
				dec, err := png.Decode(bytes.NewReader(p.PNG))
				if err != nil {
					t.Errorf("%s step %d preview %d: %v", sampler, ev.Step, j, err)
					continue
				}
				if p.Index != want[j] || p.Width != 16 || p.Height != 16 || dec.Bounds().Dx() != 16 || dec.Bounds().Dy() != 16 {
					t.Errorf("%s step %d preview %d: index %d, %dx%d (decoded %v), want index %d, 16x16",
						sampler, ev.Step, j, p.Index, p.Width, p.Height, dec.Bounds(), want[j])
				}
			}
		}
	}
}

// A cancelled context still stops generation with previews on.
func TestGeneratePreviewsCancel(t *testing.T) {
	e := NewWithOptions(nil, Options{})
	model := trained(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	_, err := e.Generate(ctx, sdk.GenerateRequest{ModelDir: model, N: 2, Steps: 50, Seed: 1, PreviewEvery: 1},
		func(p sdk.GenerateProgress) {
			steps = p.Step
			if p.Step == 3 {
				cancel()
			}
		})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("err = %v, want a cancellation error", err)
	}
	if steps != 3 {
		t.Errorf("progress reached step %d after cancelling at 3", steps)
	}
}

// The preview is the clean-image prediction x + (1 − t)·v, downscaled for
// large images, or x itself without a velocity.
func TestEncodePreviews(t *testing.T) {
	const h, w = 256, 256
	n := sdk.MaxPreviewImages + 2
	x := make([]float32, n*h*w*3) // zeros: mid grey
	v := make([]float32, len(x))
	for i := range v {
		v[i] = 1.5
	}
	for _, tc := range []struct {
		name string
		v    []float32
		want uint8 // the red level of every pixel
	}{
		{"prediction", v, 255 * 7 / 8}, // 0 + (1 − 0.5)·1.5 = 0.75 → (0.75+1)/2 = 7/8
		{"no velocity", nil, 255 / 2},  // 0 → (0+1)/2
		{"mismatched velocity", v[:3], 255 / 2},
	} {
		previews, err := encodePreviews(x, tc.v, 0.5, 10, n, h, w)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(previews) != sdk.MaxPreviewImages {
			t.Fatalf("%s: %d previews, want %d", tc.name, len(previews), sdk.MaxPreviewImages)
		}
		for i, p := range previews {
			dec, err := png.Decode(bytes.NewReader(p.PNG))
			if err != nil {
				t.Fatalf("%s preview %d: %v", tc.name, i, err)
			}
			if p.Index != 10+i || p.Width != sdk.MaxPreviewSide || p.Height != sdk.MaxPreviewSide || dec.Bounds().Dx() != sdk.MaxPreviewSide {
				t.Errorf("%s preview %d: index %d, %dx%d", tc.name, i, p.Index, p.Width, p.Height)
			}
			r, _, _, _ := dec.At(5, 7).RGBA()
			if got := uint8(r >> 8); got < tc.want-1 || got > tc.want+1 {
				t.Errorf("%s preview %d: red %d, want about %d", tc.name, i, got, tc.want)
			}
		}
	}
	if _, err := encodePreviews(x[:10], nil, 0.5, 0, 2, h, w); err == nil {
		t.Error("a short state was accepted")
	}
}
