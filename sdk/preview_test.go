package sdk_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/fm-image/fm-image/sdk"
	"github.com/fm-image/fm-image/sdk/sdktest"
)

// previewGen is a Generator whose Generate sends one progress event with the
// previews it is given, and remembers the request it received.
// previewGen is a Generator whose Generate sends the given previews at its
// first step; its other calls come from sdktest.Generator.
type previewGen struct {
	sdktest.Generator
	previews []sdk.Image
	got      sdk.GenerateRequest
}

func (g *previewGen) Generate(_ context.Context, req sdk.GenerateRequest, progress func(sdk.GenerateProgress)) ([]sdk.Image, error) {
	g.got = req
	progress(sdk.GenerateProgress{Step: 1, TotalSteps: 2, Previews: g.previews})
	progress(sdk.GenerateProgress{Step: 2, TotalSteps: 2})
	images := make([]sdk.Image, req.N)
	for i := range images {
		images[i] = sdk.Image{Index: i, Width: 1, Height: 1, PNG: []byte{byte(i)}}
	}
	return images, nil
}

func TestPreviewsCrossTheWire(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		previews []sdk.Image
		want     []sdk.Image // nil: the same as previews
	}{
		{"two", 2, []sdk.Image{
			{Index: 0, Width: 8, Height: 8, PNG: []byte("png0")},
			{Index: 1, Width: 8, Height: 8, PNG: []byte("png1")},
		}, nil},
		{"capped count", 40, previewsOf(20, 10), previewsOf(sdk.MaxPreviewImages, 10)},
		{"capped bytes", 4, previewsOf(3, sdk.MaxPreviewBytes/2+1), previewsOf(1, sdk.MaxPreviewBytes/2+1)},
		{"index outside the batch dropped", 2, []sdk.Image{
			{Index: 5, Width: 8, Height: 8, PNG: []byte("png5")},
			{Index: 1, Width: 8, Height: 8, PNG: []byte("png1")},
		}, []sdk.Image{{Index: 1, Width: 8, Height: 8, PNG: []byte("png1")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &previewGen{previews: tc.previews}
			c := inProcess(t, g)
			var events []sdk.GenerateProgress
			req := sdk.GenerateRequest{ModelDir: "m", N: tc.n, Steps: 2, PreviewEvery: 1}
			images, err := c.Generate(context.Background(), req, func(p sdk.GenerateProgress) { events = append(events, p) })
			if err != nil {
				t.Fatal(err)
			}
			if g.got.PreviewEvery != 1 {
				t.Errorf("plugin got PreviewEvery %d, want 1", g.got.PreviewEvery)
			}
			if len(images) != tc.n {
				t.Errorf("%d images, want %d", len(images), tc.n)
			}
			if len(events) != 2 {
				t.Fatalf("%d progress events, want 2", len(events))
			}
			want := tc.want
			if want == nil {
				want = tc.previews
			}
			if !reflect.DeepEqual(events[0].Previews, want) {
				t.Errorf("previews = %s\nwant %s", describe(events[0].Previews), describe(want))
			}
			if events[1].Previews != nil {
				t.Errorf("step 2 carried %d previews, want none", len(events[1].Previews))
			}
		})
	}
}

// previewsOf returns n previews of size bytes each.
func previewsOf(n, size int) []sdk.Image {
	out := make([]sdk.Image, n)
	for i := range out {
		png := make([]byte, size)
		png[0] = byte(i)
		out[i] = sdk.Image{Index: i, Width: 16, Height: 16, PNG: png}
	}
	return out
}

func describe(images []sdk.Image) string {
	s := fmt.Sprintf("%d:", len(images))
	for _, img := range images {
		s += fmt.Sprintf(" #%d %dx%d %dB", img.Index, img.Width, img.Height, len(img.PNG))
	}
	return s
}
