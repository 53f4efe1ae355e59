#include "textflag.h"

// The direct-convolution tiles (direct.go) and the Winograd transforms
// (winograd.go), for AVX-512 and AVX2. The shared macros come first.

// STOREROW stores the accumulators a and b (one row of a tile) at (AX) and
// off(AX), then moves AX on by stride.
#define STOREROW(a, b, off, stride) \
	VMOVUPS a, (AX); \
	VMOVUPS b, off(AX); \
	ADDQ stride, AX

// ADDSTOREROW adds the row at (AX), off(AX) into the accumulators a and b,
// stores them back, and moves AX on by stride.
#define ADDSTOREROW(a, b, off, stride) \
	VADDPS (AX), a, a; \
	VADDPS off(AX), b, b; \
	VMOVUPS a, (AX); \
	VMOVUPS b, off(AX); \
	ADDQ stride, AX

// STORE4 and LOAD4 store or load four consecutive transform planes at R14
// (planes BX bytes apart, AX = 3·BX).
#define STORE4(a, b, c, d) \
	VMOVUPS a, (R14); \
	VMOVUPS b, (R14)(BX*1); \
	VMOVUPS c, (R14)(BX*2); \
	VMOVUPS d, (R14)(AX*1)

#define LOAD4(a, b, c, d) \
	VMOVUPS (R14), a; \
	VMOVUPS (R14)(BX*1), b; \
	VMOVUPS (R14)(BX*2), c; \
	VMOVUPS (R14)(AX*1), d

// AVX-512 tiles of the direct convolutions. Both compute an 8×32 float32 tile
// in Z0-Z15 (row r in Z(2r), Z(2r+1)), with the two 16-lane vectors of B in
// Z16-Z17 and the eight broadcast A values in Z18-Z25.

// ZERO16 clears the accumulators.
#define ZERO16 \
	VXORPS Z0, Z0, Z0; VXORPS Z1, Z1, Z1; VXORPS Z2, Z2, Z2; VXORPS Z3, Z3, Z3; \
	VXORPS Z4, Z4, Z4; VXORPS Z5, Z5, Z5; VXORPS Z6, Z6, Z6; VXORPS Z7, Z7, Z7; \
	VXORPS Z8, Z8, Z8; VXORPS Z9, Z9, Z9; VXORPS Z10, Z10, Z10; VXORPS Z11, Z11, Z11; \
	VXORPS Z12, Z12, Z12; VXORPS Z13, Z13, Z13; VXORPS Z14, Z14, Z14; VXORPS Z15, Z15, Z15

// FMA16 adds the outer product of the broadcasts Z18-Z25 and B (Z16, Z17).
#define FMA16 \
	VFMADD231PS Z16, Z18, Z0; VFMADD231PS Z17, Z18, Z1; \
	VFMADD231PS Z16, Z19, Z2; VFMADD231PS Z17, Z19, Z3; \
	VFMADD231PS Z16, Z20, Z4; VFMADD231PS Z17, Z20, Z5; \
	VFMADD231PS Z16, Z21, Z6; VFMADD231PS Z17, Z21, Z7; \
	VFMADD231PS Z16, Z22, Z8; VFMADD231PS Z17, Z22, Z9; \
	VFMADD231PS Z16, Z23, Z10; VFMADD231PS Z17, Z23, Z11; \
	VFMADD231PS Z16, Z24, Z12; VFMADD231PS Z17, Z24, Z13; \
	VFMADD231PS Z16, Z25, Z14; VFMADD231PS Z17, Z25, Z15

// func convTile8x32(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int)
//
// c[r][0:32] = Σ_t Σ_{ch<cin} x[taps[t] + r·xs + 4·ch] · k[(t·cin + ch)·ks + 0:32]
// for r in 0..7, with byte offsets and strides (x, k and c point to float32).
TEXT ·convTile8x32(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ taps+16(FP), BX
	MOVQ ntaps+24(FP), DX
	MOVQ cin+32(FP), R13
	MOVQ k+40(FP), DI
	MOVQ ks+48(FP), R12
	LEAQ (R10)(R10*2), R11
	ZERO16

tap:
	MOVQ (BX), R8
	ADDQ SI, R8
	LEAQ (R8)(R10*4), R9
	MOVQ R13, CX

ch:
	VMOVUPS (DI), Z16
	VMOVUPS 64(DI), Z17
	VBROADCASTSS (R8), Z18
	VBROADCASTSS (R8)(R10*1), Z19
	VBROADCASTSS (R8)(R10*2), Z20
	VBROADCASTSS (R8)(R11*1), Z21
	VBROADCASTSS (R9), Z22
	VBROADCASTSS (R9)(R10*1), Z23
	VBROADCASTSS (R9)(R10*2), Z24
	VBROADCASTSS (R9)(R11*1), Z25
	FMA16
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ R12, DI
	DECQ CX
	JNZ  ch

	ADDQ $8, BX
	DECQ DX
	JNZ  tap

	MOVQ c+56(FP), AX
	MOVQ ldc+64(FP), R10
	STOREROW(Z0, Z1, 64, R10)
	STOREROW(Z2, Z3, 64, R10)
	STOREROW(Z4, Z5, 64, R10)
	STOREROW(Z6, Z7, 64, R10)
	STOREROW(Z8, Z9, 64, R10)
	STOREROW(Z10, Z11, 64, R10)
	STOREROW(Z12, Z13, 64, R10)
	STOREROW(Z14, Z15, 64, R10)
	VZEROUPPER
	RET

// func kgradTile8x32(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int)
//
// acc[r][0:32] += Σ_{i<rows} Σ_{j<n} x[i·xrs + j·xs + 4·r] · dy[i·dyrs + j·dys + 0:32]
// for r in 0..7, with byte offsets and strides (acc rows lda bytes apart).
TEXT ·kgradTile8x32(SB), NOSPLIT, $0-80
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ xrs+16(FP), R12
	MOVQ dy+24(FP), DI
	MOVQ dys+32(FP), R11
	MOVQ dyrs+40(FP), R13
	MOVQ rows+56(FP), DX
	ZERO16

row:
	MOVQ SI, R8
	MOVQ DI, R9
	MOVQ n+48(FP), CX

pix:
	VMOVUPS (R9), Z16
	VMOVUPS 64(R9), Z17
	VBROADCASTSS (R8), Z18
	VBROADCASTSS 4(R8), Z19
	VBROADCASTSS 8(R8), Z20
	VBROADCASTSS 12(R8), Z21
	VBROADCASTSS 16(R8), Z22
	VBROADCASTSS 20(R8), Z23
	VBROADCASTSS 24(R8), Z24
	VBROADCASTSS 28(R8), Z25
	FMA16
	ADDQ R10, R8
	ADDQ R11, R9
	DECQ CX
	JNZ  pix

	ADDQ R12, SI
	ADDQ R13, DI
	DECQ DX
	JNZ  row

	MOVQ acc+64(FP), AX
	MOVQ lda+72(FP), R12
	ADDSTOREROW(Z0, Z1, 64, R12)
	ADDSTOREROW(Z2, Z3, 64, R12)
	ADDSTOREROW(Z4, Z5, 64, R12)
	ADDSTOREROW(Z6, Z7, 64, R12)
	ADDSTOREROW(Z8, Z9, 64, R12)
	ADDSTOREROW(Z10, Z11, 64, R12)
	ADDSTOREROW(Z12, Z13, 64, R12)
	ADDSTOREROW(Z14, Z15, 64, R12)
	VZEROUPPER
	RET

// AVX2 tiles: 6×16 in Y0-Y11 (row r in Y(2r), Y(2r+1)), B in Y12-Y13,
// broadcasts alternating in Y14 and Y15.

#define FMA2(bc, a0, a1) \
	VFMADD231PS Y12, bc, a0; \
	VFMADD231PS Y13, bc, a1

// func convTile6x16(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int)
TEXT ·convTile6x16(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ taps+16(FP), BX
	MOVQ ntaps+24(FP), DX
	MOVQ cin+32(FP), R13
	MOVQ k+40(FP), DI
	MOVQ ks+48(FP), R12
	LEAQ (R10)(R10*2), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

tap2:
	MOVQ (BX), R8
	ADDQ SI, R8
	LEAQ (R8)(R10*4), R9
	MOVQ R13, CX

ch2:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS (R8), Y14
	VBROADCASTSS (R8)(R10*1), Y15
	FMA2(Y14, Y0, Y1)
	FMA2(Y15, Y2, Y3)
	VBROADCASTSS (R8)(R10*2), Y14
	VBROADCASTSS (R8)(R11*1), Y15
	FMA2(Y14, Y4, Y5)
	FMA2(Y15, Y6, Y7)
	VBROADCASTSS (R9), Y14
	VBROADCASTSS (R9)(R10*1), Y15
	FMA2(Y14, Y8, Y9)
	FMA2(Y15, Y10, Y11)
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ R12, DI
	DECQ CX
	JNZ  ch2

	ADDQ $8, BX
	DECQ DX
	JNZ  tap2

	MOVQ c+56(FP), AX
	MOVQ ldc+64(FP), R10
	STOREROW(Y0, Y1, 32, R10)
	STOREROW(Y2, Y3, 32, R10)
	STOREROW(Y4, Y5, 32, R10)
	STOREROW(Y6, Y7, 32, R10)
	STOREROW(Y8, Y9, 32, R10)
	STOREROW(Y10, Y11, 32, R10)
	VZEROUPPER
	RET

// func kgradTile6x16(x unsafe.Pointer, xs, xrs int, dy unsafe.Pointer, dys, dyrs, n, rows int, acc unsafe.Pointer, lda int)
TEXT ·kgradTile6x16(SB), NOSPLIT, $0-80
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ xrs+16(FP), R12
	MOVQ dy+24(FP), DI
	MOVQ dys+32(FP), R11
	MOVQ dyrs+40(FP), R13
	MOVQ rows+56(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

row2:
	MOVQ SI, R8
	MOVQ DI, R9
	MOVQ n+48(FP), CX

pix2:
	VMOVUPS (R9), Y12
	VMOVUPS 32(R9), Y13
	VBROADCASTSS (R8), Y14
	VBROADCASTSS 4(R8), Y15
	FMA2(Y14, Y0, Y1)
	FMA2(Y15, Y2, Y3)
	VBROADCASTSS 8(R8), Y14
	VBROADCASTSS 12(R8), Y15
	FMA2(Y14, Y4, Y5)
	FMA2(Y15, Y6, Y7)
	VBROADCASTSS 16(R8), Y14
	VBROADCASTSS 20(R8), Y15
	FMA2(Y14, Y8, Y9)
	FMA2(Y15, Y10, Y11)
	ADDQ R10, R8
	ADDQ R11, R9
	DECQ CX
	JNZ  pix2

	ADDQ R12, SI
	ADDQ R13, DI
	DECQ DX
	JNZ  row2

	MOVQ acc+64(FP), AX
	MOVQ lda+72(FP), R12
	ADDSTOREROW(Y0, Y1, 32, R12)
	ADDSTOREROW(Y2, Y3, 32, R12)
	ADDSTOREROW(Y4, Y5, 32, R12)
	ADDSTOREROW(Y6, Y7, 32, R12)
	ADDSTOREROW(Y8, Y9, 32, R12)
	ADDSTOREROW(Y10, Y11, 32, R12)
	VZEROUPPER
	RET

// func convDot4x4(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int)
//
// The forward convolution for at most 4 output channels, vectorised over
// input channels (cin a multiple of 16). For each of groups groups of 4
// pixels g (x advanced by 4·xs bytes per group) it writes 16 floats to
// out[16g:]: out[16g + 4p + o] = Σ_t Σ_{ch<cin} x[taps[t] + (4g+p)·xs + 4·ch] ·
// kt[(t·4 + o)·cin + ch]. Accumulator Z(4o+p) holds pixel p, output o; a
// shuffle tree adds each one's 16 lanes, leaving the 16 sums in pixel-major
// order.
TEXT ·convDot4x4(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ cin+32(FP), R12
	SHLQ $2, R12                 // kernel row stride: cin floats
	LEAQ (R12)(R12*2), R13       // 3 rows
	MOVQ out+48(FP), AX
	MOVQ groups+56(FP), R9
	LEAQ (R10)(R10*2), R11       // 3·xs

group:
	ZERO16
	MOVQ taps+16(FP), BX
	MOVQ ntaps+24(FP), DX
	MOVQ kt+40(FP), DI

dtap:
	MOVQ (BX), R8
	ADDQ SI, R8
	MOVQ cin+32(FP), CX
	SHRQ $4, CX

dch:
	VMOVUPS (R8), Z16
	VMOVUPS (R8)(R10*1), Z17
	VMOVUPS (R8)(R10*2), Z18
	VMOVUPS (R8)(R11*1), Z19
	VMOVUPS (DI), Z20
	VMOVUPS (DI)(R12*1), Z21
	VMOVUPS (DI)(R12*2), Z22
	VMOVUPS (DI)(R13*1), Z23
	VFMADD231PS Z20, Z16, Z0
	VFMADD231PS Z20, Z17, Z1
	VFMADD231PS Z20, Z18, Z2
	VFMADD231PS Z20, Z19, Z3
	VFMADD231PS Z21, Z16, Z4
	VFMADD231PS Z21, Z17, Z5
	VFMADD231PS Z21, Z18, Z6
	VFMADD231PS Z21, Z19, Z7
	VFMADD231PS Z22, Z16, Z8
	VFMADD231PS Z22, Z17, Z9
	VFMADD231PS Z22, Z18, Z10
	VFMADD231PS Z22, Z19, Z11
	VFMADD231PS Z23, Z16, Z12
	VFMADD231PS Z23, Z17, Z13
	VFMADD231PS Z23, Z18, Z14
	VFMADD231PS Z23, Z19, Z15
	ADDQ $64, R8
	ADDQ $64, DI
	DECQ CX
	JNZ  dch

	ADDQ R13, DI                 // past this tap's other 3 output rows
	ADDQ $8, BX
	DECQ DX
	JNZ  dtap

	// Level 1: pairs (a, b) -> [a.L0+a.L2, a.L1+a.L3, b.L0+b.L2, b.L1+b.L3].
	VSHUFF64X2 $0x44, Z1, Z0, Z16
	VSHUFF64X2 $0xEE, Z1, Z0, Z17
	VADDPS Z17, Z16, Z0
	VSHUFF64X2 $0x44, Z3, Z2, Z16
	VSHUFF64X2 $0xEE, Z3, Z2, Z17
	VADDPS Z17, Z16, Z1
	VSHUFF64X2 $0x44, Z5, Z4, Z16
	VSHUFF64X2 $0xEE, Z5, Z4, Z17
	VADDPS Z17, Z16, Z2
	VSHUFF64X2 $0x44, Z7, Z6, Z16
	VSHUFF64X2 $0xEE, Z7, Z6, Z17
	VADDPS Z17, Z16, Z3
	VSHUFF64X2 $0x44, Z9, Z8, Z16
	VSHUFF64X2 $0xEE, Z9, Z8, Z17
	VADDPS Z17, Z16, Z4
	VSHUFF64X2 $0x44, Z11, Z10, Z16
	VSHUFF64X2 $0xEE, Z11, Z10, Z17
	VADDPS Z17, Z16, Z5
	VSHUFF64X2 $0x44, Z13, Z12, Z16
	VSHUFF64X2 $0xEE, Z13, Z12, Z17
	VADDPS Z17, Z16, Z6
	VSHUFF64X2 $0x44, Z15, Z14, Z16
	VSHUFF64X2 $0xEE, Z15, Z14, Z17
	VADDPS Z17, Z16, Z7
	// Level 2: lane j of the result is accumulator 4m+j reduced to 4 floats.
	VSHUFF32X4 $0x88, Z1, Z0, Z16
	VSHUFF32X4 $0xDD, Z1, Z0, Z17
	VADDPS Z17, Z16, Z0
	VSHUFF32X4 $0x88, Z3, Z2, Z16
	VSHUFF32X4 $0xDD, Z3, Z2, Z17
	VADDPS Z17, Z16, Z1
	VSHUFF32X4 $0x88, Z5, Z4, Z16
	VSHUFF32X4 $0xDD, Z5, Z4, Z17
	VADDPS Z17, Z16, Z2
	VSHUFF32X4 $0x88, Z7, Z6, Z16
	VSHUFF32X4 $0xDD, Z7, Z6, Z17
	VADDPS Z17, Z16, Z3
	// Levels 3 and 4, within 128-bit lanes.
	VSHUFPS $0x44, Z1, Z0, Z16
	VSHUFPS $0xEE, Z1, Z0, Z17
	VADDPS Z17, Z16, Z0
	VSHUFPS $0x44, Z3, Z2, Z16
	VSHUFPS $0xEE, Z3, Z2, Z17
	VADDPS Z17, Z16, Z1
	VSHUFPS $0x88, Z1, Z0, Z16
	VSHUFPS $0xDD, Z1, Z0, Z17
	VADDPS Z17, Z16, Z0
	VMOVUPS Z0, (AX)

	ADDQ $64, AX
	LEAQ (SI)(R10*4), SI
	DECQ R9
	JNZ  group
	VZEROUPPER
	RET

// Winograd F(2×2, 3×3) transforms (winograd.go), AVX-512, 16 channels at a time.

// func winoInput(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int)
//
// For a 4×4 input tile d (pixel (r, q) at x + r·xrs + q·xs bytes, channels
// contiguous) it writes the 16 planes of Bᵀ·d·B, plane 4r+q at v + (4r+q)·vs,
// for chunks×16 channels.
TEXT ·winoInput(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), DX
	MOVQ xrs+16(FP), R9
	MOVQ chunks+24(FP), R12
	MOVQ v+32(FP), DI
	MOVQ vs+40(FP), BX
	LEAQ (R9)(R9*2), R10         // 3·xrs
	LEAQ (BX)(BX*2), AX          // 3·vs

winoInChunk:
	// Z(4q+r) = d[r][q]: column q of the tile.
	MOVQ SI, R8
	VMOVUPS (R8), Z0
	VMOVUPS (R8)(R9*1), Z1
	VMOVUPS (R8)(R9*2), Z2
	VMOVUPS (R8)(R10*1), Z3
	ADDQ DX, R8
	VMOVUPS (R8), Z4
	VMOVUPS (R8)(R9*1), Z5
	VMOVUPS (R8)(R9*2), Z6
	VMOVUPS (R8)(R10*1), Z7
	ADDQ DX, R8
	VMOVUPS (R8), Z8
	VMOVUPS (R8)(R9*1), Z9
	VMOVUPS (R8)(R9*2), Z10
	VMOVUPS (R8)(R10*1), Z11
	ADDQ DX, R8
	VMOVUPS (R8), Z12
	VMOVUPS (R8)(R9*1), Z13
	VMOVUPS (R8)(R9*2), Z14
	VMOVUPS (R8)(R10*1), Z15
	// Rows: t[0] = d0 − d2, t[1] = d1 + d2, t[2] = d2 − d1, t[3] = d1 − d3, per column q:
	// Z(16+4q+r) = t[r][q].
	VSUBPS Z2, Z0, Z16
	VADDPS Z2, Z1, Z17
	VSUBPS Z1, Z2, Z18
	VSUBPS Z3, Z1, Z19
	VSUBPS Z6, Z4, Z20
	VADDPS Z6, Z5, Z21
	VSUBPS Z5, Z6, Z22
	VSUBPS Z7, Z5, Z23
	VSUBPS Z10, Z8, Z24
	VADDPS Z10, Z9, Z25
	VSUBPS Z9, Z10, Z26
	VSUBPS Z11, Z9, Z27
	VSUBPS Z14, Z12, Z28
	VADDPS Z14, Z13, Z29
	VSUBPS Z13, Z14, Z30
	VSUBPS Z15, Z13, Z31
	// Columns, per row r: v[r][0] = t0 − t2, v[r][1] = t1 + t2, v[r][2] = t2 − t1,
	// v[r][3] = t1 − t3 (t_q = t[r][q] = Z(16+4q+r)); Z(4r+q) = v[r][q].
	VSUBPS Z24, Z16, Z0
	VADDPS Z24, Z20, Z1
	VSUBPS Z20, Z24, Z2
	VSUBPS Z28, Z20, Z3
	VSUBPS Z25, Z17, Z4
	VADDPS Z25, Z21, Z5
	VSUBPS Z21, Z25, Z6
	VSUBPS Z29, Z21, Z7
	VSUBPS Z26, Z18, Z8
	VADDPS Z26, Z22, Z9
	VSUBPS Z22, Z26, Z10
	VSUBPS Z30, Z22, Z11
	VSUBPS Z27, Z19, Z12
	VADDPS Z27, Z23, Z13
	VSUBPS Z23, Z27, Z14
	VSUBPS Z31, Z23, Z15
	MOVQ DI, R14
	STORE4(Z0, Z1, Z2, Z3)
	LEAQ (R14)(BX*4), R14
	STORE4(Z4, Z5, Z6, Z7)
	LEAQ (R14)(BX*4), R14
	STORE4(Z8, Z9, Z10, Z11)
	LEAQ (R14)(BX*4), R14
	STORE4(Z12, Z13, Z14, Z15)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R12
	JNZ  winoInChunk
	VZEROUPPER
	RET

// func winoOutput(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int)
//
// For the 16 planes of a tile's products (plane k at m + k·ms bytes) it writes
// the 2×2 outputs Aᵀ·M·A, output (i, j) at y + i·yrs + j·ys, for chunks×16
// channels.
TEXT ·winoOutput(SB), NOSPLIT, $0-48
	MOVQ m+0(FP), SI
	MOVQ ms+8(FP), BX
	MOVQ chunks+16(FP), R12
	MOVQ y+24(FP), DI
	MOVQ ys+32(FP), DX
	MOVQ yrs+40(FP), R9
	LEAQ (BX)(BX*2), AX          // 3·ms

winoOutChunk:
	// Z(4r+q) = m[r][q].
	MOVQ SI, R14
	LOAD4(Z0, Z1, Z2, Z3)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z4, Z5, Z6, Z7)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z8, Z9, Z10, Z11)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z12, Z13, Z14, Z15)
	// Per row r: s[r][0] = m0 + m1 + m2, s[r][1] = m1 − m2 − m3; Z(16+2r+j) = s[r][j].
	VADDPS Z1, Z0, Z16
	VADDPS Z2, Z16, Z16
	VSUBPS Z2, Z1, Z17
	VSUBPS Z3, Z17, Z17
	VADDPS Z5, Z4, Z18
	VADDPS Z6, Z18, Z18
	VSUBPS Z6, Z5, Z19
	VSUBPS Z7, Z19, Z19
	VADDPS Z9, Z8, Z20
	VADDPS Z10, Z20, Z20
	VSUBPS Z10, Z9, Z21
	VSUBPS Z11, Z21, Z21
	VADDPS Z13, Z12, Z22
	VADDPS Z14, Z22, Z22
	VSUBPS Z14, Z13, Z23
	VSUBPS Z15, Z23, Z23
	// y[0][j] = s0j + s1j + s2j, y[1][j] = s1j − s2j − s3j.
	VADDPS Z18, Z16, Z24
	VADDPS Z20, Z24, Z24
	VADDPS Z19, Z17, Z25
	VADDPS Z21, Z25, Z25
	VSUBPS Z20, Z18, Z26
	VSUBPS Z22, Z26, Z26
	VSUBPS Z21, Z19, Z27
	VSUBPS Z23, Z27, Z27
	VMOVUPS Z24, (DI)
	VMOVUPS Z25, (DI)(DX*1)
	VMOVUPS Z26, (DI)(R9*1)
	LEAQ (DI)(R9*1), R14
	VMOVUPS Z27, (R14)(DX*1)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R12
	JNZ  winoOutChunk
	VZEROUPPER
	RET

// WINOKROW stores one row (r0, r1, r2) of t·Gᵀ to the 4 planes at R14.
#define WINOKROW(r0, r1, r2) \
	VADDPS r2, r0, Z18; \
	VADDPS r1, Z18, Z19; \
	VSUBPS r1, Z18, Z20; \
	VMULPS Z31, Z19, Z19; \
	VMULPS Z31, Z20, Z20; \
	VMOVUPS r0, (R14); \
	VMOVUPS Z19, (R14)(R11*1); \
	VMOVUPS Z20, (R14)(R11*2); \
	VMOVUPS r2, (R14)(AX*1)

// func winoKernel(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int)
//
// For one input channel of a 3×3 kernel (tap t = 3i+j at k + t·ks bytes,
// output channels contiguous) it writes the 16 planes of G·g·Gᵀ, plane 4a+b
// at u + (4a+b)·us bytes, for chunks×16 output channels.
TEXT ·winoKernel(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), SI
	MOVQ ks+8(FP), R9
	MOVQ chunks+16(FP), CX
	MOVQ u+24(FP), DI
	MOVQ us+32(FP), R11
	LEAQ (R9)(R9*2), R10         // 3·ks
	LEAQ (R11)(R11*2), AX        // 3·us
	MOVL $0x3f000000, DX         // 0.5
	VPBROADCASTD DX, Z31

winoKChunk:
	MOVQ SI, R8
	LEAQ (SI)(R9*4), R12
	VMOVUPS (R8), Z0
	VMOVUPS (R8)(R9*1), Z1
	VMOVUPS (R8)(R9*2), Z2
	VMOVUPS (R8)(R10*1), Z3
	VMOVUPS (R12), Z4
	VMOVUPS (R12)(R9*1), Z5
	VMOVUPS (R12)(R9*2), Z6
	VMOVUPS (R12)(R10*1), Z7
	VMOVUPS (R12)(R9*4), Z8
	// t = G·g: t0 = g0, t1 = ½(g0+g1+g2), t2 = ½(g0−g1+g2), t3 = g2 (per column j).
	VADDPS Z6, Z0, Z9
	VADDPS Z7, Z1, Z10
	VADDPS Z8, Z2, Z11
	VADDPS Z3, Z9, Z12
	VADDPS Z4, Z10, Z13
	VADDPS Z5, Z11, Z14
	VSUBPS Z3, Z9, Z15
	VSUBPS Z4, Z10, Z16
	VSUBPS Z5, Z11, Z17
	VMULPS Z31, Z12, Z12
	VMULPS Z31, Z13, Z13
	VMULPS Z31, Z14, Z14
	VMULPS Z31, Z15, Z15
	VMULPS Z31, Z16, Z16
	VMULPS Z31, Z17, Z17
	// Rows of U = t·Gᵀ: (r0, ½(r0+r1+r2), ½(r0−r1+r2), r2).
	MOVQ DI, R14
	WINOKROW(Z0, Z1, Z2)
	LEAQ (R14)(R11*4), R14
	WINOKROW(Z12, Z13, Z14)
	LEAQ (R14)(R11*4), R14
	WINOKROW(Z15, Z16, Z17)
	LEAQ (R14)(R11*4), R14
	WINOKROW(Z6, Z7, Z8)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  winoKChunk
	VZEROUPPER
	RET

// AVX2 versions of the Winograd transforms, 8 channels at a time. With 16
// registers the 4×4 intermediate goes through a 512-byte stack scratch.

// WINO8OUTROW loads row r of M (the 4 planes at R14) and leaves
// s0 = m0+m1+m2 and s1 = m1−m2−m3 in s0, s1 (Y0-Y3 are scratch).
#define WINO8OUTROW(s0, s1) \
	VMOVUPS (R14), Y0; \
	VMOVUPS (R14)(BX*1), Y1; \
	VMOVUPS (R14)(BX*2), Y2; \
	VMOVUPS (R14)(AX*1), Y3; \
	VADDPS Y1, Y0, s0; \
	VADDPS Y2, s0, s0; \
	VSUBPS Y2, Y1, s1; \
	VSUBPS Y3, s1, s1

// WINO8KT sets, for one column, t1 = ½(g0+g1+g2) in g1's register and
// t2 = ½(g0−g1+g2) in t2 (Y15 = 0.5; Y3 is scratch).
#define WINO8KT(g0, g1, g2, t2) \
	VADDPS g2, g0, Y3; \
	VSUBPS g1, Y3, t2; \
	VADDPS g1, Y3, g1; \
	VMULPS Y15, g1, g1; \
	VMULPS Y15, t2, t2

// WINO8KROW stores (r0, ½(r0+r1+r2), ½(r0−r1+r2), r2) to the 4 planes at R14
// (Y15 = 0.5; Y3-Y5 are scratch).
#define WINO8KROW(r0, r1, r2) \
	VADDPS r2, r0, Y3; \
	VADDPS r1, Y3, Y4; \
	VSUBPS r1, Y3, Y5; \
	VMULPS Y15, Y4, Y4; \
	VMULPS Y15, Y5, Y5; \
	VMOVUPS r0, (R14); \
	VMOVUPS Y4, (R14)(R11*1); \
	VMOVUPS Y5, (R14)(R11*2); \
	VMOVUPS r2, (R14)(AX*1)

// func winoInput8(x unsafe.Pointer, xs, xrs, chunks int, v unsafe.Pointer, vs int)
TEXT ·winoInput8(SB), NOSPLIT, $512-48
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), DX
	MOVQ xrs+16(FP), R9
	MOVQ chunks+24(FP), R12
	MOVQ v+32(FP), DI
	MOVQ vs+40(FP), BX
	LEAQ (R9)(R9*2), R10         // 3·xrs
	LEAQ (BX)(BX*2), AX          // 3·vs

wino8InChunk:
	// Columns q: t[r][q] from d[0..3][q], stored at (4r+q)·32(SP).
	MOVQ SI, R8
	MOVQ $0, CX

wino8InCol:
	VMOVUPS (R8), Y0
	VMOVUPS (R8)(R9*1), Y1
	VMOVUPS (R8)(R9*2), Y2
	VMOVUPS (R8)(R10*1), Y3
	VSUBPS Y2, Y0, Y4            // t0 = d0 − d2
	VADDPS Y2, Y1, Y5            // t1 = d1 + d2
	VSUBPS Y1, Y2, Y6            // t2 = d2 − d1
	VSUBPS Y3, Y1, Y7            // t3 = d1 − d3
	VMOVUPS Y4, 0(SP)(CX*1)
	VMOVUPS Y5, 128(SP)(CX*1)
	VMOVUPS Y6, 256(SP)(CX*1)
	VMOVUPS Y7, 384(SP)(CX*1)
	ADDQ DX, R8
	ADDQ $32, CX
	CMPQ CX, $128
	JNE  wino8InCol

	// Rows r: v[r][q] from t[r][0..3].
	MOVQ DI, R14
	MOVQ $0, CX

wino8InRow:
	VMOVUPS 0(SP)(CX*1), Y0
	VMOVUPS 32(SP)(CX*1), Y1
	VMOVUPS 64(SP)(CX*1), Y2
	VMOVUPS 96(SP)(CX*1), Y3
	VSUBPS Y2, Y0, Y4
	VADDPS Y2, Y1, Y5
	VSUBPS Y1, Y2, Y6
	VSUBPS Y3, Y1, Y7
	VMOVUPS Y4, (R14)
	VMOVUPS Y5, (R14)(BX*1)
	VMOVUPS Y6, (R14)(BX*2)
	VMOVUPS Y7, (R14)(AX*1)
	LEAQ (R14)(BX*4), R14
	ADDQ $128, CX
	CMPQ CX, $512
	JNE  wino8InRow

	ADDQ $32, SI
	ADDQ $32, DI
	DECQ R12
	JNZ  wino8InChunk
	VZEROUPPER
	RET

// func winoOutput8(m unsafe.Pointer, ms, chunks int, y unsafe.Pointer, ys, yrs int)
TEXT ·winoOutput8(SB), NOSPLIT, $0-48
	MOVQ m+0(FP), SI
	MOVQ ms+8(FP), BX
	MOVQ chunks+16(FP), R12
	MOVQ y+24(FP), DI
	MOVQ ys+32(FP), DX
	MOVQ yrs+40(FP), R9
	LEAQ (BX)(BX*2), AX          // 3·ms

wino8OutChunk:
	// Per row r: s[r][0] = m0+m1+m2 in Y(8+2r), s[r][1] = m1−m2−m3 in Y(9+2r).
	MOVQ SI, R14
	WINO8OUTROW(Y8, Y9)
	LEAQ (R14)(BX*4), R14
	WINO8OUTROW(Y10, Y11)
	LEAQ (R14)(BX*4), R14
	WINO8OUTROW(Y12, Y13)
	LEAQ (R14)(BX*4), R14
	WINO8OUTROW(Y14, Y15)
	// y[0][j] = s0j + s1j + s2j, y[1][j] = s1j − s2j − s3j.
	VADDPS Y10, Y8, Y0
	VADDPS Y12, Y0, Y0
	VADDPS Y11, Y9, Y1
	VADDPS Y13, Y1, Y1
	VSUBPS Y12, Y10, Y2
	VSUBPS Y14, Y2, Y2
	VSUBPS Y13, Y11, Y3
	VSUBPS Y15, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, (DI)(DX*1)
	VMOVUPS Y2, (DI)(R9*1)
	LEAQ (DI)(R9*1), R14
	VMOVUPS Y3, (R14)(DX*1)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ R12
	JNZ  wino8OutChunk
	VZEROUPPER
	RET

// func winoKernel8(k unsafe.Pointer, ks, chunks int, u unsafe.Pointer, us int)
TEXT ·winoKernel8(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), SI
	MOVQ ks+8(FP), R9
	MOVQ chunks+16(FP), CX
	MOVQ u+24(FP), DI
	MOVQ us+32(FP), R11
	LEAQ (R9)(R9*2), R10         // 3·ks
	LEAQ (R11)(R11*2), AX        // 3·us
	MOVL $0x3f000000, DX         // 0.5
	MOVQ DX, X15
	VBROADCASTSS X15, Y15

wino8KChunk:
	// t = G·g per column j: t0 = g0 (Y(j)), t3 = g2 (Y(6+j)),
	// t1 = ½(g0+g1+g2) (Y(9+j)), t2 = ½(g0−g1+g2) (Y(12+j)); g1 is loaded into t1's register.
	MOVQ SI, R8
	LEAQ (SI)(R9*4), R12
	VMOVUPS (R8), Y0             // g00
	VMOVUPS (R8)(R9*1), Y1       // g01
	VMOVUPS (R8)(R9*2), Y2       // g02
	VMOVUPS (R8)(R10*1), Y9      // g10
	VMOVUPS (R12), Y10           // g11
	VMOVUPS (R12)(R9*1), Y11     // g12
	VMOVUPS (R12)(R9*2), Y6      // g20
	VMOVUPS (R12)(R10*1), Y7     // g21
	VMOVUPS (R12)(R9*4), Y8      // g22
	WINO8KT(Y0, Y9, Y6, Y12)
	WINO8KT(Y1, Y10, Y7, Y13)
	WINO8KT(Y2, Y11, Y8, Y14)
	MOVQ DI, R14
	WINO8KROW(Y0, Y1, Y2)
	LEAQ (R14)(R11*4), R14
	WINO8KROW(Y9, Y10, Y11)
	LEAQ (R14)(R11*4), R14
	WINO8KROW(Y12, Y13, Y14)
	LEAQ (R14)(R11*4), R14
	WINO8KROW(Y6, Y7, Y8)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  wino8KChunk
	VZEROUPPER
	RET

// WINOGROW stores (u0, u0+u1, u0−u1, −u1) to the 4 planes at R14 (Z31 = 0).
#define WINOGROW(u0, u1) \
	VADDPS u1, u0, Z12; \
	VSUBPS u1, u0, Z13; \
	VSUBPS u1, Z31, Z14; \
	VMOVUPS u0, (R14); \
	VMOVUPS Z12, (R14)(BX*1); \
	VMOVUPS Z13, (R14)(BX*2); \
	VMOVUPS Z14, (R14)(AX*1)

// func winoGradInput(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int)
//
// For a 2×2 tile e of an output gradient (pixel (p, s) at dy + p·yrs + s·ys
// bytes) it writes the 16 planes of A·e·Aᵀ (A = [1 0; 1 1; 1 −1; 0 −1]),
// plane 4r+q at w + (4r+q)·ws bytes, for chunks×16 channels.
TEXT ·winoGradInput(SB), NOSPLIT, $0-48
	MOVQ dy+0(FP), SI
	MOVQ ys+8(FP), DX
	MOVQ yrs+16(FP), R9
	MOVQ chunks+24(FP), R12
	MOVQ w+32(FP), DI
	MOVQ ws+40(FP), BX
	LEAQ (BX)(BX*2), AX          // 3·ws
	VXORPS Z31, Z31, Z31

winoGInChunk:
	VMOVUPS (SI), Z0             // e00
	VMOVUPS (SI)(DX*1), Z1       // e01
	LEAQ (SI)(R9*1), R8
	VMOVUPS (R8), Z2             // e10
	VMOVUPS (R8)(DX*1), Z3       // e11
	// Rows of A·e, per column s: (e0, e0+e1, e0−e1, −e1); row r in Z(4+2r), Z(5+2r).
	VMOVAPS Z0, Z4
	VMOVAPS Z1, Z5
	VADDPS Z2, Z0, Z6
	VADDPS Z3, Z1, Z7
	VSUBPS Z2, Z0, Z8
	VSUBPS Z3, Z1, Z9
	VSUBPS Z2, Z31, Z10
	VSUBPS Z3, Z31, Z11
	MOVQ DI, R14
	WINOGROW(Z4, Z5)
	LEAQ (R14)(BX*4), R14
	WINOGROW(Z6, Z7)
	LEAQ (R14)(BX*4), R14
	WINOGROW(Z8, Z9)
	LEAQ (R14)(BX*4), R14
	WINOGROW(Z10, Z11)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R12
	JNZ  winoGInChunk
	VZEROUPPER
	RET

// WINOGKCOL computes (z0 + ½(z1+z2), ½(z1−z2), ½(z1+z2) + z3) into o0, o1, o2
// (Z31 = 0.5; Z28, Z29 are scratch).
#define WINOGKCOL(z0, z1, z2, z3, o0, o1, o2) \
	VADDPS z2, z1, Z28; \
	VSUBPS z2, z1, Z29; \
	VMULPS Z31, Z28, Z28; \
	VMULPS Z31, Z29, o1; \
	VADDPS Z28, z0, o0; \
	VADDPS z3, Z28, o2

// func winoGradKernel(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int)
//
// For one input channel of the 16 planes Z of a Winograd kernel gradient
// (plane 4a+b at z + (4a+b)·zs bytes) it writes the 3×3 kernel gradient
// Gᵀ·Z·G, tap 3i+j at dk + (3i+j)·dks bytes, for chunks×16 output channels.
TEXT ·winoGradKernel(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ zs+8(FP), BX
	MOVQ chunks+16(FP), R12
	MOVQ dk+24(FP), DI
	MOVQ dks+32(FP), DX
	LEAQ (BX)(BX*2), AX          // 3·zs
	LEAQ (DX)(DX*2), R9          // 3·dks
	MOVL $0x3f000000, CX         // 0.5
	VPBROADCASTD CX, Z31

winoGKChunk:
	MOVQ SI, R14
	LOAD4(Z0, Z1, Z2, Z3)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z4, Z5, Z6, Z7)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z8, Z9, Z10, Z11)
	LEAQ (R14)(BX*4), R14
	LOAD4(Z12, Z13, Z14, Z15)
	// Rows of Gᵀ·Z per column b (Z[a][b] in Z(4a+b)); (Gᵀ·Z)[i][b] in Z(16+3b+i).
	WINOGKCOL(Z0, Z4, Z8, Z12, Z16, Z17, Z18)
	WINOGKCOL(Z1, Z5, Z9, Z13, Z19, Z20, Z21)
	WINOGKCOL(Z2, Z6, Z10, Z14, Z22, Z23, Z24)
	WINOGKCOL(Z3, Z7, Z11, Z15, Z25, Z26, Z27)
	// Columns (·G) per row i; dK[i][j] in Z(3i+j).
	WINOGKCOL(Z16, Z19, Z22, Z25, Z0, Z1, Z2)
	WINOGKCOL(Z17, Z20, Z23, Z26, Z3, Z4, Z5)
	WINOGKCOL(Z18, Z21, Z24, Z27, Z6, Z7, Z8)
	MOVQ DI, R14
	VMOVUPS Z0, (R14)
	VMOVUPS Z1, (R14)(DX*1)
	VMOVUPS Z2, (R14)(DX*2)
	VMOVUPS Z3, (R14)(R9*1)
	LEAQ (R14)(DX*4), R14
	VMOVUPS Z4, (R14)
	VMOVUPS Z5, (R14)(DX*1)
	VMOVUPS Z6, (R14)(DX*2)
	VMOVUPS Z7, (R14)(R9*1)
	VMOVUPS Z8, (R14)(DX*4)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ R12
	JNZ  winoGKChunk
	VZEROUPPER
	RET

// WINOG8ROW stores (u0, u0+u1, u0−u1, −u1) to the 4 planes at R14 (Y15 = 0).
#define WINOG8ROW(u0, u1) \
	VADDPS u1, u0, Y12; \
	VSUBPS u1, u0, Y13; \
	VSUBPS u1, Y15, Y14; \
	VMOVUPS u0, (R14); \
	VMOVUPS Y12, (R14)(BX*1); \
	VMOVUPS Y13, (R14)(BX*2); \
	VMOVUPS Y14, (R14)(AX*1)

// func winoGradInput8(dy unsafe.Pointer, ys, yrs, chunks int, w unsafe.Pointer, ws int)
//
// winoGradInput with AVX2: chunks×8 channels.
TEXT ·winoGradInput8(SB), NOSPLIT, $0-48
	MOVQ dy+0(FP), SI
	MOVQ ys+8(FP), DX
	MOVQ yrs+16(FP), R9
	MOVQ chunks+24(FP), R12
	MOVQ w+32(FP), DI
	MOVQ ws+40(FP), BX
	LEAQ (BX)(BX*2), AX          // 3·ws
	VXORPS Y15, Y15, Y15

wino8GInChunk:
	VMOVUPS (SI), Y0             // e00
	VMOVUPS (SI)(DX*1), Y1       // e01
	LEAQ (SI)(R9*1), R8
	VMOVUPS (R8), Y2             // e10
	VMOVUPS (R8)(DX*1), Y3       // e11
	// Rows of A·e, per column s: (e0, e0+e1, e0−e1, −e1); row 0 is (Y0, Y1),
	// row r > 0 in Y(2+2r), Y(3+2r).
	VADDPS Y2, Y0, Y4
	VADDPS Y3, Y1, Y5
	VSUBPS Y2, Y0, Y6
	VSUBPS Y3, Y1, Y7
	VSUBPS Y2, Y15, Y8
	VSUBPS Y3, Y15, Y9
	MOVQ DI, R14
	WINOG8ROW(Y0, Y1)
	LEAQ (R14)(BX*4), R14
	WINOG8ROW(Y4, Y5)
	LEAQ (R14)(BX*4), R14
	WINOG8ROW(Y6, Y7)
	LEAQ (R14)(BX*4), R14
	WINOG8ROW(Y8, Y9)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ R12
	JNZ  wino8GInChunk
	VZEROUPPER
	RET

// WINOG8KCOL computes one column of Gᵀ·Z, (z0 + ½(z1+z2), ½(z1−z2),
// ½(z1+z2) + z3), into o0, o1, o2 from the planes z0..z3 at (R14), (R14)(R10),
// (R14)(R11), (R14)(R13) (Y15 = 0.5; Y12-Y14 are scratch).
#define WINOG8KCOL(o0, o1, o2) \
	VMOVUPS (R14)(R10*1), Y12; \
	VMOVUPS (R14)(R11*1), Y13; \
	VADDPS Y13, Y12, Y14; \
	VSUBPS Y13, Y12, Y13; \
	VMULPS Y15, Y13, o1; \
	VMULPS Y15, Y14, Y14; \
	VADDPS (R14), Y14, o0; \
	VADDPS (R14)(R13*1), Y14, o2

// WINOG8KROW writes one row of Gᵀ·Z·G, (t0 + ½(t1+t2), ½(t1−t2), ½(t1+t2) +
// t3), to the taps at (R8), (R8)(DX), (R8)(DX*2) (Y15 = 0.5).
#define WINOG8KROW(t0, t1, t2, t3) \
	VADDPS t2, t1, Y12; \
	VSUBPS t2, t1, Y13; \
	VMULPS Y15, Y13, Y13; \
	VMULPS Y15, Y12, Y12; \
	VADDPS t0, Y12, Y14; \
	VMOVUPS Y14, (R8); \
	VMOVUPS Y13, (R8)(DX*1); \
	VADDPS t3, Y12, Y14; \
	VMOVUPS Y14, (R8)(DX*2)

// func winoGradKernel8(z unsafe.Pointer, zs, chunks int, dk unsafe.Pointer, dks int)
//
// winoGradKernel with AVX2: chunks×8 output channels. Gᵀ·Z is kept in
// Y0-Y11, column b's three rows in Y(3b), Y(3b+1), Y(3b+2).
TEXT ·winoGradKernel8(SB), NOSPLIT, $0-40
	MOVQ z+0(FP), SI
	MOVQ zs+8(FP), BX
	MOVQ chunks+16(FP), R12
	MOVQ dk+24(FP), DI
	MOVQ dks+32(FP), DX
	MOVQ BX, R10
	SHLQ $2, R10                 // 4·zs: plane 4a+b is a rows below plane b
	LEAQ (R10)(R10*1), R11       // 8·zs
	LEAQ (R11)(R10*1), R13       // 12·zs
	LEAQ (DX)(DX*2), R9          // 3·dks
	MOVL $0x3f000000, CX         // 0.5
	MOVQ CX, X15
	VBROADCASTSS X15, Y15

wino8GKChunk:
	MOVQ SI, R14
	WINOG8KCOL(Y0, Y1, Y2)
	ADDQ BX, R14
	WINOG8KCOL(Y3, Y4, Y5)
	ADDQ BX, R14
	WINOG8KCOL(Y6, Y7, Y8)
	ADDQ BX, R14
	WINOG8KCOL(Y9, Y10, Y11)
	MOVQ DI, R8
	WINOG8KROW(Y0, Y3, Y6, Y9)
	LEAQ (DI)(R9*1), R8
	WINOG8KROW(Y1, Y4, Y7, Y10)
	LEAQ (DI)(R9*2), R8
	WINOG8KROW(Y2, Y5, Y8, Y11)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ R12
	JNZ  wino8GKChunk
	VZEROUPPER
	RET

// func convDot4x4AVX2(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int)
//
// convDot4x4 with AVX2 (cin a multiple of 8): each group of 4 pixels is done
// as two halves of 2 pixels, whose 8 accumulators (Y(2o+p): output o, pixel p)
// leave room in the 16 registers for the 2 pixels' inputs and the 4 kernel
// rows. A horizontal-add tree reduces each half's 8 accumulators to 8 sums in
// pixel-major order.
TEXT ·convDot4x4AVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xs+8(FP), R10
	MOVQ cin+32(FP), R12
	SHLQ $2, R12                 // kernel row stride: cin floats
	LEAQ (R12)(R12*2), R13       // 3 rows
	MOVQ out+48(FP), AX
	MOVQ groups+56(FP), R9

dgroup8:
	MOVQ SI, R11                 // the half's first pixel
	MOVQ $2, R14

dhalf8:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ taps+16(FP), BX
	MOVQ ntaps+24(FP), DX
	MOVQ kt+40(FP), DI

dtap8:
	MOVQ (BX), R8
	ADDQ R11, R8
	MOVQ cin+32(FP), CX
	SHRQ $3, CX

dch8:
	VMOVUPS (R8), Y8             // pixel 0 of the half
	VMOVUPS (R8)(R10*1), Y9      // pixel 1
	VMOVUPS (DI), Y10            // kernel rows of outputs 0-3
	VMOVUPS (DI)(R12*1), Y11
	VMOVUPS (DI)(R12*2), Y12
	VMOVUPS (DI)(R13*1), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y1
	VFMADD231PS Y11, Y8, Y2
	VFMADD231PS Y11, Y9, Y3
	VFMADD231PS Y12, Y8, Y4
	VFMADD231PS Y12, Y9, Y5
	VFMADD231PS Y13, Y8, Y6
	VFMADD231PS Y13, Y9, Y7
	ADDQ $32, R8
	ADDQ $32, DI
	DECQ CX
	JNZ  dch8

	ADDQ R13, DI                 // past this tap's other 3 output rows
	ADDQ $8, BX
	DECQ DX
	JNZ  dtap8

	// Pixel 0's outputs are Y0, Y2, Y4, Y6 and pixel 1's Y1, Y3, Y5, Y7:
	// pairwise horizontal adds leave each 128-bit half holding the four
	// partial sums of one pixel, and the two halves are then added.
	VHADDPS Y2, Y0, Y8
	VHADDPS Y6, Y4, Y9
	VHADDPS Y9, Y8, Y8
	VHADDPS Y3, Y1, Y10
	VHADDPS Y7, Y5, Y11
	VHADDPS Y11, Y10, Y10
	VPERM2F128 $0x20, Y10, Y8, Y12
	VPERM2F128 $0x31, Y10, Y8, Y13
	VADDPS Y13, Y12, Y12
	VMOVUPS Y12, (AX)
	ADDQ $32, AX
	LEAQ (R11)(R10*2), R11
	DECQ R14
	JNZ  dhalf8

	LEAQ (SI)(R10*4), SI
	DECQ R9
	JNZ  dgroup8
	VZEROUPPER
	RET
