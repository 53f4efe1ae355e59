// Package fmbench is the logic of cmd/fm-bench: it trains a U-Net preset (ref-unet-32 by
// default; package unet, with package training's objectives) on several GoMLX backends at several
// benchmark points in one run and prints seconds per step, images/s, GFLOP/s (unet's analytic
// count), peak memory, sampling throughput and the ratios between backends, and, when PyTorch is
// importable, the same numbers for the project's PyTorch peer (bench/unet_peer.py).
//
// The peer is given the preset's unet.Config as JSON at each point's size and the objective, and
// builds and trains the same network with the same work per step; Run refuses its figures unless
// its parameter count equals the Go model's ([ParamCount]).
package fmbench

import (
	"bufio"
	"cmp"
	stdcontext "context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/fm-image/fm-image/flow"
	"github.com/fm-image/fm-image/internal/backend"
	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
	"github.com/fm-image/fm-image/internal/fmcpu"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

// Point is one benchmark point: a batch size at a square image size.
type Point struct{ Batch, Size int }

// String formats a point as "batch@size".
func (p Point) String() string { return fmt.Sprintf("%dx%d b%d", p.Size, p.Size, p.Batch) }

// ParsePoints parses "16@32,64@32,16@64" (batch@size, comma-separated).
func ParsePoints(s string) ([]Point, error) {
	var pts []Point
	for _, f := range strings.Split(s, ",") {
		b, sz, ok := strings.Cut(strings.TrimSpace(f), "@")
		bi, err1 := strconv.Atoi(b)
		si, err2 := strconv.Atoi(sz)
		if !ok || err1 != nil || err2 != nil || bi < 1 || si < 8 {
			return nil, fmt.Errorf("bad point %q: want batch@size, e.g. 16@32", f)
		}
		pts = append(pts, Point{bi, si})
	}
	return pts, nil
}

// Options configure Run.
type Options struct {
	// Arch is the U-Net preset trained (default "ref-unet-32"; the default training recipe
	// is "small" with Objective "shortcut" at 32@32).
	Arch string
	// Objective is the training objective (default flow matching); a few-step objective
	// also gives the model its step input.
	Objective training.Objective
	// Backends to compare, by name: "fastcpu" or any name backend.Select accepts. The first
	// is the one ratios are computed for; the second its reference.
	Backends []string
	// Points to measure.
	Points []Point
	// Steps timed per point and backend (after one warm-up step); the median is reported.
	// SlowSteps applies to backends other than the first (they are slow).
	Steps, SlowSteps int
	// SampleBatch is the batch of the sampling measurement (0: skip sampling).
	SampleBatch int
	// Rounds repeats the whole measurement (every point, backend and the PyTorch peer, in
	// turn) this many times; with more than one, each figure is the median over the rounds,
	// so that a burst of load from other jobs on a shared machine skews no single ratio.
	Rounds int
	// Torch is the python interpreter for the PyTorch peer ("" to skip); Script its path
	// (default [DefaultScript]).
	Torch, Script string
	// Out receives the report.
	Out io.Writer
}

// DefaultScript is the PyTorch peer's path from the repository root.
const DefaultScript = "bench/unet_peer.py"

// Result is one measurement.
type Result struct {
	Backend     string
	Point       Point
	SecPerStep  float64
	CPUPerStep  float64 // process CPU seconds per step (user+system, median); 0 if unknown
	ImagesPerS  float64
	GFLOPs      float64
	PeakRSSMiB  float64 // peak resident memory during the measurement (0 if unknown)
	SampleImgPS float64 // sampling images/s at 20 Euler steps (0 if not measured)
}

// newBackend returns a backend by name.
func newBackend(name string) (backends.Backend, error) {
	n, cfg, _ := strings.Cut(name, ":")
	if n == fastcpu.Name {
		return fastcpu.New(cfg)
	}
	return backend.Select(name)
}

// Run measures every backend at every point and prints the report.
func Run(opts Options) ([]Result, error) {
	w := opts.Out
	opts.Arch = cmp.Or(opts.Arch, "ref-unet-32")
	opts.Objective = cmp.Or(opts.Objective, training.ObjectiveFlowMatching)
	opts.Script = cmp.Or(opts.Script, DefaultScript)
	if _, err := unet.Preset(opts.Arch); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%s %s training, %d CPUs (GOMAXPROCS %d); median of timed steps after one warm-up step\n",
		opts.Arch, opts.Objective, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "fastcpu kernels on this machine: GEMM %s; convolutions %s\n", kernels.Kernel(), kernels.ConvKernels())
	fmt.Fprintf(w, "GFLOP/s counts 3x the forward multiply-adds x 2 (unet.Config.TrainFLOPs). Machine may be shared: compare ratios.\n\n")
	fmt.Fprintf(w, "CPU s/step is the process CPU time per step; GFLOP/CPU-s divides the FLOPs by it (x%d would be the\n"+
		"rate on %d uncontended cores).\n\n", runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0))
	rounds := max(opts.Rounds, 1)
	var all []Result
	for round := 1; round <= rounds; round++ {
		if rounds > 1 {
			fmt.Fprintf(w, "round %d of %d\n", round, rounds)
		}
		printHeader(w)
		for _, pt := range opts.Points {
			for i, name := range opts.Backends {
				steps := opts.Steps
				if i > 0 {
					steps = opts.SlowSteps
				}
				r, err := measure(opts.Arch, opts.Objective, name, pt, steps, opts.SampleBatch)
				if err != nil {
					return all, fmt.Errorf("%s at %s: %w", name, pt, err)
				}
				all = append(all, r)
				printResult(w, r)
			}
			if opts.Torch != "" {
				r, err := runTorch(opts.Torch, opts.Script, opts.Arch, opts.Objective, pt, opts.Steps, opts.SampleBatch)
				if err != nil {
					fmt.Fprintf(w, "%-10s %-24s failed: %v\n", pt, "pytorch", err)
				} else {
					all = append(all, r)
					printResult(w, r)
				}
			}
		}
		fmt.Fprintln(w)
	}
	results := all
	if rounds > 1 {
		results = medians(all)
		fmt.Fprintf(w, "median over %d rounds\n", rounds)
		printHeader(w)
		for _, r := range results {
			printResult(w, r)
		}
		fmt.Fprintln(w)
	}
	if len(opts.Backends) > 0 {
		first := opts.Backends[0]
		for _, other := range append(slices.Clone(opts.Backends[1:]), "pytorch") {
			for _, pt := range opts.Points {
				a, b := find(results, first, pt), find(results, other, pt)
				if a == nil || b == nil {
					continue
				}
				line := fmt.Sprintf("%-10s %s/%s speed ratio (training): %.2fx", pt, first, other, b.SecPerStep/a.SecPerStep)
				if a.SampleImgPS > 0 && b.SampleImgPS > 0 {
					line += fmt.Sprintf(", sampling: %.2fx", a.SampleImgPS/b.SampleImgPS)
				}
				fmt.Fprintln(w, line)
			}
		}
	}
	if opts.Torch == "" {
		fmt.Fprintln(w, "PyTorch peer skipped: turned off (-torch=false), or no python3 with torch found (Debian: apt-get install python3-torch; /usr/bin/python3 is checked).")
	}
	return results, nil
}

func printHeader(w io.Writer) {
	fmt.Fprintf(w, "%-10s %-24s %9s %9s %9s %9s %11s %10s %12s\n", "point", "backend", "s/step", "images/s", "GFLOP/s",
		"CPU s/st", "GFLOP/CPU-s", "peak MiB", "sample img/s")
}

func printResult(w io.Writer, r Result) {
	if r.Backend == "pytorch" {
		fmt.Fprintf(w, "%-10s %-24s %9.3f %9.1f %9.1f %9s %11s %10s %12s\n", r.Point, r.Backend, r.SecPerStep,
			r.ImagesPerS, r.GFLOPs, "-", "-", "-", fmtOpt(r.SampleImgPS))
		return
	}
	fmt.Fprintf(w, "%-10s %-24s %9.3f %9.1f %9.1f %9.3f %11.1f %10.0f %12s\n", r.Point, r.Backend, r.SecPerStep,
		r.ImagesPerS, r.GFLOPs, r.CPUPerStep, r.GFLOPs*r.SecPerStep/max(r.CPUPerStep, 1e-9), r.PeakRSSMiB,
		fmtOpt(r.SampleImgPS))
}

// medians returns, per (backend, point) in order of first appearance, the result with the
// median s/step, its sampling rate replaced by the median sampling rate.
func medians(all []Result) []Result {
	type key struct {
		backend string
		pt      Point
	}
	var order []key
	groups := make(map[key][]Result)
	for _, r := range all {
		k := key{r.Backend, r.Point}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		g := groups[k]
		slices.SortFunc(g, func(a, b Result) int { return cmp.Compare(a.SecPerStep, b.SecPerStep) })
		m := g[len(g)/2]
		samples := make([]float64, 0, len(g))
		for _, r := range g {
			if r.SampleImgPS > 0 {
				samples = append(samples, r.SampleImgPS)
			}
		}
		if len(samples) > 0 {
			slices.Sort(samples)
			m.SampleImgPS = samples[len(samples)/2]
		}
		out = append(out, m)
	}
	return out
}

func fmtOpt(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

func find(rs []Result, backend string, pt Point) *Result {
	for i := range rs {
		if rs[i].Backend == backend && rs[i].Point == pt {
			return &rs[i]
		}
	}
	return nil
}

// ModelConfig returns the U-Net that the benchmark trains for the arch preset and the objective
// at a square image size: the preset at that size, with the step input a few-step objective
// needs. The Go backends and the PyTorch peer both train it.
func ModelConfig(arch string, objective training.Objective, size int) (unet.Config, error) {
	cfg, err := unet.Preset(arch)
	if err != nil {
		return cfg, err
	}
	cfg = cfg.WithSize(size, size)
	cfg.StepInput = objective.FlowMap()
	return cfg, cfg.Validate()
}

// ParamCount returns the number of trainable values of the Go model cfg describes, from the
// variables unet.Velocity creates (the graph is built, never run).
func ParamCount(cfg unet.Config) (n int, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	b, err := fmcpu.New("")
	if err != nil {
		return 0, err
	}
	defer b.Finalize()
	defer func() { // graph building reports errors by panicking
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("build %s to count its parameters: %v", cmp.Or(cfg.Name, "the U-Net"), r)
		}
	}()
	ctx := context.New()
	g := graph.NewGraph(b, "parameter count")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 1, cfg.Height, cfg.Width, cfg.ImageChannels))
	t := graph.Parameter(g, "t", shapes.Make(dtypes.Float32, 1))
	unet.Velocity(ctx, cfg, x, t)
	for v := range ctx.IterVariables() {
		n += v.Shape().Size()
	}
	return n, nil
}

// measure trains the arch preset with the objective on one backend at one point.
func measure(arch string, objective training.Objective, name string, pt Point, steps, sampleBatch int) (Result, error) {
	res := Result{Backend: name, Point: pt}
	cfg, err := ModelConfig(arch, objective, pt.Size)
	if err != nil {
		return res, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	backend, err := newBackend(name)
	if err != nil {
		return res, err
	}
	defer backend.Finalize()
	tr, err := training.NewTrainer(backend, unet.Model{Config: cfg}, training.TrainConfig{
		Steps: 1000, BatchSize: pt.Batch, WarmupSteps: -1, Seed: 1, Objective: objective,
	})
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x1 := make([]float32, pt.Batch*pt.Size*pt.Size*cfg.ImageChannels)
	for i := range x1 {
		x1[i] = 2*rng.Float32() - 1
	}
	if _, _, err := tr.TrainStep(x1, pt.Batch); err != nil { // warm-up: compiles
		return res, err
	}
	times := make([]float64, 0, steps)
	cpus := make([]float64, 0, steps)
	for range max(steps, 1) {
		start, cpu0 := time.Now(), processCPU()
		if _, _, err := tr.TrainStep(x1, pt.Batch); err != nil {
			return res, err
		}
		times = append(times, time.Since(start).Seconds())
		cpus = append(cpus, processCPU()-cpu0)
	}
	slices.Sort(cpus)
	res.CPUPerStep = cpus[len(cpus)/2]
	res.PeakRSSMiB = peakRSSMiB()
	slices.Sort(times)
	res.SecPerStep = times[len(times)/2]
	res.ImagesPerS = float64(pt.Batch) / res.SecPerStep
	res.GFLOPs = cfg.TrainFLOPs() * float64(pt.Batch) / res.SecPerStep / 1e9
	if sampleBatch > 0 {
		ck, err := tr.Checkpoint()
		if err != nil {
			return res, err
		}
		f, err := training.NewModelField(backend, unet.Model{Config: cfg}, ck, true)
		if err != nil {
			return res, err
		}
		x := make([]float32, sampleBatch*pt.Size*pt.Size*cfg.ImageChannels)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		opts := flow.SampleOptions{Method: flow.Euler, Steps: 20}
		one := flow.SampleOptions{Method: flow.Euler, Steps: 1}
		if err := flow.Integrate(stdcontext.Background(), f, slices.Clone(x), sampleBatch, one); err != nil { // compile
			return res, err
		}
		start := time.Now()
		if err := flow.Integrate(stdcontext.Background(), f, x, sampleBatch, opts); err != nil {
			return res, err
		}
		res.SampleImgPS = float64(sampleBatch) / time.Since(start).Seconds()
	}
	return res, nil
}

// resetPeakRSS resets the kernel's peak-RSS counter of this process (Linux; ignored elsewhere).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMiB reads VmHWM from /proc/self/status (0 if unavailable).
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err == nil {
				return float64(kb) / 1024
			}
		}
	}
	return 0
}

// FindTorch returns a python interpreter that can import torch ("" if none): /usr/bin/python3
// (Debian's python3-torch) first, then python3 on PATH.
func FindTorch() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	return ""
}

// runTorch runs the PyTorch peer script on the arch preset with the objective at one point and
// checks that the peer's network has as many parameters as the Go one.
func runTorch(py, script, arch string, objective training.Objective, pt Point, steps, sampleBatch int) (Result, error) {
	res := Result{Backend: "pytorch", Point: pt}
	cfg, err := ModelConfig(arch, objective, pt.Size)
	if err != nil {
		return res, err
	}
	want, err := ParamCount(cfg)
	if err != nil {
		return res, err
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return res, err
	}
	out, err := exec.Command(py, PeerArgs(script, js, objective, pt, steps, sampleBatch, runtime.GOMAXPROCS(0))...).CombinedOutput()
	if err != nil {
		return res, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	peer, err := ParsePeerOutput(string(out))
	if err != nil {
		return res, err
	}
	if peer.SecPerStep <= 0 {
		return res, fmt.Errorf("no s/step in the peer's output: %s", strings.TrimSpace(string(out)))
	}
	if peer.Params != want {
		return res, fmt.Errorf("the peer's %s has %d parameters, the Go model %d: %s does not build the same network",
			arch, peer.Params, want, script)
	}
	res.SecPerStep, res.SampleImgPS = peer.SecPerStep, peer.SampleImgPS
	res.ImagesPerS = float64(pt.Batch) / res.SecPerStep
	res.GFLOPs = cfg.TrainFLOPs() * float64(pt.Batch) / res.SecPerStep / 1e9
	return res, nil
}

// PeerArgs returns the arguments of the PyTorch peer script for the model configJSON (a
// unet.Config) trained with the objective at one point.
func PeerArgs(script string, configJSON []byte, objective training.Objective, pt Point, steps, sampleBatch, threads int) []string {
	return []string{script, "--config", string(configJSON), "--objective", string(objective),
		"--batch", strconv.Itoa(pt.Batch), "--size", strconv.Itoa(pt.Size), "--steps", strconv.Itoa(steps),
		"--sample-batch", strconv.Itoa(sampleBatch), "--threads", strconv.Itoa(threads)}
}

// PeerOutput holds what the PyTorch peer prints: "params <n>", "s/step <median>" and, unless
// sampling was skipped, "sample_img/s <v>".
type PeerOutput struct {
	Params      int
	SecPerStep  float64
	SampleImgPS float64
}

// ParsePeerOutput reads the peer's output; other lines are ignored, and so is a figure that is
// not a number. The parameter count is required (it is all that --params-only prints).
func ParsePeerOutput(out string) (PeerOutput, error) {
	var p PeerOutput
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		switch f[0] {
		case "params":
			if n, err := strconv.Atoi(f[1]); err == nil {
				p.Params = n
			}
		case "s/step", "sample_img/s":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				continue
			}
			if f[0] == "s/step" {
				p.SecPerStep = v
			} else {
				p.SampleImgPS = v
			}
		}
	}
	if p.Params <= 0 {
		return p, fmt.Errorf("no parameter count (params N) in the peer's output: %s", strings.TrimSpace(out))
	}
	return p, nil
}

// processCPU returns the process's CPU time (user + system) in seconds; 0 where unknown.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
