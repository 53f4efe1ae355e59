//go:build !amd64

package gemm

import "unsafe"

// directAvailable reports false: the direct-convolution tiles exist for amd64 only.
func directAvailable() bool { return false }

func convTile8x32(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k, c unsafe.Pointer, ldc int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func kgradTile8x32(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}
