// Package fastcpu is fm-image's own GoMLX backend for CPUs, registered as "fastcpu".
//
// Unlike internal/cpubackend, which wraps GoMLX's pure-Go backend (simplego), fastcpu owns the
// whole pipeline: it records the graph the GoMLX builder emits, plans memory at compile time and
// runs float32 kernels written for speed.
//
// # Design
//
//   - Builder (builder.go; each op's method sits with its kernel in elementwise.go, shapeops.go,
//     reduce.go, dot.go, conv.go) records one node per op: op type, output shape
//     (inferred with GoMLX's shapeinference where it exists), inputs and op parameters. It embeds
//     notimplemented.Builder, so any op this package does not implement fails at graph-building
//     time with "fastcpu: op X not implemented".
//   - Compile (plan.go) keeps only the nodes the outputs need, makes Reshape and Identity free
//     aliases of their input, fuses float32 elementwise ops of a common shape into groups that run
//     as one blocked pass (fusion.go: broadcast operands are read through strides, members used
//     elsewhere are written in the same pass, a group feeding a ReduceSum is summed block by
//     block), and computes each buffer's last use.
//   - Execute (exec.go) runs the steps in order. Buffers come from a size-keyed free list owned
//     by the Backend (buffers.go) and go back to it right after their last use (donated inputs
//     too), so steady-state training steps reuse the same memory.
//   - Heavy kernels: DotGeneral (dot.go) becomes one batched GEMM of internal/gemm, with
//     transposes only when the operand layout needs them. ConvGeneral (conv.go) recognises the
//     three forms graph.Convolve and its gradient emit and runs them on internal/gemm's
//     Conv2D (forward), Conv2DInputGrad (v ⊛ Reverse(K), run on K itself, the Reverse pruned)
//     and Conv2DKernelGrad; other layouts, strides and dilations use this package's chunked
//     im2col + GEMM. Elementwise ops use AVX2 run kernels (simd_amd64.go, including a vector
//     expf for Exp and Logistic) when built with GOEXPERIMENT=simd, scalar loops otherwise;
//     reductions add whole contiguous rows (reduce.go); data movement is strided copies with
//     merged axes (loop.go, shapeops.go). Large ops are split over goroutines (parallel.go).
//
// internal/gemm picks its micro-kernel (AVX2/FMA with GOEXPERIMENT=simd, portable otherwise) at
// run time; this package builds and runs either way.
//
// Dtypes: float32 for everything heavy; float64 and the integer types GoMLX uses for indices and
// counters are supported by the generic kernels; bool for comparisons and Where.
package fastcpu
