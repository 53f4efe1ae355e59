//go:build !amd64

package kernels

import "unsafe"

// hasDirectAVX512 and hasDirectAVX2 report false: the direct-convolution
// tiles exist for amd64 only.
func hasDirectAVX512() bool { return false }
func hasDirectAVX2() bool   { return false }

func convTile8x32(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func kgradTile8x32(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func convTile6x16(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func kgradTile6x16(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func convDot4x4(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}

func winoInput(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoOutput(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoKernel(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoInput8(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoOutput8(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoKernel8(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoGradInput(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoGradKernel(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoGradInput8(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func winoGradKernel8(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int) {
	panic("gemm: internal error: Winograd transform called on a build without it")
}

func convDot4x4AVX2(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int) {
	panic("gemm: internal error: direct convolution called on a build without it")
}
