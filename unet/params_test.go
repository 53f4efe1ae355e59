package unet

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/internal/fmcpu"
)

// TestRefUNet32Parameters counts the trainable values of ref-unet-32 from the
// variables Velocity creates (the graph is built, never run) and checks them,
// per top-level part of the network, against the closed-form count of each
// layer. docs/ref-unet-32.md quotes these figures; `go test -run
// TestRefUNet32Parameters -v ./unet` prints the breakdown.
func TestRefUNet32Parameters(t *testing.T) {
	cfg, err := Preset("ref-unet-32")
	if err != nil {
		t.Fatal(err)
	}
	backend, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	g := NewGraph(backend, "ref-unet-32 parameters")
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 1, cfg.Height, cfg.Width, cfg.ImageChannels))
	tt := Parameter(g, "t", shapes.Make(dtypes.Float32, 1))
	Velocity(ctx, cfg, x, tt)

	got := map[string]int{}
	total := 0
	for v := range ctx.IterVariables() {
		part, _, _ := strings.Cut(strings.TrimPrefix(v.Scope(), "/"), "/")
		got[part] += v.Shape().Size()
		total += v.Shape().Size()
	}

	const temb = 128 // TimeHiddenDim
	conv := func(k, cin, cout int) int { return k*k*cin*cout + cout }
	dense := func(cin, cout int) int { return cin*cout + cout }
	norm := func(c int) int { return 2 * c }
	block := func(cin, cout int) int {
		n := norm(cin) + conv(3, cin, cout) + dense(temb, cout) + norm(cout) + conv(3, cout, cout)
		if cin != cout {
			n += conv(1, cin, cout)
		}
		return n
	}
	want := map[string]int{
		"time":      dense(64, temb) + dense(temb, temb),
		"stem":      conv(3, 3, 32),
		"down0":     block(32, 32),
		"down1":     block(32, 64),
		"down2":     block(64, 128),
		"middle0":   block(128, 128),
		"middle1":   block(128, 128),
		"up2":       block(128+128, 128),
		"up1":       block(128+64, 64),
		"up0":       block(64+32, 32),
		"head_norm": norm(32),
		"head":      conv(3, 32, 3),
	}
	for _, part := range []string{"time", "stem", "down0", "down1", "down2", "middle0", "middle1", "up2", "up1", "up0", "head_norm", "head"} {
		t.Logf("%-9s %8d", part, got[part])
		if got[part] != want[part] {
			t.Errorf("%s has %d parameters, want %d", part, got[part], want[part])
		}
	}
	t.Logf("%-9s %8d", "total", total)
	if len(got) != len(want) {
		t.Errorf("parts %v, want those of %v", got, want)
	}
	const wantTotal = 1_692_355
	if total != wantTotal {
		t.Errorf("ref-unet-32 has %d parameters, want %d (update docs/ref-unet-32.md if the architecture changed)", total, wantTotal)
	}
}
