package unet

import (
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/internal/fmcpu"
)

func TestPresetsValidate(t *testing.T) {
	for _, name := range PresetNames() {
		cfg, err := Preset(name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("preset %q does not validate: %v", name, err)
		}
		if DescribePreset(name) == "" {
			t.Errorf("preset %q has no description", name)
		}
	}
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), "ref-unet-32") {
		t.Errorf("Preset(nope) error = %v, want one listing the valid presets", err)
	}
}

func TestValidateRejects(t *testing.T) {
	base, _ := Preset("ref-unet-32")
	tests := []struct {
		name   string
		change func(c *Config)
		want   string
	}{
		{"height not divisible", func(c *Config) { c.Height = 30 }, "height=30"},
		{"width zero", func(c *Config) { c.Width = 0 }, "width=0"},
		{"groups do not divide", func(c *Config) { c.GroupNormGroups = 5 }, "group_norm_groups=5"},
		{"no levels", func(c *Config) { c.ChannelMults = nil }, "channel_mults"},
		{"odd time embedding", func(c *Config) { c.TimeEmbedDim = 7 }, "time_embed_dim=7"},
		{"dropout too big", func(c *Config) { c.Dropout = 1 }, "dropout=1"},
		{"unknown conditioning", func(c *Config) { c.Conditioning = "film" }, "conditioning"},
		{"attention at missing resolution", func(c *Config) { c.AttentionResolutions = []int{12} }, "attention_resolutions"},
		{"heads do not divide", func(c *Config) { c.AttentionResolutions = []int{8}; c.AttentionHeads = 3 }, "attention_heads=3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.ChannelMults = append([]int(nil), base.ChannelMults...)
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestWithSizeKeepsAttentionLevels(t *testing.T) {
	cfg, _ := Preset("medium")
	got := cfg.WithSize(32, 48)
	if got.Height != 32 || got.Width != 48 || len(got.AttentionResolutions) != 2 || got.AttentionResolutions[0] != 8 || got.AttentionResolutions[1] != 4 {
		t.Fatalf("WithSize(32, 48) = %dx%d attention %v, want 32x48 attention [8 4]", got.Height, got.Width, got.AttentionResolutions)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("resized config does not validate: %v", err)
	}
	if cfg.Height != 64 || cfg.AttentionResolutions[0] != 16 {
		t.Errorf("WithSize changed the original config")
	}
}

func TestParseConfigRoundTripAndUnknownFields(t *testing.T) {
	cfg, _ := Preset("medium")
	data, err := cfg.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if got.Height != 64 || len(got.AttentionResolutions) != 2 || got.Conditioning != ConditionScaleShift {
		t.Errorf("round trip lost fields: %+v", got)
	}
	if _, err := ParseConfig([]byte(`{"height": 32, "flux_capacitor": 1}`)); err == nil || !strings.Contains(err.Error(), "flux_capacitor") {
		t.Errorf("ParseConfig with an unknown field = %v, want an error naming it", err)
	}
}

// The reference architecture is documented at about 0.40 GFLOP per image forward.
func TestRefUNet32FLOPs(t *testing.T) {
	cfg, _ := Preset("ref-unet-32")
	got := cfg.ForwardFLOPs() / 1e9
	if got < 0.38 || got > 0.42 {
		t.Errorf("ref-unet-32 forward = %.3f GFLOP per image, want about 0.40", got)
	}
	if r := cfg.TrainFLOPs() / cfg.ForwardFLOPs(); r != 3 {
		t.Errorf("TrainFLOPs/ForwardFLOPs = %v, want 3", r)
	}
}

// runVelocity evaluates the model on the pure-Go backend (forward only, which
// plain simplego supports).
func runVelocity(t *testing.T, cfg Config, batch int, seed int64) ([]float32, *context.Context) {
	t.Helper()
	backend, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, seed)
	x := make([]float32, batch*cfg.Height*cfg.Width*cfg.ImageChannels)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	ts := make([]float32, batch)
	for i := range ts {
		ts[i] = float32(i+1) / float32(batch+1)
	}
	out, err := context.ExecOnce(backend, ctx, func(ctx *context.Context, x, tt *Node) *Node {
		return Velocity(ctx, cfg, x, tt)
	}, tensors.FromFlatDataAndDimensions(x, batch, cfg.Height, cfg.Width, cfg.ImageChannels), ts)
	if err != nil {
		t.Fatalf("Velocity: %v", err)
	}
	if got, want := out.Shape().Dimensions, []int{batch, cfg.Height, cfg.Width, cfg.ImageChannels}; !equalInts(got, want) {
		t.Fatalf("output shape %v, want %v", got, want)
	}
	return tensors.MustCopyFlatData[float32](out), ctx
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// With its output layer initialised to zero, a new model predicts v = 0, and
// a model whose head has weights predicts something that depends on the input.
func TestVelocityShapesAndZeroInit(t *testing.T) {
	tests := []struct {
		name string
		cfg  func() Config
	}{
		{"tiny square", func() Config { c, _ := Preset("tiny"); return c }},
		{"tiny non-square", func() Config { c, _ := Preset("tiny"); c.Height, c.Width = 8, 24; return c }},
		{"scale-shift with attention and dropout", func() Config {
			c, _ := Preset("tiny")
			c.Conditioning = ConditionScaleShift
			c.AttentionResolutions = []int{8}
			c.AttentionHeads = 2
			c.Dropout = 0.1
			return c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg()
			out, ctx := runVelocity(t, cfg, 2, 1)
			for i, v := range out {
				if v != 0 {
					t.Fatalf("untrained output[%d] = %v, want 0 (zero-initialised head)", i, v)
				}
			}
			if ctx.NumVariables() < 10 {
				t.Errorf("model has %d variables, expected many more", ctx.NumVariables())
			}
		})
	}
}

// The same seed gives the same initial weights; another seed gives others.
func TestInitDeterministic(t *testing.T) {
	cfg, _ := Preset("tiny")
	weights := func(seed int64) []float32 {
		_, ctx := runVelocity(t, cfg, 1, seed)
		v := ctx.GetVariableByScopeAndName("/down0/block0/conv0", "kernel")
		if v == nil {
			t.Fatal("variable /down0/block0/conv0/kernel not found")
		}
		return tensors.MustCopyFlatData[float32](v.MustValue())
	}
	a, b, c := weights(7), weights(7), weights(8)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
	}
	if !same || !differ {
		t.Errorf("seed 7 twice identical=%v, seed 7 vs 8 differ=%v; want true, true", same, differ)
	}
}

// A model with a step input starts d-independent (the step MLP's last layer
// is zero): with a trained-looking head it gives the same velocity for every
// d, AverageVelocity at d = 0 equals Velocity, and configurations without
// the field serialise as before (old checkpoints keep matching).
func TestStepInput(t *testing.T) {
	cfg, _ := Preset("tiny")
	cfg.StepInput = true
	backend, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	const b = 3
	x := make([]float32, b*cfg.Height*cfg.Width*3)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	ts := []float32{0.1, 0.5, 0.9}
	ctx := context.New()
	SetInitSeed(ctx, 3)
	eval := func(d []float32) []float32 {
		out, err := context.ExecOnce(backend, ctx, func(ctx *context.Context, x, tt, dd *Node) *Node {
			return AverageVelocity(ctx, cfg, x, tt, dd)
		}, tensors.FromFlatDataAndDimensions(x, b, cfg.Height, cfg.Width, 3), ts, d)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out)
	}
	eval([]float32{0, 0, 0}) // creates the variables
	// give the head weights, so that the output depends on the embedding
	head := ctx.GetVariableByScopeAndName("/head", "kernel")
	w := tensors.MustCopyFlatData[float32](head.MustValue())
	for i := range w {
		w[i] = float32(math.Cos(float64(i))) * 0.1
	}
	head.MustSetValue(tensors.FromFlatDataAndDimensions(w, head.Shape().Dimensions...))
	zero, other := eval([]float32{0, 0, 0}), eval([]float32{1, 0.25, 0.1})
	plain, err := context.ExecOnce(backend, ctx, func(ctx *context.Context, x, tt *Node) *Node {
		return Velocity(ctx, cfg, x, tt)
	}, tensors.FromFlatDataAndDimensions(x, b, cfg.Height, cfg.Width, 3), ts)
	if err != nil {
		t.Fatal(err)
	}
	pv := tensors.MustCopyFlatData[float32](plain)
	nonzero := false
	for i := range zero {
		if zero[i] != other[i] || zero[i] != pv[i] {
			t.Fatalf("value %d: u(d=0) %v, u(d>0) %v, v %v; want all equal at initialisation", i, zero[i], other[i], pv[i])
		}
		nonzero = nonzero || zero[i] != 0
	}
	if !nonzero {
		t.Fatal("the output is all zero: the test does not see the embedding")
	}
	if ctx.GetVariableByScopeAndName("/step/dense1", "weights") == nil {
		t.Error("no step-embedding variables were created")
	}
	// JSON: step_input appears only when set.
	plainCfg, _ := Preset("tiny")
	data, _ := plainCfg.MarshalIndent()
	if strings.Contains(string(data), "step_input") {
		t.Errorf("a config without a step input serialises the field: %s", data)
	}
	data, _ = cfg.MarshalIndent()
	got, err := ParseConfig(data)
	if err != nil || !got.StepInput {
		t.Errorf("round trip of step_input: %v, %+v", err, got)
	}
}
