package kernels

// portableKernel returns the scalar kernel, available on every build.
func portableKernel() kernel {
	return kernel{name: "portable", mr: mr, nr: nr, kc: kcMax, aStride: mr, packA: packAPortable,
		micro: microPortable, packB: packB, bStride: nr,
		add: addPortable, dot: dotPortable, axpy: axpyPortable}
}

// addPortable sets dst[i] += src[i].
func addPortable(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// packAPortable packs op(A) rows [i0, i0+rows) × depth [p0, p0+kc), scaled by
// alpha, as kc groups of mr values (zero rows past rows).
func packAPortable(dst []float32, a []float32, lda int, tA Transpose, i0, rows, p0, kc int, alpha float32) {
	dst = dst[:kc*mr]
	if rows < mr {
		clear(dst)
	}
	for r := 0; r < rows; r++ {
		if !tA {
			src := a[(i0+r)*lda+p0:]
			src = src[:kc]
			for p, v := range src {
				dst[p*mr+r] = alpha * v
			}
		} else {
			for p := 0; p < kc; p++ {
				dst[p*mr+r] = alpha * a[(p0+p)*lda+i0+r]
			}
		}
	}
}

// microPortable is the scalar 4×16 micro-kernel. It walks the tile in 4×2
// sub-blocks so that the eight accumulators and six operands fit in the
// floating-point registers.
func microPortable(kc int, pa, pb []float32, c []float32, ldc, rows, cols int, beta float32) {
	var acc [mr * nr]float32
	pa = pa[:kc*mr]
	pb = pb[:kc*nr]
	for q := 0; q < nr; q += 2 {
		var c00, c01, c10, c11, c20, c21, c30, c31 float32
		b := pb[q:]
		for p := 0; p < kc; p++ {
			a := pa[p*mr : p*mr+mr : p*mr+mr]
			bb := b[p*nr : p*nr+2 : p*nr+2]
			a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
			b0, b1 := bb[0], bb[1]
			c00 += a0 * b0
			c01 += a0 * b1
			c10 += a1 * b0
			c11 += a1 * b1
			c20 += a2 * b0
			c21 += a2 * b1
			c30 += a3 * b0
			c31 += a3 * b1
		}
		acc[0*nr+q], acc[0*nr+q+1] = c00, c01
		acc[1*nr+q], acc[1*nr+q+1] = c10, c11
		acc[2*nr+q], acc[2*nr+q+1] = c20, c21
		acc[3*nr+q], acc[3*nr+q+1] = c30, c31
	}
	storeTile(&acc, c, ldc, rows, cols, beta)
}

// storeTile writes the top-left rows×cols of acc into c as acc + beta·c.
func storeTile(acc *[mr * nr]float32, c []float32, ldc, rows, cols int, beta float32) {
	storeTileN(acc[:], nr, c, ldc, rows, cols, beta)
}

// storeTileN is storeTile for a tile with rows of width tileCols.
func storeTileN(acc []float32, tileCols int, c []float32, ldc, rows, cols int, beta float32) {
	for r := 0; r < rows; r++ {
		row := c[r*ldc : r*ldc+cols]
		src := acc[r*tileCols : r*tileCols+cols]
		switch beta {
		case 0:
			copy(row, src)
		case 1:
			for x, v := range src {
				row[x] += v
			}
		default:
			for x, v := range src {
				row[x] = v + beta*row[x]
			}
		}
	}
}

// dotPortable returns Σ a[i]·b[i] with four partial sums.
func dotPortable(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyPortable sets y[i] += alpha·x[i].
func axpyPortable(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}
