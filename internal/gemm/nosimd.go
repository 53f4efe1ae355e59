//go:build !goexperiment.simd || !amd64

package gemm

// simdAvailable reports false: this build has no SIMD kernel (build with
// GOEXPERIMENT=simd on amd64 to get one).
func simdAvailable() bool { return false }

// simdKernel is never used on this build; it returns the portable kernel.
func simdKernel() kernel { return portableKernel() }
