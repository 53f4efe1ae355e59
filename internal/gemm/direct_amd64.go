package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasDirectAVX512 reports whether the AVX-512 direct-convolution tiles
// (direct_amd64.s) can run: the CPU has AVX-512F and the OS saves its
// registers (x/sys/cpu checks both).
func hasDirectAVX512() bool { return cpu.X86.HasAVX512F }

// hasDirectAVX2 reports whether the AVX2 direct-convolution tiles can run.
func hasDirectAVX2() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// convTile8x32 computes an 8×32 output tile of a direct convolution (see
// direct_amd64.s): c[r][0:32] = Σ_t Σ_{ch<cin} x[taps[t] + r·xs + 4·ch] ·
// k[(t·cin + ch)·ks + 0:32], byte offsets and strides, c rows ldc bytes apart.
//
//go:noescape
func convTile8x32(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int)

// kgradTile8x32 adds to an 8×32 tile of a kernel gradient (see
// direct_amd64.s): acc[r][0:32] += Σ_{i<rows} Σ_{j<n} x[i·xrs + j·xs + 4·r] ·
// dy[i·dyrs + j·dys + 0:32], byte offsets and strides, acc rows lda bytes apart.
//
//go:noescape
func kgradTile8x32(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int)

// convTile6x16 is convTile8x32 for a 6×16 tile with AVX2 and FMA: kernel
// rows of 16 floats, 6 pixels.
//
//go:noescape
func convTile6x16(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int)

// kgradTile6x16 is kgradTile8x32 for a 6×16 tile with AVX2 and FMA: 6
// broadcast channels, rows of 16 output-gradient values.
//
//go:noescape
func kgradTile6x16(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int)

// convDot4x4 is the forward convolution for at most 4 output channels,
// vectorised over input channels (cin a multiple of 16), for groups of 4
// pixels (see direct_amd64.s): out[16g + 4p + o] = Σ_t Σ_{ch<cin}
// x[taps[t] + (4g+p)·xs + 4·ch] · kt[(t·4 + o)·cin + ch], byte offsets and
// strides.
//
//go:noescape
func convDot4x4(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int)
