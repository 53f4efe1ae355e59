//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// The AVX-512 kernel: a 4×32 tile in eight Float32x16 accumulators, A packed
// with every value broadcast to 16 lanes, B in strips of 32 columns. It has
// the same structure as the AVX2 kernel, twice as wide.

const (
	mr512 = 4
	nr512 = 32
	kc512 = 64 // measured best of 48-160 on 1024³ (A slice kc·256 B + B strip kc·128 B well inside L1)
)

var hasAVX512 = archsimd.X86.AVX512()

func avx512Available() bool { return hasAVX512 && hasAVX2FMA }

func avx512Kernel() kernel {
	return kernel{name: "avx512", mr: mr512, nr: nr512, kc: kc512, aStride: mr512 * 16,
		packA: packA512, micro: micro512,
		packB: func(dst, b []float32, ldb int, tB Transpose, p0, kc, j0, nc int) {
			packBN(dst, b, ldb, tB, p0, kc, j0, nc, nr512)
		},
		bStride: nr512,
		add:     addSIMD, dot: dotSIMD, axpy: axpySIMD}
}

// packA512 packs op(A) rows [i0, i0+rows) × depth [p0, p0+kc), scaled by
// alpha, as kc groups of 4 vectors of 16 equal lanes (zero past rows).
func packA512(dst []float32, a []float32, lda int, tA Transpose, i0, rows, p0, kc int, alpha float32) {
	dst = dst[:kc*mr512*16]
	if rows < mr512 {
		clear(dst)
	}
	if !tA {
		al := archsimd.BroadcastFloat32x16(alpha)
		scale := alpha != 1
		var idx [16]archsimd.Uint32x16
		for l := range idx {
			idx[l] = archsimd.BroadcastUint32x16(uint32(l))
		}
		kc16 := kc &^ 15
		for r := 0; r < rows; r++ {
			src := a[(i0+r)*lda+p0:]
			src = src[:kc]
			d0 := unsafe.Pointer(&dst[r*16])
			for p := 0; p < kc16; p += 16 {
				x := archsimd.LoadFloat32x16((*[16]float32)(src[p : p+16]))
				if scale {
					x = x.Mul(al)
				}
				d := unsafe.Add(d0, p*mr512*64)
				for l := 0; l < 16; l++ {
					x.Permute(idx[l]).Store((*[16]float32)(unsafe.Add(d, l*mr512*64)))
				}
			}
			for p := kc16; p < kc; p++ {
				archsimd.BroadcastFloat32x16(alpha * src[p]).Store((*[16]float32)(dst[(p*mr512+r)*16:]))
			}
		}
		archsimd.ClearAVXUpperBits()
		return
	}
	// Transposed A: the rows of one k step are contiguous; load them at once
	// and spread each lane.
	al := archsimd.BroadcastFloat32x16(alpha)
	scale := alpha != 1
	idx0 := archsimd.BroadcastUint32x16(0)
	idx1 := archsimd.BroadcastUint32x16(1)
	idx2 := archsimd.BroadcastUint32x16(2)
	idx3 := archsimd.BroadcastUint32x16(3)
	for p := 0; p < kc; p++ {
		src := a[(p0+p)*lda+i0:]
		var x archsimd.Float32x16
		if len(src) >= 16 {
			x = archsimd.LoadFloat32x16((*[16]float32)(src[:16]))
		} else {
			var t [16]float32
			copy(t[:], src[:rows])
			x = archsimd.LoadFloat32x16(&t)
		}
		if scale {
			x = x.Mul(al)
		}
		d := dst[p*mr512*16 : (p+1)*mr512*16]
		switch rows {
		case 4:
			x.Permute(idx3).Store((*[16]float32)(d[48:64]))
			fallthrough
		case 3:
			x.Permute(idx2).Store((*[16]float32)(d[32:48]))
			fallthrough
		case 2:
			x.Permute(idx1).Store((*[16]float32)(d[16:32]))
			fallthrough
		default:
			x.Permute(idx0).Store((*[16]float32)(d[0:16]))
		}
	}
	archsimd.ClearAVXUpperBits()
}

// micro512 is the 4×32 AVX-512 micro-kernel, inner loop unrolled twice.
func micro512(kc int, pa, pb []float32, c []float32, ldc, rows, cols int, beta float32) {
	if len(pa) < kc*mr512*16 || len(pb) < kc*nr512 || kc <= 0 {
		panic("gemm: internal error: short packed buffers")
	}
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x16
	// Moving pointers (offsets folded into the loads), advanced at the top of
	// each iteration after the first so they never point past the buffers.
	a := unsafe.Pointer(&pa[0])
	b := unsafe.Pointer(&pb[0])
	for i := kc >> 1; i > 0; i-- {
		if i != kc>>1 {
			a = unsafe.Add(a, 512)
			b = unsafe.Add(b, 256)
		}
		b0 := archsimd.LoadFloat32x16((*[16]float32)(b))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 64)))
		x := archsimd.LoadFloat32x16((*[16]float32)(a))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 64)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 128)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 192)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)

		b0 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 128)))
		b1 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 192)))
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 256)))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 320)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 384)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 448)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	if kc&1 != 0 {
		a := unsafe.Pointer(&pa[(kc-1)*64])
		b := unsafe.Pointer(&pb[(kc-1)*32])
		b0 := archsimd.LoadFloat32x16((*[16]float32)(b))
		b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 64)))
		x := archsimd.LoadFloat32x16((*[16]float32)(a))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 64)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 128)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(a, 192)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	if rows == mr512 && cols == nr512 {
		d00 := (*[16]float32)(c[0:16])
		d01 := (*[16]float32)(c[16:32])
		d10 := (*[16]float32)(c[ldc : ldc+16])
		d11 := (*[16]float32)(c[ldc+16 : ldc+32])
		d20 := (*[16]float32)(c[2*ldc : 2*ldc+16])
		d21 := (*[16]float32)(c[2*ldc+16 : 2*ldc+32])
		d30 := (*[16]float32)(c[3*ldc : 3*ldc+16])
		d31 := (*[16]float32)(c[3*ldc+16 : 3*ldc+32])
		switch beta {
		case 0:
		case 1:
			c00 = c00.Add(archsimd.LoadFloat32x16(d00))
			c01 = c01.Add(archsimd.LoadFloat32x16(d01))
			c10 = c10.Add(archsimd.LoadFloat32x16(d10))
			c11 = c11.Add(archsimd.LoadFloat32x16(d11))
			c20 = c20.Add(archsimd.LoadFloat32x16(d20))
			c21 = c21.Add(archsimd.LoadFloat32x16(d21))
			c30 = c30.Add(archsimd.LoadFloat32x16(d30))
			c31 = c31.Add(archsimd.LoadFloat32x16(d31))
		default:
			bv := archsimd.BroadcastFloat32x16(beta)
			c00 = bv.MulAdd(archsimd.LoadFloat32x16(d00), c00)
			c01 = bv.MulAdd(archsimd.LoadFloat32x16(d01), c01)
			c10 = bv.MulAdd(archsimd.LoadFloat32x16(d10), c10)
			c11 = bv.MulAdd(archsimd.LoadFloat32x16(d11), c11)
			c20 = bv.MulAdd(archsimd.LoadFloat32x16(d20), c20)
			c21 = bv.MulAdd(archsimd.LoadFloat32x16(d21), c21)
			c30 = bv.MulAdd(archsimd.LoadFloat32x16(d30), c30)
			c31 = bv.MulAdd(archsimd.LoadFloat32x16(d31), c31)
		}
		c00.Store(d00)
		c01.Store(d01)
		c10.Store(d10)
		c11.Store(d11)
		c20.Store(d20)
		c21.Store(d21)
		c30.Store(d30)
		c31.Store(d31)
		archsimd.ClearAVXUpperBits()
		return
	}
	var acc [mr512 * nr512]float32
	c00.Store((*[16]float32)(acc[0:16]))
	c01.Store((*[16]float32)(acc[16:32]))
	c10.Store((*[16]float32)(acc[32:48]))
	c11.Store((*[16]float32)(acc[48:64]))
	c20.Store((*[16]float32)(acc[64:80]))
	c21.Store((*[16]float32)(acc[80:96]))
	c30.Store((*[16]float32)(acc[96:112]))
	c31.Store((*[16]float32)(acc[112:128]))
	archsimd.ClearAVXUpperBits()
	storeTileN(acc[:], nr512, c, ldc, rows, cols, beta)
}
