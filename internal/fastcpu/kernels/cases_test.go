package kernels

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The kernel tests run every kernel this CPU and build can run, each as a
// subtest named after it, and skip the others saying which kernel is not
// tested and why. FMIMAGE_REQUIRE_KERNELS (a comma-separated list of case
// names such as "avx2-fma,avx512") turns those skips into failures, for CI
// runs that must not pass without testing a kernel.

// A kernelCase is one choice of kernels: the subtest name, the Workspace
// options that select it, and, when this machine or build cannot run it,
// why not.
type kernelCase struct {
	name    string
	opts    Options
	missing string
}

// simdGEMMMissing returns why the SIMD GEMM kernel name ("avx2-fma" or
// "avx512") cannot run here, or "".
func simdGEMMMissing(name string) string {
	switch {
	case slices.Contains(Kernels(), name):
		return ""
	case !simdBuild:
		return "built without GOEXPERIMENT=simd"
	case name == "avx512":
		return "this CPU has no AVX-512"
	}
	return "this CPU has no AVX2 and FMA"
}

// gemmCases are the GEMM micro-kernels: portable, 4x16 AVX2, 4x32 AVX-512,
// and the default choice ("auto": on AVX-512 machines the 4x32 kernel for
// products of 64 columns or more and the 4x16 one for narrower ones).
func gemmCases() []kernelCase {
	cases := []kernelCase{{name: "portable", opts: Options{ForcePortable: true}}}
	for _, name := range []string{"avx2-fma", "avx512"} {
		c := kernelCase{name: name, opts: Options{Kernel: name}}
		if why := simdGEMMMissing(name); why != "" {
			c.missing = why + ": the " + name + " GEMM kernel is not tested"
		}
		cases = append(cases, c)
	}
	return append(cases, kernelCase{name: "auto"})
}

// Why the direct-convolution tiles may be missing. They are assembly and need
// no build flag, only the CPU features.
const (
	noAVX512Direct = "AVX-512 not available on this CPU: the 8x32 direct tiles, the narrow RGB head, " +
		"the 16-channel Winograd transforms and the Winograd kernel gradient are not tested"
	noAVX2Direct = "AVX2/FMA not available on this CPU: the 6x16 direct tiles and the 8-channel " +
		"Winograd transforms are not tested"
)

// directCases are the direct-convolution tiles, selected by naming their GEMM
// kernel (which they come with when the build has it).
func directCases() []kernelCase {
	c512 := kernelCase{name: "avx512", opts: Options{Kernel: "avx512"}}
	if !hasDirectAVX512() {
		c512.missing = noAVX512Direct
	}
	c2 := kernelCase{name: "avx2-fma", opts: Options{Kernel: "avx2-fma"}}
	if !hasDirectAVX2() {
		c2.missing = noAVX2Direct
	}
	return []kernelCase{c512, c2}
}

// convCases are the convolution paths: im2col with the portable GEMM, im2col
// with the default GEMM, the direct tiles of each instruction set with and
// without the Winograd form, and the default choice.
func convCases() []kernelCase {
	cases := []kernelCase{
		{name: "portable", opts: Options{ForcePortable: true}},
		{name: "im2col", opts: Options{NoDirectConv: true}},
	}
	for _, d := range directCases() {
		nw := d
		nw.name += "/nowinograd"
		nw.opts.NoWinograd = true
		cases = append(cases, d, nw)
	}
	return append(cases, kernelCase{name: "auto"})
}

// forEachCase runs fn as a subtest per case, skipping (or, when the case is
// in FMIMAGE_REQUIRE_KERNELS, failing) those this machine cannot run.
func forEachCase(t *testing.T, cases []kernelCase, fn func(t *testing.T, o Options)) {
	t.Helper()
	for _, kc := range cases {
		t.Run(kc.name, func(t *testing.T) {
			if kc.missing != "" {
				if required(kc.name) {
					t.Fatalf("FMIMAGE_REQUIRE_KERNELS names %s: %s", kc.name, kc.missing)
				}
				t.Skip(kc.missing)
			}
			fn(t, kc.opts)
		})
	}
}

// required reports whether FMIMAGE_REQUIRE_KERNELS names the case (or the
// kernel before its first slash).
func required(name string) bool {
	base, _, _ := strings.Cut(name, "/")
	for _, r := range strings.Split(os.Getenv("FMIMAGE_REQUIRE_KERNELS"), ",") {
		if r = strings.TrimSpace(r); r != "" && (r == name || r == base) {
			return true
		}
	}
	return false
}
