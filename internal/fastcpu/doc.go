// Package fastcpu is fm-image's own GoMLX backend for CPUs, registered as "fastcpu".
//
// Unlike internal/fmcpu, which wraps GoMLX's pure-Go backend (simplego), fastcpu owns the
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
//     as one blocked pass (fusion.go: broadcast operands and channel Slices are read through
//     strides, members may read each other through Reshapes (the group iterates over dims
//     refining both shapes), members used elsewhere are written in the same pass, a group
//     feeding a ReduceSum is summed block by block), and computes each buffer's last use.
//     Steps read their inputs' root buffers (Reshape steps only alias), so a group may write a
//     Reshape's input after the Reshape's own step.
//   - Execute (exec.go) runs the steps in order. Buffers come from a size-keyed free list owned
//     by the Backend (buffers.go) and go back to it right after their last use (donated inputs
//     too), so steady-state training steps reuse the same memory. An elementwise group writes
//     its result over a same-shape input whose last use it is (plan.go, pickInPlace).
//   - Heavy kernels: DotGeneral (dot.go) becomes one batched GEMM of internal/fastcpu/kernels, with
//     transposes only when the operand layout needs them. ConvGeneral (conv.go) recognises the
//     three forms graph.Convolve and its gradient emit and runs them on package kernels'
//     Conv2D (forward), Conv2DInputGrad (v ⊛ Reverse(K), run on K itself, the Reverse pruned)
//     and Conv2DKernelGrad; other layouts, strides and dilations use this package's chunked
//     im2col + GEMM. Elementwise ops use AVX2 run kernels (simd_amd64.go, including a vector
//     expf for Exp and Logistic; 16-lane AVX-512 loops where the CPU has them) when built with
//     GOEXPERIMENT=simd, scalar loops otherwise. Inside a group, Add(Mul(a, b), c) is one
//     multiply-add pass and scratch blocks are reused once their values are dead (fusion.go).
//     Reductions of the form [outer..., reduced, tail...] (GroupNorm statistics, bias
//     gradients), fused or not, sum rows into a tail-long accumulator held in vector registers
//     and fold it into the output once per outer position (reduce_rows.go); other reductions
//     add whole contiguous rows (reduce.go). Data movement is strided copies with merged axes
//     (loop.go, shapeops.go).
//   - Parallelism: this package's loops run on the Backend's team of helper goroutines
//     (team.go), which spin briefly between ops so that back-to-back elementwise ops do not each
//     pay for waking an idle CPU, and park before the kernels of package kernels. Loops are cut into
//     fixed chunks and every reduction combines partial sums in a fixed order, so results do
//     not depend on which goroutine ran what. Kernels outside the team use parallelFor
//     (parallel.go).
//
// internal/fastcpu/kernels picks its micro-kernel (AVX2/FMA with GOEXPERIMENT=simd, portable otherwise) at
// run time; this package builds and runs either way.
//
// Random bits (RNGBitGenerator, for dropout) come from a counter-based SplitMix64 stream
// keyed by the [3]uint64 state (rng.go): reproducible for a given state, whatever the number
// of goroutines, but not the same stream as XLA's or simplego's Philox.
//
// Dtypes: float32 for everything heavy; float64 and the integer types GoMLX uses for indices and
// counters are supported by the generic kernels; bool for comparisons and Where.
package fastcpu
