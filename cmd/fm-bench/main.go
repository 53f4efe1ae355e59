// Command fm-bench compares GoMLX backends (and, when available, PyTorch) on U-Net training
// and sampling: ref-unet-32 with flow matching by default, or any preset and objective. The
// PyTorch peer (bench/unet_peer.py) trains the same network with the same objective. The logic
// lives in bench/fmbench.
//
//	GOEXPERIMENT=simd go run ./cmd/fm-bench                      # fastcpu vs fmcpu at 16@32,64@32,16@64
//	GOEXPERIMENT=simd go run ./cmd/fm-bench -points 16@32 -backends fastcpu
//	GOEXPERIMENT=simd go run ./cmd/fm-bench -backends fastcpu -rounds 3  # medians of 3 interleaved rounds
//	GOEXPERIMENT=simd go run ./cmd/fm-bench -arch small -objective shortcut -points 32@32  # the default recipe
//	GOEXPERIMENT=simd go run ./cmd/fm-bench -arch tiny,small,medium -points 16@32       # every preset
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fm-image/fm-image/bench/fmbench"
	"github.com/fm-image/fm-image/training"
	"github.com/fm-image/fm-image/unet"
)

func main() {
	backendsFlag := flag.String("backends", "fastcpu,fmcpu", "comma-separated backends; ratios are of the first over the others")
	pointsFlag := flag.String("points", "16@32,64@32,16@64", "benchmark points, batch@size")
	steps := flag.Int("steps", 5, "timed steps per point for the first backend (median reported)")
	slowSteps := flag.Int("slow-steps", 2, "timed steps per point for the other backends")
	sample := flag.Int("sample-batch", 16, "batch for the sampling measurement (20 Euler steps); 0 skips it")
	torch := flag.Bool("torch", true, "run the PyTorch peer ("+fmbench.DefaultScript+") if python3 can import torch")
	script := flag.String("torch-script", fmbench.DefaultScript, "path of the PyTorch peer script")
	arch := flag.String("arch", "ref-unet-32", "U-Net preset to train, by Go and by the PyTorch peer; a comma-separated list runs each in turn ("+strings.Join(unet.PresetNames(), ",")+")")
	objective := flag.String("objective", "flow-matching", "training objective: flow-matching, shortcut or meanflow")
	rounds := flag.Int("rounds", 1, "repeat the whole measurement this many times and report medians (noisy machines)")
	flag.Parse()
	pts, err := fmbench.ParsePoints(*pointsFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fm-bench:", err)
		os.Exit(2)
	}
	archs := strings.Split(*arch, ",")
	for _, a := range archs {
		if _, err := unet.Preset(a); err != nil {
			fmt.Fprintln(os.Stderr, "fm-bench: -arch:", err)
			os.Exit(2)
		}
	}
	for i, a := range archs {
		if i > 0 {
			fmt.Println()
		}
		opts := fmbench.Options{
			Backends: strings.Split(*backendsFlag, ","), Points: pts, Steps: *steps, SlowSteps: *slowSteps,
			SampleBatch: *sample, Script: *script, Rounds: *rounds, Out: os.Stdout,
			Arch: a, Objective: training.Objective(*objective),
		}
		if *torch {
			opts.Torch = fmbench.FindTorch()
		}
		if _, err := fmbench.Run(opts); err != nil {
			fmt.Fprintln(os.Stderr, "fm-bench:", err)
			os.Exit(1)
		}
	}
}
