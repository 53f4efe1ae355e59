package kernels

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

// winoInput writes the Winograd F(2×2, 3×3) input transform Bᵀ·d·B of one 4×4
// input tile (pixel (r, q) at x + r·xrs + q·xs bytes) for chunks×16 channels:
// plane 4r+q at v + (4r+q)·vs bytes (see direct_amd64.s). AVX-512.
//
//go:noescape
func winoInput(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int)

// winoOutput writes the output transform Aᵀ·M·A of one tile's 16 product
// planes (plane k at m + k·ms bytes) for chunks×16 channels: output (i, j) at
// y + i·yrs + j·ys bytes. AVX-512.
//
//go:noescape
func winoOutput(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int)

// winoKernel writes the Winograd kernel transform G·g·Gᵀ of one input
// channel of a 3×3 kernel (tap t at k + t·ks bytes, output channels
// contiguous) for chunks×16 output channels: plane ξ at u + ξ·us bytes.
// AVX-512.
//
//go:noescape
func winoKernel(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int)

// winoInput8, winoOutput8 and winoKernel8 are the AVX2 versions of winoInput,
// winoOutput and winoKernel, 8 channels per chunk.
//
//go:noescape
func winoInput8(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int)

//go:noescape
func winoOutput8(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int)

//go:noescape
func winoKernel8(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int)

// winoGradInput writes the transform A·e·Aᵀ of one 2×2 output-gradient tile
// (pixel (p, s) at dy + p·yrs + s·ys bytes) for chunks×16 channels: plane ξ at
// w + ξ·ws bytes. AVX-512.
//
//go:noescape
func winoGradInput(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int)

// winoGradKernel writes the 3×3 kernel gradient Gᵀ·Z·G of one input channel
// from its 16 planes (plane ξ at z + ξ·zs bytes) for chunks×16 output
// channels: tap t at dk + t·dks bytes. AVX-512.
//
//go:noescape
func winoGradKernel(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int)

// winoGradInput8 and winoGradKernel8 are the AVX2 versions of winoGradInput
// and winoGradKernel, 8 channels per chunk.
//
//go:noescape
func winoGradInput8(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int)

//go:noescape
func winoGradKernel8(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int)

// convDot4x4AVX2 is convDot4x4 with AVX2 and FMA (cin a multiple of 8).
//
//go:noescape
func convDot4x4AVX2(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int)
