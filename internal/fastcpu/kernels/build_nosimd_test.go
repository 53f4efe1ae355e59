//go:build !goexperiment.simd || !amd64

package kernels

// simdBuild reports whether this test binary was built with the SIMD GEMM
// kernels (GOEXPERIMENT=simd on amd64).
const simdBuild = false
