//go:build goexperiment.simd && amd64

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// hasAVX2FMA is read once: the CPU features do not change while running.
var hasAVX2FMA = archsimd.X86.AVX2() && archsimd.X86.FMA()

func simdAvailable() bool { return hasAVX2FMA }

// availableKernels lists the kernels this machine can run, best last.
func availableKernels() []kernel {
	ks := []kernel{portableKernel()}
	if hasAVX2FMA {
		ks = append(ks, simdKernel())
	}
	if avx512Available() {
		ks = append(ks, avx512Kernel())
	}
	return ks
}

// simdKernel returns the AVX2/FMA kernel. A is packed with every value
// broadcast to 8 lanes so the inner loop needs no broadcast instruction.
func simdKernel() kernel {
	return kernel{name: "avx2-fma", mr: mr, nr: nr, kc: kcMax, aStride: mr * 8, packA: packASIMD,
		micro: microSIMD, packB: packB, bStride: nr,
		add: addSIMD, dot: dotSIMD, axpy: axpySIMD}
}

// addSIMD sets dst[i] += src[i], eight lanes at a time.
func addSIMD(dst, src []float32) {
	src = src[:len(dst)]
	i := 0
	for ; i+16 <= len(dst); i += 16 {
		d0 := (*[8]float32)(dst[i : i+8])
		d1 := (*[8]float32)(dst[i+8 : i+16])
		x0 := archsimd.LoadFloat32x8(d0).Add(archsimd.LoadFloat32x8((*[8]float32)(src[i : i+8])))
		x1 := archsimd.LoadFloat32x8(d1).Add(archsimd.LoadFloat32x8((*[8]float32)(src[i+8 : i+16])))
		x0.Store(d0)
		x1.Store(d1)
	}
	if i+8 <= len(dst) {
		d0 := (*[8]float32)(dst[i : i+8])
		archsimd.LoadFloat32x8(d0).Add(archsimd.LoadFloat32x8((*[8]float32)(src[i : i+8]))).Store(d0)
		i += 8
	}
	archsimd.ClearAVXUpperBits()
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// packASIMD packs op(A) rows [i0, i0+rows) × depth [p0, p0+kc), scaled by alpha,
// as kc groups of mr vectors of 8 equal lanes (zero vectors for rows past rows).
// Eight consecutive values are loaded at once and spread with VPERMPS, so the
// cost is about one 32-byte store per value.
func packASIMD(dst []float32, a []float32, lda int, tA Transpose, i0, rows, p0, kc int, alpha float32) {
	dst = dst[:kc*mr*8]
	al := archsimd.BroadcastFloat32x8(alpha)
	scale := alpha != 1
	var zero archsimd.Float32x8
	for r := rows; r < mr; r++ {
		for p := 0; p < kc; p++ {
			zero.Store((*[8]float32)(dst[(p*mr+r)*8:]))
		}
	}
	i0v := archsimd.BroadcastUint32x8(0)
	i1v := archsimd.BroadcastUint32x8(1)
	i2v := archsimd.BroadcastUint32x8(2)
	i3v := archsimd.BroadcastUint32x8(3)
	if !tA {
		i4v := archsimd.BroadcastUint32x8(4)
		i5v := archsimd.BroadcastUint32x8(5)
		i6v := archsimd.BroadcastUint32x8(6)
		i7v := archsimd.BroadcastUint32x8(7)
		kc8 := kc &^ 7
		for r := 0; r < rows; r++ {
			src := a[(i0+r)*lda+p0:]
			src = src[:kc]
			d0 := unsafe.Pointer(&dst[r*8])
			for p := 0; p < kc8; p += 8 {
				d := unsafe.Add(d0, p*mr*32)
				x := archsimd.LoadFloat32x8((*[8]float32)(src[p : p+8]))
				if scale {
					x = x.Mul(al)
				}
				x.Permute(i0v).Store((*[8]float32)(d))
				x.Permute(i1v).Store((*[8]float32)(unsafe.Add(d, 1*mr*32)))
				x.Permute(i2v).Store((*[8]float32)(unsafe.Add(d, 2*mr*32)))
				x.Permute(i3v).Store((*[8]float32)(unsafe.Add(d, 3*mr*32)))
				x.Permute(i4v).Store((*[8]float32)(unsafe.Add(d, 4*mr*32)))
				x.Permute(i5v).Store((*[8]float32)(unsafe.Add(d, 5*mr*32)))
				x.Permute(i6v).Store((*[8]float32)(unsafe.Add(d, 6*mr*32)))
				x.Permute(i7v).Store((*[8]float32)(unsafe.Add(d, 7*mr*32)))
			}
			for p := kc8; p < kc; p++ {
				archsimd.BroadcastFloat32x8(src[p]).Mul(al).Store((*[8]float32)(dst[(p*mr+r)*8:]))
			}
		}
	} else {
		for p := 0; p < kc; p++ {
			src := a[(p0+p)*lda+i0:]
			var x archsimd.Float32x8
			if len(src) >= 8 {
				x = archsimd.LoadFloat32x8((*[8]float32)(src[:8]))
			} else {
				var tmp [8]float32
				copy(tmp[:], src[:rows])
				x = archsimd.LoadFloat32x8(&tmp)
			}
			if scale {
				x = x.Mul(al)
			}
			d := dst[p*mr*8 : p*mr*8+mr*8]
			switch rows {
			case 4:
				x.Permute(i3v).Store((*[8]float32)(d[24:32]))
				fallthrough
			case 3:
				x.Permute(i2v).Store((*[8]float32)(d[16:24]))
				fallthrough
			case 2:
				x.Permute(i1v).Store((*[8]float32)(d[8:16]))
				fallthrough
			default:
				x.Permute(i0v).Store((*[8]float32)(d[0:8]))
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// microSIMD is the 4×16 AVX2/FMA micro-kernel: eight Float32x8 accumulators
// (two per row), inner loop unrolled twice. pa holds kc·32 values, pb kc·16.
func microSIMD(kc int, pa, pb []float32, c []float32, ldc, rows, cols int, beta float32) {
	if len(pa) < kc*mr*8 || len(pb) < kc*nr || kc <= 0 {
		panic("gemm: internal error: short packed buffers")
	}
	var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x8
	// Moving pointers (offsets folded into the loads), advanced at the top of
	// each iteration after the first so they never point past the buffers.
	a := unsafe.Pointer(&pa[0])
	b := unsafe.Pointer(&pb[0])
	for i := kc >> 1; i > 0; i-- {
		if i != kc>>1 {
			a = unsafe.Add(a, 256)
			b = unsafe.Add(b, 128)
		}
		b0 := archsimd.LoadFloat32x8((*[8]float32)(b))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 32)))
		x := archsimd.LoadFloat32x8((*[8]float32)(a))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 32)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 64)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 96)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)

		b0 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 64)))
		b1 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 96)))
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 128)))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 160)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 192)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 224)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	if kc&1 != 0 {
		a := unsafe.Pointer(&pa[(kc-1)*32])
		b := unsafe.Pointer(&pb[(kc-1)*16])
		b0 := archsimd.LoadFloat32x8((*[8]float32)(b))
		b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 32)))
		x := archsimd.LoadFloat32x8((*[8]float32)(a))
		c00 = x.MulAdd(b0, c00)
		c01 = x.MulAdd(b1, c01)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 32)))
		c10 = x.MulAdd(b0, c10)
		c11 = x.MulAdd(b1, c11)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 64)))
		c20 = x.MulAdd(b0, c20)
		c21 = x.MulAdd(b1, c21)
		x = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(a, 96)))
		c30 = x.MulAdd(b0, c30)
		c31 = x.MulAdd(b1, c31)
	}
	if rows == mr && cols == nr {
		r0 := c[0:16:16]
		r1 := c[ldc : ldc+16 : ldc+16]
		r2 := c[2*ldc : 2*ldc+16 : 2*ldc+16]
		r3 := c[3*ldc : 3*ldc+16 : 3*ldc+16]
		switch beta {
		case 0:
		case 1:
			c00 = c00.Add(archsimd.LoadFloat32x8((*[8]float32)(r0[0:8])))
			c01 = c01.Add(archsimd.LoadFloat32x8((*[8]float32)(r0[8:16])))
			c10 = c10.Add(archsimd.LoadFloat32x8((*[8]float32)(r1[0:8])))
			c11 = c11.Add(archsimd.LoadFloat32x8((*[8]float32)(r1[8:16])))
			c20 = c20.Add(archsimd.LoadFloat32x8((*[8]float32)(r2[0:8])))
			c21 = c21.Add(archsimd.LoadFloat32x8((*[8]float32)(r2[8:16])))
			c30 = c30.Add(archsimd.LoadFloat32x8((*[8]float32)(r3[0:8])))
			c31 = c31.Add(archsimd.LoadFloat32x8((*[8]float32)(r3[8:16])))
		default:
			bv := archsimd.BroadcastFloat32x8(beta)
			c00 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r0[0:8])), c00)
			c01 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r0[8:16])), c01)
			c10 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r1[0:8])), c10)
			c11 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r1[8:16])), c11)
			c20 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r2[0:8])), c20)
			c21 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r2[8:16])), c21)
			c30 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r3[0:8])), c30)
			c31 = bv.MulAdd(archsimd.LoadFloat32x8((*[8]float32)(r3[8:16])), c31)
		}
		c00.Store((*[8]float32)(r0[0:8]))
		c01.Store((*[8]float32)(r0[8:16]))
		c10.Store((*[8]float32)(r1[0:8]))
		c11.Store((*[8]float32)(r1[8:16]))
		c20.Store((*[8]float32)(r2[0:8]))
		c21.Store((*[8]float32)(r2[8:16]))
		c30.Store((*[8]float32)(r3[0:8]))
		c31.Store((*[8]float32)(r3[8:16]))
		archsimd.ClearAVXUpperBits()
		return
	}
	var acc [mr * nr]float32
	c00.Store((*[8]float32)(acc[0:8]))
	c01.Store((*[8]float32)(acc[8:16]))
	c10.Store((*[8]float32)(acc[16:24]))
	c11.Store((*[8]float32)(acc[24:32]))
	c20.Store((*[8]float32)(acc[32:40]))
	c21.Store((*[8]float32)(acc[40:48]))
	c30.Store((*[8]float32)(acc[48:56]))
	c31.Store((*[8]float32)(acc[56:64]))
	archsimd.ClearAVXUpperBits()
	storeTile(&acc, c, ldc, rows, cols, beta)
}

// dotSIMD returns Σ a[i]·b[i] with four 8-lane partial sums.
func dotSIMD(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 archsimd.Float32x8
	i := 0
	for ; i+32 <= len(a); i += 32 {
		s0 = archsimd.LoadFloat32x8((*[8]float32)(a[i:i+8])).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(b[i:i+8])), s0)
		s1 = archsimd.LoadFloat32x8((*[8]float32)(a[i+8:i+16])).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(b[i+8:i+16])), s1)
		s2 = archsimd.LoadFloat32x8((*[8]float32)(a[i+16:i+24])).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(b[i+16:i+24])), s2)
		s3 = archsimd.LoadFloat32x8((*[8]float32)(a[i+24:i+32])).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(b[i+24:i+32])), s3)
	}
	for ; i+8 <= len(a); i += 8 {
		s0 = archsimd.LoadFloat32x8((*[8]float32)(a[i:i+8])).MulAdd(archsimd.LoadFloat32x8((*[8]float32)(b[i:i+8])), s0)
	}
	var t [8]float32
	s0.Add(s1).Add(s2.Add(s3)).Store(&t)
	archsimd.ClearAVXUpperBits()
	sum := ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]))
	for ; i < len(a); i++ {
		sum += a[i] * b[i]
	}
	return sum
}

// axpySIMD sets y[i] += alpha·x[i], eight lanes at a time.
func axpySIMD(alpha float32, x, y []float32) {
	y = y[:len(x)]
	al := archsimd.BroadcastFloat32x8(alpha)
	i := 0
	for ; i+16 <= len(x); i += 16 {
		y0 := (*[8]float32)(y[i : i+8])
		y1 := (*[8]float32)(y[i+8 : i+16])
		archsimd.LoadFloat32x8((*[8]float32)(x[i:i+8])).MulAdd(al, archsimd.LoadFloat32x8(y0)).Store(y0)
		archsimd.LoadFloat32x8((*[8]float32)(x[i+8:i+16])).MulAdd(al, archsimd.LoadFloat32x8(y1)).Store(y1)
	}
	if i+8 <= len(x) {
		y0 := (*[8]float32)(y[i : i+8])
		archsimd.LoadFloat32x8((*[8]float32)(x[i:i+8])).MulAdd(al, archsimd.LoadFloat32x8(y0)).Store(y0)
		i += 8
	}
	archsimd.ClearAVXUpperBits()
	for ; i < len(x); i++ {
		y[i] += alpha * x[i]
	}
}
