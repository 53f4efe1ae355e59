//go:build !goexperiment.simd || !amd64

package kernels

// simdAvailable reports false: this build has no SIMD kernel (build with
// GOEXPERIMENT=simd on amd64 to get one).
func simdAvailable() bool { return false }

// simdKernel is never used on this build; it returns the portable kernel.
func simdKernel() kernel { return portableKernel() }

// avx512Available reports false: this build has no AVX-512 kernel.
func avx512Available() bool { return false }

// avx512Kernel is never used on this build; it returns the portable kernel.
func avx512Kernel() kernel { return portableKernel() }

// availableKernels lists the kernels this build can run: the portable one.
func availableKernels() []kernel { return []kernel{portableKernel()} }
