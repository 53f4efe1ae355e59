package fmbench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/internal/fmcpu"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// peerScript is the PyTorch peer's path from this package's directory.
const peerScript = "../unet_peer.py"

// objectives are the objectives fm-bench accepts; the peer implements each.
var objectives = []training.Objective{training.ObjectiveFlowMatching, training.ObjectiveShortcut, training.ObjectiveMeanFlow}

// needTorch returns a python interpreter that can import torch, or skips the test.
func needTorch(t *testing.T) string {
	t.Helper()
	py := FindTorch()
	if py == "" {
		t.Skip("the PyTorch peer needs a python3 that can import torch (Debian: apt-get install python3-torch); none found")
	}
	return py
}

func TestParsePoints(t *testing.T) {
	pts, err := ParsePoints("16@32, 64@32,16@64")
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{16, 32}, {64, 32}, {16, 64}}
	if len(pts) != len(want) {
		t.Fatalf("got %v, want %v", pts, want)
	}
	for i := range want {
		if pts[i] != want[i] {
			t.Fatalf("got %v, want %v", pts, want)
		}
	}
	for _, bad := range []string{"", "16", "16@", "0@32", "16@4", "a@32"} {
		if _, err := ParsePoints(bad); err == nil {
			t.Errorf("ParsePoints(%q) succeeded", bad)
		}
	}
}

// TestRunSmall runs the whole benchmark at a tiny point on fastcpu only and checks the report.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("trains ref-unet-32 for a few steps")
	}
	var out bytes.Buffer
	res, err := Run(Options{Backends: []string{"fastcpu"}, Points: []Point{{2, 32}}, Steps: 1, SampleBatch: 1, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].SecPerStep <= 0 || res[0].SampleImgPS <= 0 {
		t.Fatalf("results %+v", res)
	}
	if !strings.Contains(out.String(), "fastcpu") || !strings.Contains(out.String(), "PyTorch peer skipped") {
		t.Fatalf("report:\n%s", out.String())
	}
}

func TestMedians(t *testing.T) {
	a, b := Point{16, 32}, Point{64, 32}
	all := []Result{
		{Backend: "fastcpu", Point: a, SecPerStep: 3, SampleImgPS: 10},
		{Backend: "pytorch", Point: a, SecPerStep: 2},
		{Backend: "fastcpu", Point: b, SecPerStep: 9},
		{Backend: "fastcpu", Point: a, SecPerStep: 1, SampleImgPS: 30},
		{Backend: "fastcpu", Point: a, SecPerStep: 2, SampleImgPS: 20},
	}
	got := medians(all)
	if len(got) != 3 {
		t.Fatalf("got %d groups, want 3: %+v", len(got), got)
	}
	if got[0].Backend != "fastcpu" || got[0].Point != a || got[0].SecPerStep != 2 || got[0].SampleImgPS != 20 {
		t.Errorf("fastcpu at %v: %+v, want s/step 2 and 20 images/s", a, got[0])
	}
	if got[1].Backend != "pytorch" || got[1].SecPerStep != 2 || got[2].Point != b || got[2].SecPerStep != 9 {
		t.Errorf("other groups: %+v", got[1:])
	}
}

func TestParsePeerOutput(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      PeerOutput
		wantErr   bool
	}{
		{"full", "params 1692355\ns/step 0.084000\nsample_img/s 34.200\n", PeerOutput{1692355, 0.084, 34.2}, false},
		{"no sampling", "params 12\ns/step 1.5\n", PeerOutput{12, 1.5, 0}, false},
		{"params only", "params 12\n", PeerOutput{Params: 12}, false},
		{"noise ignored", "warning: something\nparams 7\ns/step x\ns/step 2 extra\ns/step 0.5\n", PeerOutput{7, 0.5, 0}, false},
		{"no params", "s/step 0.5\nsample_img/s 3\n", PeerOutput{}, true},
		{"bad params", "params 1.5e6\ns/step 0.5\n", PeerOutput{}, true},
		{"empty", "", PeerOutput{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePeerOutput(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParsePeerOutput(%q) error %v, want error %v", tc.out, err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("ParsePeerOutput(%q) = %+v, want %+v", tc.out, got, tc.want)
			}
		})
	}
}

func TestModelConfig(t *testing.T) {
	for _, tc := range []struct {
		arch      string
		objective training.Objective
		size      int
		attention []int
	}{
		{"ref-unet-32", training.ObjectiveFlowMatching, 64, nil},
		{"small", training.ObjectiveShortcut, 32, nil},
		{"medium", training.ObjectiveMeanFlow, 32, []int{8, 4}}, // 16x16 and 8x8 at its own 64x64
		{"medium", training.ObjectiveFlowMatching, 64, []int{16, 8}},
	} {
		cfg, err := ModelConfig(tc.arch, tc.objective, tc.size)
		if err != nil {
			t.Fatalf("%s %s at %d: %v", tc.arch, tc.objective, tc.size, err)
		}
		if cfg.Height != tc.size || cfg.Width != tc.size || cfg.StepInput != tc.objective.FlowMap() ||
			!slices.Equal(cfg.AttentionResolutions, tc.attention) {
			t.Errorf("%s %s at %d: size %dx%d, step input %v, attention %v; want attention %v",
				tc.arch, tc.objective, tc.size, cfg.Height, cfg.Width, cfg.StepInput, cfg.AttentionResolutions, tc.attention)
		}
	}
	if _, err := ModelConfig("ref-unet-32", training.ObjectiveFlowMatching, 30); err == nil {
		t.Error("ModelConfig accepted 30x30 for a U-Net that halves the size twice")
	}
}

// TestParamCount checks the Go count against the closed-form figure of ref-unet-32
// (unet/params_test.go and docs/ref-unet-32.md) and what the step input adds.
func TestParamCount(t *testing.T) {
	const refUNet32 = 1_692_355
	for _, tc := range []struct {
		objective training.Objective
		want      int
	}{
		{training.ObjectiveFlowMatching, refUNet32},
		// the step MLP: Dense(64 -> 128) and Dense(128 -> 128), with biases
		{training.ObjectiveShortcut, refUNet32 + 64*128 + 128 + 128*128 + 128},
	} {
		cfg, err := ModelConfig("ref-unet-32", tc.objective, 32)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParamCount(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("ref-unet-32 for %s: %d parameters, want %d", tc.objective, got, tc.want)
		}
	}
}

// TestPeerParams builds every preset, for every objective, at its own size in the PyTorch peer
// and checks its parameter count against the Go model's.
func TestPeerParams(t *testing.T) {
	py := needTorch(t)
	for _, arch := range unet.PresetNames() {
		preset, err := unet.Preset(arch)
		if err != nil {
			t.Fatal(err)
		}
		for _, objective := range objectives {
			t.Run(arch+"/"+string(objective), func(t *testing.T) {
				cfg, err := ModelConfig(arch, objective, preset.Height)
				if err != nil {
					t.Fatal(err)
				}
				want, err := ParamCount(cfg)
				if err != nil {
					t.Fatal(err)
				}
				js, err := json.Marshal(cfg)
				if err != nil {
					t.Fatal(err)
				}
				args := append(PeerArgs(peerScript, js, objective, Point{1, cfg.Height}, 1, 0, 1), "--params-only")
				out, err := exec.Command(py, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				p, err := ParsePeerOutput(string(out))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d parameters", p.Params)
				if p.Params != want {
					t.Errorf("the peer has %d parameters, the Go model %d", p.Params, want)
				}
			})
		}
	}
}

// TestRefUNet32Wrapper checks that bench/ref_unet_32.py, the peer with ref-unet-32 built in,
// still builds that network.
func TestRefUNet32Wrapper(t *testing.T) {
	py := needTorch(t)
	cfg, err := ModelConfig("ref-unet-32", training.ObjectiveFlowMatching, 32)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParamCount(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "../ref_unet_32.py", "--params-only").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	p, err := ParsePeerOutput(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if p.Params != want {
		t.Errorf("bench/ref_unet_32.py has %d parameters, ref-unet-32 in Go %d", p.Params, want)
	}
}

// TestPeerRefusesBadConfig checks that the peer fails loudly on a config it cannot build exactly.
func TestPeerRefusesBadConfig(t *testing.T) {
	py := needTorch(t)
	cfg, err := ModelConfig("tiny", training.ObjectiveFlowMatching, 16)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, config string
		objective    training.Objective
		wantMsg      string
	}{
		{"unknown field", strings.Replace(string(js), "{", `{"new_layer":1,`, 1), training.ObjectiveFlowMatching, "unknown: new_layer"},
		{"shortcut without a step input", string(js), training.ObjectiveShortcut, "needs a model with a step input"},
		{"not JSON", "{height", training.ObjectiveFlowMatching, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(PeerArgs(peerScript, []byte(tc.config), tc.objective, Point{1, 16}, 1, 0, 1), "--params-only")
			out, err := exec.Command(py, args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.wantMsg) {
				t.Errorf("peer exit %v, output %q; want a failure saying %q", err, out, tc.wantMsg)
			}
		})
	}
}

// TestPeerTrains runs the peer's training and sampling for a step on the tiny preset with
// every objective, as Run does.
func TestPeerTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the tiny preset in PyTorch")
	}
	py := needTorch(t)
	for _, objective := range objectives {
		t.Run(string(objective), func(t *testing.T) {
			r, err := runTorch(py, peerScript, "tiny", objective, Point{2, 16}, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Backend != "pytorch" || r.SecPerStep <= 0 || r.SampleImgPS <= 0 || r.GFLOPs <= 0 {
				t.Errorf("result %+v", r)
			}
		})
	}
}

// TestPeerMatchesGo checks that the peer computes the Go network's function, not only one with
// as many parameters: the Go model's forward pass, on random weights (none of them zero, so that
// the layers that start at zero count too), is evaluated by the peer with those weights
// (unet_peer.py --check) and the outputs compared. The cases cover each preset's features:
// "add" and "scale-shift" conditioning, the step input, labels, attention, several blocks per
// level and four levels (medium, narrowed to keep the weights small).
func TestPeerMatchesGo(t *testing.T) {
	py := needTorch(t)
	for _, tc := range []struct {
		name   string
		arch   string
		size   int
		modify func(*unet.Config)
	}{
		{"ref-unet-32", "ref-unet-32", 16, nil},
		{"tiny with labels", "tiny", 16, func(c *unet.Config) { c.NumClasses = 3 }},
		{"small with step input", "small", 16, func(c *unet.Config) { c.StepInput = true }},
		{"medium narrowed, with step input", "medium", 16, func(c *unet.Config) { c.BaseChannels, c.StepInput = 32, true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ModelConfig(tc.arch, training.ObjectiveFlowMatching, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if tc.modify != nil {
				tc.modify(&cfg)
			}
			check := writeGoForward(t, cfg, t.TempDir())
			out, err := exec.Command(py, peerScript, "--threads", "1", "--check", check).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			var diff, scale float64
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) == 2 {
					v, _ := strconv.ParseFloat(f[1], 64)
					switch f[0] {
					case "max_abs_diff":
						diff = v
					case "max_abs_v":
						scale = v
					}
				}
			}
			t.Logf("largest |v| %.3g, largest difference %.3g", scale, diff)
			if scale == 0 || diff > 1e-3*max(scale, 1) {
				t.Errorf("the peer's output differs from Go's by up to %g (largest |v| %g): %s", diff, scale, out)
			}
		})
	}
}

// writeGoForward evaluates cfg's Go model, with random weights, on a batch of two and writes
// what unet_peer.py --check reads into dir: check.json (the config, and the dimensions and
// offsets of every variable, of x, t, d and of the output v) and check.bin (the float32 values).
// It returns check.json's path.
func writeGoForward(t *testing.T, cfg unet.Config, dir string) string {
	t.Helper()
	b, err := fmcpu.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	ctx := context.New()
	var e *context.Exec
	if cfg.StepInput {
		e, err = context.NewExec(b, ctx, func(ctx *context.Context, x, tt, d *graph.Node) *graph.Node {
			return unet.AverageVelocity(ctx, cfg, x, tt, d)
		})
	} else {
		e, err = context.NewExec(b, ctx, func(ctx *context.Context, x, tt *graph.Node) *graph.Node {
			return unet.Velocity(ctx, cfg, x, tt)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer e.Finalize()
	rng := rand.New(rand.NewPCG(5, 6))
	const batch = 2
	x := make([]float32, batch*cfg.Height*cfg.Width*cfg.ImageChannels)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	ts, ds := []float32{0.3, 0.8}, []float32{0.25, 0}
	args := []any{tensors.FromFlatDataAndDimensions(x, batch, cfg.Height, cfg.Width, cfg.ImageChannels), ts}
	if cfg.StepInput {
		args = append(args, ds)
	}
	if _, err := e.Exec(args...); err != nil { // creates the variables
		t.Fatal(err)
	}

	type entry struct {
		Name   string `json:"name,omitempty"`
		Dims   []int  `json:"dims"`
		Offset int    `json:"offset"`
	}
	var data []float32
	add := func(name string, dims []int, values []float32) entry {
		en := entry{name, dims, len(data)}
		data = append(data, values...)
		return en
	}
	var vars []entry
	for v := range ctx.IterVariables() {
		dims := v.Shape().Dimensions
		values := make([]float32, v.Shape().Size())
		std := 0.2 // rank 1: biases, GroupNorm gains (around 1) and offsets
		if len(dims) > 1 {
			std = 1 / math.Sqrt(float64(len(values)/dims[len(dims)-1])) // 1/sqrt(fan-in)
		}
		for i := range values {
			values[i] = float32(rng.NormFloat64() * std)
			if v.Name() == "gain" {
				values[i]++
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(values, dims...))
		vars = append(vars, add(v.ScopeAndName(), slices.Clone(dims), values))
	}
	outs, err := e.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	spec := map[string]any{
		"config":  cfg,
		"data":    "check.bin",
		"tensors": vars,
		"x":       add("", []int{batch, cfg.Height, cfg.Width, cfg.ImageChannels}, x),
		"t":       add("", []int{batch}, ts),
		"v":       add("", outs[0].Shape().Dimensions, tensors.MustCopyFlatData[float32](outs[0])),
	}
	if cfg.StepInput {
		spec["d"] = add("", []int{batch}, ds)
	}
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "check.json")
	if err := os.WriteFile(filepath.Join(dir, "check.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, js, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
