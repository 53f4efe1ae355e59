//go:build goexperiment.simd && amd64

package fastcpu

import (
	"simd/archsimd"

	"github.com/gomlx/gomlx/backends"
)

// hasSIMD is read once: the CPU features do not change while running.
var hasSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

// hasAVX512 enables the 16-lane kernels (AVX-512F; Zen 4/5, Intel server parts).
var hasAVX512 = hasSIMD && archsimd.X86.AVX512()

// simdBinary computes dst[i] = a[i*sa] op b[i*sb] (sa, sb in {0, 1}, not both 0) for the
// arithmetic ops with 8-lane AVX2 vectors. It reports false (doing nothing) when it does not
// handle the case, and the scalar kernel runs instead.
func simdBinary(op backends.OpType, dst, a, b []float32, sa, sb int) bool {
	if !hasSIMD || len(dst) < 8 || (sa == 0 && sb == 0) {
		return false
	}
	var done int
	if hasAVX512 && len(dst) >= 16 {
		done = simdBinaryLoops16(op, dst, a, b, sa, sb)
		if done > 0 && done+8 <= len(dst) {
			done += simdBinaryLoops(op, dst[done:], a[done*sa:], b[done*sb:], sa, sb)
		}
	} else {
		done = simdBinaryLoops(op, dst, a, b, sa, sb)
	}
	archsimd.ClearAVXUpperBits()
	if done < 0 {
		return false
	}
	if done < len(dst) {
		binaryRunFloat(op, dst[done:], a[done*sa:], b[done*sb:], sa, sb)
	}
	return true
}

// simdBinaryLoops computes dst = a op b over whole 8-lane vectors for the arithmetic ops, with
// one loop per op and operand pattern (vv: both vectors; sv: a broadcast; vs: b broadcast) so
// the op is chosen once per call. It returns the number of elements done (a multiple of 8), or
// -1 for an op it does not handle.
func simdBinaryLoops(op backends.OpType, dst, a, b []float32, sa, sb int) int {
	n := len(dst) &^ 7
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Add(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Sub(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Mul(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Div(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Max(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Min(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		default:
			return -1
		}
	case sa == 0 && sb == 1:
		b = b[:n]
		av := archsimd.BroadcastFloat32x8(a[0])
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 8 {
				av.Add(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 8 {
				av.Sub(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 8 {
				av.Mul(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 8 {
				av.Div(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 8 {
				av.Max(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 8 {
				av.Min(archsimd.LoadFloat32x8Slice(b[i : i+8])).StoreSlice(dst[i : i+8])
			}
		default:
			return -1
		}
	case sa == 1 && sb == 0:
		a = a[:n]
		bv := archsimd.BroadcastFloat32x8(b[0])
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Add(bv).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Sub(bv).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Mul(bv).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Div(bv).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Max(bv).StoreSlice(dst[i : i+8])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 8 {
				archsimd.LoadFloat32x8Slice(a[i : i+8]).Min(bv).StoreSlice(dst[i : i+8])
			}
		default:
			return -1
		}
	default:
		return -1
	}
	return n
}

// simdBinaryLoops16 computes dst = a op b over whole 16-lane AVX-512 vectors for the arithmetic ops, with
// one loop per op and operand pattern (vv: both vectors; sv: a broadcast; vs: b broadcast) so
// the op is chosen once per call. It returns the number of elements done (a multiple of 16), or
// -1 for an op it does not handle.
func simdBinaryLoops16(op backends.OpType, dst, a, b []float32, sa, sb int) int {
	n := len(dst) &^ 15
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:n], b[:n]
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Add(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Sub(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Mul(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Div(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Max(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Min(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		default:
			return -1
		}
	case sa == 0 && sb == 1:
		b = b[:n]
		av := archsimd.BroadcastFloat32x16(a[0])
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 16 {
				av.Add(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 16 {
				av.Sub(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 16 {
				av.Mul(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 16 {
				av.Div(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 16 {
				av.Max(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 16 {
				av.Min(archsimd.LoadFloat32x16Slice(b[i : i+16])).StoreSlice(dst[i : i+16])
			}
		default:
			return -1
		}
	case sa == 1 && sb == 0:
		a = a[:n]
		bv := archsimd.BroadcastFloat32x16(b[0])
		switch op {
		case backends.OpTypeAdd:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Add(bv).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeSub:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Sub(bv).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMul:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Mul(bv).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeDiv:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Div(bv).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMax:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Max(bv).StoreSlice(dst[i : i+16])
			}
		case backends.OpTypeMin:
			for i := 0; i < n; i += 16 {
				archsimd.LoadFloat32x16Slice(a[i : i+16]).Min(bv).StoreSlice(dst[i : i+16])
			}
		default:
			return -1
		}
	default:
		return -1
	}
	return n
}

// simdUnary computes dst = op(src) for Exp, Logistic, Sqrt and Neg with 8-lane vectors; it
// reports false for other ops or without AVX2/FMA.
//
// Exp uses Cody-Waite range reduction to exp(f)·2^n (|f| <= ln2/2) and the Cephes expf
// polynomial: about 2 ulp over [-87.3, 88.7]; beyond that range it returns about 1.2e-38
// (below) or +Inf (above).
func simdUnary(op backends.OpType, dst, src []float32) bool {
	if !hasSIMD || len(dst) < 8 {
		return false
	}
	switch op {
	case backends.OpTypeExp, backends.OpTypeLogistic, backends.OpTypeSqrt, backends.OpTypeNeg:
	default:
		return false
	}
	n := len(dst)
	src = src[:n]
	m := 0
	if hasAVX512 && n >= 16 {
		m = simdUnary16(op, dst, src)
	}
	if m+8 <= n {
		m += simdUnary8(op, dst[m:], src[m:])
	}
	archsimd.ClearAVXUpperBits()
	if m < n {
		unaryRunFloat(op, dst[m:], src[m:])
	}
	return true
}

// simdUnary16 runs simdUnary's ops over the whole 16-lane vectors of src; it returns the number
// of elements done.
func simdUnary16(op backends.OpType, dst, src []float32) int {
	m := len(dst) &^ 15
	one := archsimd.BroadcastFloat32x16(1)
	zero := archsimd.BroadcastFloat32x16(0)
	switch op {
	case backends.OpTypeExp, backends.OpTypeLogistic:
		// The exponential as exp8 computes it, but with fused multiply-adds for the reduction
		// and the polynomial and VSCALEFPS for the 2^n factor, written out in the loop with
		// its constants broadcast once (a call per vector re-broadcast them all and cost as
		// much as the arithmetic).
		hi, lo := archsimd.BroadcastFloat32x16(88.72283), archsimd.BroadcastFloat32x16(-87.33654)
		mg := archsimd.BroadcastFloat32x16(12582912)
		log2e := archsimd.BroadcastFloat32x16(1.44269504088896341)
		c1, c2 := archsimd.BroadcastFloat32x16(-0.693359375), archsimd.BroadcastFloat32x16(2.12194440e-4)
		p0, p1 := archsimd.BroadcastFloat32x16(1.9875691500e-4), archsimd.BroadcastFloat32x16(1.3981999507e-3)
		p2, p3 := archsimd.BroadcastFloat32x16(8.3334519073e-3), archsimd.BroadcastFloat32x16(4.1665795894e-2)
		p4, p5 := archsimd.BroadcastFloat32x16(1.6666665459e-1), archsimd.BroadcastFloat32x16(5.0000001201e-1)
		logistic := op == backends.OpTypeLogistic
		for i := 0; i < m; i += 16 {
			x := archsimd.LoadFloat32x16Slice(src[i : i+16])
			if logistic {
				x = zero.Sub(x)
			}
			x = x.Min(hi).Max(lo)
			fn := x.MulAdd(log2e, mg).Sub(mg)
			f := fn.MulAdd(c1, x)
			f = fn.MulAdd(c2, f)
			p := p0.MulAdd(f, p1)
			p = p.MulAdd(f, p2)
			p = p.MulAdd(f, p3)
			p = p.MulAdd(f, p4)
			p = p.MulAdd(f, p5)
			e := p.MulAdd(f.Mul(f), f).Add(one).Scale(fn)
			if logistic {
				e = one.Div(one.Add(e))
			}
			e.StoreSlice(dst[i : i+16])
		}
	case backends.OpTypeSqrt:
		for i := 0; i < m; i += 16 {
			archsimd.LoadFloat32x16Slice(src[i : i+16]).Sqrt().StoreSlice(dst[i : i+16])
		}
	case backends.OpTypeNeg:
		for i := 0; i < m; i += 16 {
			zero.Sub(archsimd.LoadFloat32x16Slice(src[i : i+16])).StoreSlice(dst[i : i+16])
		}
	}
	return m
}

// simdUnary8 runs simdUnary's ops over the whole 8-lane vectors of src; it returns the number
// of elements done.
func simdUnary8(op backends.OpType, dst, src []float32) int {
	m := len(dst) &^ 7
	one := archsimd.BroadcastFloat32x8(1)
	zero := archsimd.BroadcastFloat32x8(0)
	switch op {
	case backends.OpTypeExp:
		for i := 0; i < m; i += 8 {
			exp8(archsimd.LoadFloat32x8Slice(src[i : i+8])).StoreSlice(dst[i : i+8])
		}
	case backends.OpTypeLogistic:
		for i := 0; i < m; i += 8 {
			x := archsimd.LoadFloat32x8Slice(src[i : i+8])
			one.Div(one.Add(exp8(zero.Sub(x)))).StoreSlice(dst[i : i+8])
		}
	case backends.OpTypeSqrt:
		for i := 0; i < m; i += 8 {
			archsimd.LoadFloat32x8Slice(src[i : i+8]).Sqrt().StoreSlice(dst[i : i+8])
		}
	case backends.OpTypeNeg:
		for i := 0; i < m; i += 8 {
			zero.Sub(archsimd.LoadFloat32x8Slice(src[i : i+8])).StoreSlice(dst[i : i+8])
		}
	}
	return m
}

// exp8 is the 8-lane float32 exponential described at simdUnary.
func exp8(x archsimd.Float32x8) archsimd.Float32x8 {
	const magic = 12582912 // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
	x = x.Min(archsimd.BroadcastFloat32x8(88.72283)).Max(archsimd.BroadcastFloat32x8(-87.33654))
	mg := archsimd.BroadcastFloat32x8(magic)
	y := x.Mul(archsimd.BroadcastFloat32x8(1.44269504088896341)).Add(mg)
	nInt := y.AsInt32x8().Sub(mg.AsInt32x8())
	fn := y.Sub(mg)
	f := x.Sub(fn.Mul(archsimd.BroadcastFloat32x8(0.693359375))).Sub(fn.Mul(archsimd.BroadcastFloat32x8(-2.12194440e-4)))
	p := archsimd.BroadcastFloat32x8(1.9875691500e-4)
	p = p.Mul(f).Add(archsimd.BroadcastFloat32x8(1.3981999507e-3))
	p = p.Mul(f).Add(archsimd.BroadcastFloat32x8(8.3334519073e-3))
	p = p.Mul(f).Add(archsimd.BroadcastFloat32x8(4.1665795894e-2))
	p = p.Mul(f).Add(archsimd.BroadcastFloat32x8(1.6666665459e-1))
	p = p.Mul(f).Add(archsimd.BroadcastFloat32x8(5.0000001201e-1))
	p = p.Mul(f.Mul(f)).Add(f).Add(archsimd.BroadcastFloat32x8(1))
	// 2^n as two factors (n reaches 128 at the top of the range).
	bias := archsimd.BroadcastInt32x8(127)
	n1 := nInt.ShiftAllRight(1)
	n2 := nInt.Sub(n1)
	s1 := n1.Add(bias).ShiftAllLeft(23).AsFloat32x8()
	s2 := n2.Add(bias).ShiftAllLeft(23).AsFloat32x8()
	return p.Mul(s1).Mul(s2)
}

// simdAddRows adds the rows of src ([rows, len(acc)] row-major) into acc column chunk by column
// chunk, the chunk's sums held in vector registers while the rows stream by. It returns the
// number of leading columns done (a multiple of 8; 0 without AVX2); addRowsF32 does the rest.
func simdAddRows(acc, src []float32, rows int) int {
	if !hasSIMD {
		return 0
	}
	return addRowsVec(acc, src, rows, hasAVX512)
}

// addRowsVec is simdAddRows with the 16-lane loops used only when wide.
func addRowsVec(acc, src []float32, rows int, wide bool) int {
	w := len(acc)
	src = src[:rows*w]
	j := 0
	if wide {
		for ; j+32 <= w; j += 32 {
			a0 := archsimd.LoadFloat32x16Slice(acc[j : j+16])
			a1 := archsimd.LoadFloat32x16Slice(acc[j+16 : j+32])
			b0 := archsimd.BroadcastFloat32x16(0)
			b1 := b0
			r := 0
			for ; r+2 <= rows; r += 2 {
				s := src[r*w+j : r*w+j+32]
				t := src[(r+1)*w+j : (r+1)*w+j+32]
				a0 = a0.Add(archsimd.LoadFloat32x16Slice(s[:16]))
				a1 = a1.Add(archsimd.LoadFloat32x16Slice(s[16:32]))
				b0 = b0.Add(archsimd.LoadFloat32x16Slice(t[:16]))
				b1 = b1.Add(archsimd.LoadFloat32x16Slice(t[16:32]))
			}
			if r < rows {
				s := src[r*w+j : r*w+j+32]
				a0 = a0.Add(archsimd.LoadFloat32x16Slice(s[:16]))
				a1 = a1.Add(archsimd.LoadFloat32x16Slice(s[16:32]))
			}
			a0.Add(b0).StoreSlice(acc[j : j+16])
			a1.Add(b1).StoreSlice(acc[j+16 : j+32])
		}
		for ; j+16 <= w; j += 16 {
			a0 := archsimd.LoadFloat32x16Slice(acc[j : j+16])
			b0 := archsimd.BroadcastFloat32x16(0)
			r := 0
			for ; r+2 <= rows; r += 2 {
				a0 = a0.Add(archsimd.LoadFloat32x16Slice(src[r*w+j : r*w+j+16]))
				b0 = b0.Add(archsimd.LoadFloat32x16Slice(src[(r+1)*w+j : (r+1)*w+j+16]))
			}
			if r < rows {
				a0 = a0.Add(archsimd.LoadFloat32x16Slice(src[r*w+j : r*w+j+16]))
			}
			a0.Add(b0).StoreSlice(acc[j : j+16])
		}
	}
	for ; j+16 <= w; j += 16 {
		a0 := archsimd.LoadFloat32x8Slice(acc[j : j+8])
		a1 := archsimd.LoadFloat32x8Slice(acc[j+8 : j+16])
		for r := range rows {
			s := src[r*w+j : r*w+j+16]
			a0 = a0.Add(archsimd.LoadFloat32x8Slice(s[:8]))
			a1 = a1.Add(archsimd.LoadFloat32x8Slice(s[8:16]))
		}
		a0.StoreSlice(acc[j : j+8])
		a1.StoreSlice(acc[j+8 : j+16])
	}
	for ; j+8 <= w; j += 8 {
		a0 := archsimd.LoadFloat32x8Slice(acc[j : j+8])
		for r := range rows {
			a0 = a0.Add(archsimd.LoadFloat32x8Slice(src[r*w+j : r*w+j+8]))
		}
		a0.StoreSlice(acc[j : j+8])
	}
	archsimd.ClearAVXUpperBits()
	return j
}

// simdSum returns the sum of the leading elements of s that fill whole vectors (two 16-lane
// accumulators with AVX-512, else two 8-lane ones), and how many elements that is (0 when
// there are fewer than 32 or no AVX2).
func simdSum(s []float32) (float32, int) {
	if !hasSIMD || len(s) < 32 {
		return 0, 0
	}
	return sumVec(s, hasAVX512)
}

// sumVec is simdSum with the 16-lane loop used only when wide.
func sumVec(s []float32, wide bool) (float32, int) {
	var lanes [16]float32
	var n int
	if wide {
		n = len(s) &^ 31
		a0 := archsimd.LoadFloat32x16Slice(s[0:16])
		a1 := archsimd.LoadFloat32x16Slice(s[16:32])
		for i := 32; i < n; i += 32 {
			a0 = a0.Add(archsimd.LoadFloat32x16Slice(s[i : i+16]))
			a1 = a1.Add(archsimd.LoadFloat32x16Slice(s[i+16 : i+32]))
		}
		a0.Add(a1).StoreSlice(lanes[:])
	} else {
		n = len(s) &^ 15
		a0 := archsimd.LoadFloat32x8Slice(s[0:8])
		a1 := archsimd.LoadFloat32x8Slice(s[8:16])
		for i := 16; i < n; i += 16 {
			a0 = a0.Add(archsimd.LoadFloat32x8Slice(s[i : i+8]))
			a1 = a1.Add(archsimd.LoadFloat32x8Slice(s[i+8 : i+16]))
		}
		a0.Add(a1).StoreSlice(lanes[:8])
	}
	archsimd.ClearAVXUpperBits()
	var t float32
	for i := 0; i < 16; i += 4 {
		t += (lanes[i] + lanes[i+1]) + (lanes[i+2] + lanes[i+3])
	}
	return t, n
}

// simdMulAdd computes dst[i] = a[i]·b[i·sb] + c[i·sc] (sb, sc in {0, 1}) with fused
// multiply-adds (one rounding); it reports false (doing nothing) without AVX2/FMA or for
// fewer than 8 elements.
func simdMulAdd(dst, a, b, c []float32, sb, sc int) bool {
	if !hasSIMD || len(dst) < 8 {
		return false
	}
	n := len(dst)
	done := 0
	if hasAVX512 && n >= 16 {
		done = mulAdd16(dst, a, b, c, sb, sc)
	}
	if done+8 <= n {
		done += mulAdd8(dst[done:], a[done:], b[done*sb:], c[done*sc:], sb, sc)
	}
	archsimd.ClearAVXUpperBits()
	for i := done; i < n; i++ {
		dst[i] = a[i]*b[i*sb] + c[i*sc]
	}
	return true
}

// mulAdd16 computes dst[i] = a[i]·b[i·sb] + c[i·sc] (sb, sc in {0, 1}) with fused multiply-adds
// over whole 16-lane vectors; it returns the number of elements done.
func mulAdd16(dst, a, b, c []float32, sb, sc int) int {
	n := len(dst) &^ 15
	a = a[:n]
	switch {
	case sb == 1 && sc == 1:
		b, c = b[:n], c[:n]
		for i := 0; i < n; i += 16 {
			archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:i+16]), archsimd.LoadFloat32x16Slice(c[i:i+16])).StoreSlice(dst[i : i+16])
		}
	case sb == 1:
		b = b[:n]
		cv := archsimd.BroadcastFloat32x16(c[0])
		for i := 0; i < n; i += 16 {
			archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:i+16]), cv).StoreSlice(dst[i : i+16])
		}
	case sc == 1:
		c = c[:n]
		bv := archsimd.BroadcastFloat32x16(b[0])
		for i := 0; i < n; i += 16 {
			archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(bv, archsimd.LoadFloat32x16Slice(c[i:i+16])).StoreSlice(dst[i : i+16])
		}
	default:
		bv := archsimd.BroadcastFloat32x16(b[0])
		cv := archsimd.BroadcastFloat32x16(c[0])
		for i := 0; i < n; i += 16 {
			archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(bv, cv).StoreSlice(dst[i : i+16])
		}
	}
	return n
}

// mulAdd8 computes dst[i] = a[i]·b[i·sb] + c[i·sc] (sb, sc in {0, 1}) with fused multiply-adds
// over whole 8-lane vectors; it returns the number of elements done.
func mulAdd8(dst, a, b, c []float32, sb, sc int) int {
	n := len(dst) &^ 7
	a = a[:n]
	switch {
	case sb == 1 && sc == 1:
		b, c = b[:n], c[:n]
		for i := 0; i < n; i += 8 {
			archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:i+8]), archsimd.LoadFloat32x8Slice(c[i:i+8])).StoreSlice(dst[i : i+8])
		}
	case sb == 1:
		b = b[:n]
		cv := archsimd.BroadcastFloat32x8(c[0])
		for i := 0; i < n; i += 8 {
			archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:i+8]), cv).StoreSlice(dst[i : i+8])
		}
	case sc == 1:
		c = c[:n]
		bv := archsimd.BroadcastFloat32x8(b[0])
		for i := 0; i < n; i += 8 {
			archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(bv, archsimd.LoadFloat32x8Slice(c[i:i+8])).StoreSlice(dst[i : i+8])
		}
	default:
		bv := archsimd.BroadcastFloat32x8(b[0])
		cv := archsimd.BroadcastFloat32x8(c[0])
		for i := 0; i < n; i += 8 {
			archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(bv, cv).StoreSlice(dst[i : i+8])
		}
	}
	return n
}

// simdAddRowsMul is simdAddRows for the rows of a·b: acc[j] += Σ_r a[r·w+j]·b[r·w+j] with fused
// multiply-adds, column chunk by column chunk. It returns the number of leading columns done.
func simdAddRowsMul(acc, a, b []float32, rows int) int {
	if !hasSIMD {
		return 0
	}
	return addRowsMulVec(acc, a, b, rows, hasAVX512)
}

// addRowsMulVec is simdAddRowsMul with the 16-lane loops used only when wide.
func addRowsMulVec(acc, a, b []float32, rows int, wide bool) int {
	w := len(acc)
	a, b = a[:rows*w], b[:rows*w]
	j := 0
	if wide {
		for ; j+32 <= w; j += 32 {
			a0 := archsimd.LoadFloat32x16Slice(acc[j : j+16])
			a1 := archsimd.LoadFloat32x16Slice(acc[j+16 : j+32])
			for r := range rows {
				o := r*w + j
				x, y := a[o:o+32], b[o:o+32]
				a0 = archsimd.LoadFloat32x16Slice(x[:16]).MulAdd(archsimd.LoadFloat32x16Slice(y[:16]), a0)
				a1 = archsimd.LoadFloat32x16Slice(x[16:32]).MulAdd(archsimd.LoadFloat32x16Slice(y[16:32]), a1)
			}
			a0.StoreSlice(acc[j : j+16])
			a1.StoreSlice(acc[j+16 : j+32])
		}
		for ; j+16 <= w; j += 16 {
			a0 := archsimd.LoadFloat32x16Slice(acc[j : j+16])
			for r := range rows {
				o := r*w + j
				a0 = archsimd.LoadFloat32x16Slice(a[o:o+16]).MulAdd(archsimd.LoadFloat32x16Slice(b[o:o+16]), a0)
			}
			a0.StoreSlice(acc[j : j+16])
		}
	}
	for ; j+8 <= w; j += 8 {
		a0 := archsimd.LoadFloat32x8Slice(acc[j : j+8])
		for r := range rows {
			o := r*w + j
			a0 = archsimd.LoadFloat32x8Slice(a[o:o+8]).MulAdd(archsimd.LoadFloat32x8Slice(b[o:o+8]), a0)
		}
		a0.StoreSlice(acc[j : j+8])
	}
	archsimd.ClearAVXUpperBits()
	return j
}

// simdDot returns Σ a[i]·b[i] over the leading elements of a that fill whole vectors (two
// accumulators of fused multiply-adds), and how many elements that is (0 when there are fewer
// than 32 or no AVX2). len(b) >= len(a).
func simdDot(a, b []float32) (float32, int) {
	if !hasSIMD || len(a) < 32 {
		return 0, 0
	}
	return dotVec(a, b, hasAVX512)
}

// dotVec is simdDot with the 16-lane loop used only when wide.
func dotVec(a, b []float32, wide bool) (float32, int) {
	var lanes [16]float32
	var n int
	if wide {
		n = len(a) &^ 31
		a, b = a[:n], b[:n]
		a0 := archsimd.BroadcastFloat32x16(0)
		a1 := a0
		for i := 0; i < n; i += 32 {
			a0 = archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(archsimd.LoadFloat32x16Slice(b[i:i+16]), a0)
			a1 = archsimd.LoadFloat32x16Slice(a[i+16:i+32]).MulAdd(archsimd.LoadFloat32x16Slice(b[i+16:i+32]), a1)
		}
		a0.Add(a1).StoreSlice(lanes[:])
	} else {
		n = len(a) &^ 15
		a, b = a[:n], b[:n]
		a0 := archsimd.BroadcastFloat32x8(0)
		a1 := a0
		for i := 0; i < n; i += 16 {
			a0 = archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(archsimd.LoadFloat32x8Slice(b[i:i+8]), a0)
			a1 = archsimd.LoadFloat32x8Slice(a[i+8:i+16]).MulAdd(archsimd.LoadFloat32x8Slice(b[i+8:i+16]), a1)
		}
		a0.Add(a1).StoreSlice(lanes[:8])
	}
	archsimd.ClearAVXUpperBits()
	var t float32
	for i := 0; i < 16; i += 4 {
		t += (lanes[i] + lanes[i+1]) + (lanes[i+2] + lanes[i+3])
	}
	return t, n
}

// simdMulAdd2 computes dst[i] = a[i]·b[i·sb] + c[i]·e[i·se] (sb, se in {0, 1}): c·e rounded,
// then a fused multiply-add. It reports false (doing nothing) without AVX2/FMA or for fewer
// than 8 elements.
func simdMulAdd2(dst, a, b, c, e []float32, sb, se int) bool {
	if !hasSIMD || len(dst) < 8 {
		return false
	}
	n := len(dst)
	done := 0
	if hasAVX512 && n >= 16 {
		done = mulAdd2x16(dst, a, b, c, e, sb, se)
	}
	if done+8 <= n {
		done += mulAdd2x8(dst[done:], a[done:], b[done*sb:], c[done:], e[done*se:], sb, se)
	}
	archsimd.ClearAVXUpperBits()
	for i := done; i < n; i++ {
		dst[i] = a[i]*b[i*sb] + c[i]*e[i*se]
	}
	return true
}

// mulAdd2x16 is simdMulAdd2's loop over whole 16-lane vectors; it returns the number of
// elements done.
func mulAdd2x16(dst, a, b, c, e []float32, sb, se int) int {
	n := len(dst) &^ 15
	a, c = a[:n], c[:n]
	bb, eb := archsimd.BroadcastFloat32x16(b[0]), archsimd.BroadcastFloat32x16(e[0])
	for i := 0; i < n; i += 16 {
		bv, ev := bb, eb
		if sb == 1 {
			bv = archsimd.LoadFloat32x16Slice(b[i : i+16])
		}
		if se == 1 {
			ev = archsimd.LoadFloat32x16Slice(e[i : i+16])
		}
		ce := archsimd.LoadFloat32x16Slice(c[i : i+16]).Mul(ev)
		archsimd.LoadFloat32x16Slice(a[i:i+16]).MulAdd(bv, ce).StoreSlice(dst[i : i+16])
	}
	return n
}

// mulAdd2x8 is simdMulAdd2's loop over whole 8-lane vectors.
func mulAdd2x8(dst, a, b, c, e []float32, sb, se int) int {
	n := len(dst) &^ 7
	a, c = a[:n], c[:n]
	bb, eb := archsimd.BroadcastFloat32x8(b[0]), archsimd.BroadcastFloat32x8(e[0])
	for i := 0; i < n; i += 8 {
		bv, ev := bb, eb
		if sb == 1 {
			bv = archsimd.LoadFloat32x8Slice(b[i : i+8])
		}
		if se == 1 {
			ev = archsimd.LoadFloat32x8Slice(e[i : i+8])
		}
		ce := archsimd.LoadFloat32x8Slice(c[i : i+8]).Mul(ev)
		archsimd.LoadFloat32x8Slice(a[i:i+8]).MulAdd(bv, ce).StoreSlice(dst[i : i+8])
	}
	return n
}
