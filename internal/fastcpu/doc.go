// Package fastcpu is fm-image's own GoMLX backend for CPUs, registered as "fastcpu".
//
// Unlike internal/cpubackend, which wraps GoMLX's pure-Go backend (simplego), fastcpu owns the
// whole pipeline: it records the graph the GoMLX builder emits, plans memory at compile time and
// runs float32 kernels written for speed.
//
// # Design
//
//   - Builder (builder.go and the ops_*.go files) records one node per op: op type, output shape
//     (inferred with GoMLX's shapeinference where it exists), inputs and op parameters. It embeds
//     notimplemented.Builder, so any op this package does not implement fails at graph-building
//     time with "fastcpu: op X not implemented".
//   - Compile (plan.go) keeps only the nodes the outputs need, makes Reshape and Identity free
//     aliases of their input, fuses chains of float32 elementwise ops into one blocked pass
//     (fusion.go) and computes each buffer's last use.
//   - Execute (exec.go) runs the nodes in order. Buffers come from a size-keyed free list owned
//     by the Backend (buffers.go) and go back to it right after their last use, so steady-state
//     training steps reuse the same memory.
//   - Heavy kernels: DotGeneral (dot.go) becomes one batched GEMM of internal/gemm, with
//     transposes only when the operand layout needs them; ConvGeneral (conv.go) becomes chunked
//     im2col + GEMM for the forward and input-gradient forms and im2col-transposed GEMM for the
//     kernel-gradient form; elementwise ops, reductions and data movement (elementwise.go,
//     reduce.go, shapeops.go) are strided loops with contiguous fast paths, split over
//     goroutines (parallel.go) when large.
//
// internal/gemm picks its micro-kernel (AVX2/FMA with GOEXPERIMENT=simd, portable otherwise) at
// run time; this package builds and runs either way.
//
// Dtypes: float32 for everything heavy; float64 and the integer types GoMLX uses for indices and
// counters are supported by the generic kernels; bool for comparisons and Where.
package fastcpu
