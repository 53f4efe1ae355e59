package fastcpu

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// integer is the set of integer element types the generic kernels handle.
type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// number is every numeric element type.
type number interface {
	integer | ~float32 | ~float64
}

// ---- Builder side ----

// unary records a standard unary op.
func (b *Builder) unary(op backends.OpType, x backends.Op) (backends.Op, error) {
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.UnaryOp(op, ns[0].shape)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	return b.newNode(op, shape, ns[0]), nil
}

// binary records a standard binary op (with XLA broadcasting of size-1 axes and scalars).
func (b *Builder) binary(op backends.OpType, lhs, rhs backends.Op) (backends.Op, error) {
	ns, err := b.in(op, lhs, rhs)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.BinaryOp(op, ns[0].shape, ns[1].shape)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	return b.newNode(op, shape, ns[0], ns[1]), nil
}

// compare records a comparison (bool result).
func (b *Builder) compare(op backends.OpType, lhs, rhs backends.Op) (backends.Op, error) {
	ns, err := b.in(op, lhs, rhs)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.ComparisonOp(op, ns[0].shape, ns[1].shape)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	return b.newNode(op, shape, ns[0], ns[1]), nil
}

// Neg implements backends.Builder.
func (b *Builder) Neg(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeNeg, x) }

// Abs implements backends.Builder.
func (b *Builder) Abs(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeAbs, x) }

// Sign implements backends.Builder.
func (b *Builder) Sign(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeSign, x) }

// Sqrt implements backends.Builder.
func (b *Builder) Sqrt(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeSqrt, x) }

// Rsqrt implements backends.Builder.
func (b *Builder) Rsqrt(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRsqrt, x) }

// Exp implements backends.Builder.
func (b *Builder) Exp(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeExp, x) }

// Expm1 implements backends.Builder.
func (b *Builder) Expm1(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeExpm1, x) }

// Log implements backends.Builder.
func (b *Builder) Log(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeLog, x) }

// Log1p implements backends.Builder.
func (b *Builder) Log1p(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeLog1p, x) }

// Sin implements backends.Builder.
func (b *Builder) Sin(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeSin, x) }

// Cos implements backends.Builder.
func (b *Builder) Cos(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeCos, x) }

// Tanh implements backends.Builder.
func (b *Builder) Tanh(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeTanh, x) }

// Logistic implements backends.Builder (the sigmoid).
func (b *Builder) Logistic(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeLogistic, x)
}

// Floor implements backends.Builder.
func (b *Builder) Floor(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeFloor, x) }

// Ceil implements backends.Builder.
func (b *Builder) Ceil(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeCeil, x) }

// Round implements backends.Builder (half to even, as XLA).
func (b *Builder) Round(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRound, x) }

// Erf implements backends.Builder.
func (b *Builder) Erf(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeErf, x) }

// LogicalNot implements backends.Builder.
func (b *Builder) LogicalNot(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeLogicalNot, x)
}

// Add implements backends.Builder.
func (b *Builder) Add(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeAdd, lhs, rhs)
}

// Sub implements backends.Builder.
func (b *Builder) Sub(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeSub, lhs, rhs)
}

// Mul implements backends.Builder.
func (b *Builder) Mul(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMul, lhs, rhs)
}

// Div implements backends.Builder.
func (b *Builder) Div(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeDiv, lhs, rhs)
}

// Max implements backends.Builder.
func (b *Builder) Max(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMax, lhs, rhs)
}

// Min implements backends.Builder.
func (b *Builder) Min(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMin, lhs, rhs)
}

// Pow implements backends.Builder (floats only).
func (b *Builder) Pow(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypePow, lhs, rhs)
}

// Rem implements backends.Builder.
func (b *Builder) Rem(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeRem, lhs, rhs)
}

// LogicalAnd implements backends.Builder.
func (b *Builder) LogicalAnd(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalAnd, lhs, rhs)
}

// LogicalOr implements backends.Builder.
func (b *Builder) LogicalOr(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalOr, lhs, rhs)
}

// LogicalXor implements backends.Builder.
func (b *Builder) LogicalXor(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalXor, lhs, rhs)
}

// Equal implements backends.Builder.
func (b *Builder) Equal(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeEqual, lhs, rhs)
}

// NotEqual implements backends.Builder.
func (b *Builder) NotEqual(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeNotEqual, lhs, rhs)
}

// LessThan implements backends.Builder.
func (b *Builder) LessThan(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeLessThan, lhs, rhs)
}

// LessOrEqual implements backends.Builder.
func (b *Builder) LessOrEqual(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeLessOrEqual, lhs, rhs)
}

// GreaterThan implements backends.Builder.
func (b *Builder) GreaterThan(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeGreaterThan, lhs, rhs)
}

// GreaterOrEqual implements backends.Builder.
func (b *Builder) GreaterOrEqual(lhs, rhs backends.Op) (backends.Op, error) {
	return b.compare(backends.OpTypeGreaterOrEqual, lhs, rhs)
}

// Where implements backends.Builder: condition ? onTrue : onFalse, elementwise, where any of
// the three may be a scalar.
func (b *Builder) Where(condition, onTrue, onFalse backends.Op) (backends.Op, error) {
	op := backends.OpTypeWhere
	ns, err := b.in(op, condition, onTrue, onFalse)
	if err != nil {
		return nil, err
	}
	shape, err := shapeinference.WhereOp(ns[0].shape, ns[1].shape, ns[2].shape)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	return b.newNode(op, shape, ns...), nil
}

// ConvertDType implements backends.Builder.
func (b *Builder) ConvertDType(x backends.Op, dtype dtypes.DType) (backends.Op, error) {
	op := backends.OpTypeConvertDType
	ns, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	if _, err := makeFlat(dtype, 0); err != nil {
		return nil, errorf(op, "%v", err)
	}
	shape := ns[0].shape.Clone()
	shape.DType = dtype
	n := b.newNode(op, shape, ns[0])
	n.dtype = dtype
	return n, nil
}

// ---- Kernels ----

// unaryRunFloat computes dst = op(src) elementwise; it reports false for ops it lacks.
func unaryRunFloat[T float32 | float64](op backends.OpType, dst, src []T) bool {
	src = src[:len(dst)]
	switch op {
	case backends.OpTypeNeg:
		for i, x := range src {
			dst[i] = -x
		}
	case backends.OpTypeAbs:
		for i, x := range src {
			dst[i] = T(math.Abs(float64(x)))
		}
	case backends.OpTypeSign:
		for i, x := range src {
			switch {
			case x > 0:
				dst[i] = 1
			case x < 0:
				dst[i] = -1
			default:
				dst[i] = x // 0, -0 or NaN
			}
		}
	case backends.OpTypeSqrt:
		for i, x := range src {
			dst[i] = T(math.Sqrt(float64(x)))
		}
	case backends.OpTypeRsqrt:
		for i, x := range src {
			dst[i] = T(1 / math.Sqrt(float64(x)))
		}
	case backends.OpTypeExp:
		for i, x := range src {
			dst[i] = T(math.Exp(float64(x)))
		}
	case backends.OpTypeExpm1:
		for i, x := range src {
			dst[i] = T(math.Expm1(float64(x)))
		}
	case backends.OpTypeLog:
		for i, x := range src {
			dst[i] = T(math.Log(float64(x)))
		}
	case backends.OpTypeLog1p:
		for i, x := range src {
			dst[i] = T(math.Log1p(float64(x)))
		}
	case backends.OpTypeSin:
		for i, x := range src {
			dst[i] = T(math.Sin(float64(x)))
		}
	case backends.OpTypeCos:
		for i, x := range src {
			dst[i] = T(math.Cos(float64(x)))
		}
	case backends.OpTypeTanh:
		for i, x := range src {
			dst[i] = T(math.Tanh(float64(x)))
		}
	case backends.OpTypeLogistic:
		for i, x := range src {
			dst[i] = T(1 / (1 + math.Exp(-float64(x))))
		}
	case backends.OpTypeFloor:
		for i, x := range src {
			dst[i] = T(math.Floor(float64(x)))
		}
	case backends.OpTypeCeil:
		for i, x := range src {
			dst[i] = T(math.Ceil(float64(x)))
		}
	case backends.OpTypeRound:
		for i, x := range src {
			dst[i] = T(math.RoundToEven(float64(x)))
		}
	case backends.OpTypeErf:
		for i, x := range src {
			dst[i] = T(math.Erf(float64(x)))
		}
	default:
		return false
	}
	return true
}

// unaryRunInt computes dst = op(src) for integer types.
func unaryRunInt[T integer](op backends.OpType, dst, src []T) bool {
	src = src[:len(dst)]
	switch op {
	case backends.OpTypeNeg:
		for i, x := range src {
			dst[i] = -x
		}
	case backends.OpTypeAbs:
		for i, x := range src {
			if x < 0 {
				x = -x
			}
			dst[i] = x
		}
	case backends.OpTypeSign:
		for i, x := range src {
			switch {
			case x > 0:
				dst[i] = 1
			case x < 0:
				var one T = 1
				dst[i] = -one
			default:
				dst[i] = 0
			}
		}
	default:
		return false
	}
	return true
}

// execUnary runs a unary node, split over goroutines when large.
func execUnary(ec *execCtx, n *node, out any, ins []any) error {
	op := n.op
	size := n.shape.Size()
	ok := true
	run := func(lo, hi int) {
		switch dst := out.(type) {
		case []float32:
			ok = unaryRunF32(op, dst[lo:hi], ins[0].([]float32)[lo:hi]) && ok
		case []float64:
			ok = unaryRunFloat(op, dst[lo:hi], ins[0].([]float64)[lo:hi]) && ok
		case []int32:
			ok = unaryRunInt(op, dst[lo:hi], ins[0].([]int32)[lo:hi]) && ok
		case []int64:
			ok = unaryRunInt(op, dst[lo:hi], ins[0].([]int64)[lo:hi]) && ok
		case []int8:
			ok = unaryRunInt(op, dst[lo:hi], ins[0].([]int8)[lo:hi]) && ok
		case []int16:
			ok = unaryRunInt(op, dst[lo:hi], ins[0].([]int16)[lo:hi]) && ok
		case []bool:
			src := ins[0].([]bool)[lo:hi]
			if op != backends.OpTypeLogicalNot {
				ok = false
				return
			}
			for i, x := range src {
				dst[lo+i] = !x
			}
		default:
			ok = false
		}
	}
	if _, isF32 := out.([]float32); isF32 {
		ec.parallelFor(size, size*4, run)
	} else {
		run(0, size)
	}
	if !ok {
		return errorf(op, "not implemented for %s", n.shape.DType)
	}
	return nil
}

// binaryPlan builds the loop plan of a binary (or comparison) node.
func binaryPlan(n *node) *loopPlan {
	out := n.shape.Dimensions
	return newLoopPlan(out, nil,
		broadcastStrides(n.inputs[0].shape.Dimensions, out),
		broadcastStrides(n.inputs[1].shape.Dimensions, out))
}

// binaryTyped runs a binary op over a loop plan with a run kernel.
func binaryTyped[T any](ec *execCtx, p *loopPlan, op backends.OpType, dst, a, b []T, size int,
	runFn func(op backends.OpType, dst, a, b []T, sa, sb int) bool) bool {
	rl, sa, sb := p.runLen(), p.runStride(1), p.runStride(2)
	ok := true
	ec.parallelFor(p.numRuns(), size, func(lo, hi int) {
		offs := make([]int, 3)
		p.forRuns(lo, hi, offs, func(offs []int) {
			if !runFn(op, dst[offs[0]:offs[0]+rl], a[offs[1]:], b[offs[2]:], sa, sb) {
				ok = false
			}
		})
	})
	return ok
}

// execBinary runs a binary node.
func execBinary(ec *execCtx, n *node, out any, ins []any) error {
	p := binaryPlan(n)
	size := n.shape.Size()
	op := n.op
	var ok bool
	switch dst := out.(type) {
	case []float32:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]float32), ins[1].([]float32), size, binaryRunF32)
	case []float64:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]float64), ins[1].([]float64), size, binaryRunFloatFull[float64])
	case []int32:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]int32), ins[1].([]int32), size, binaryRunIntFull[int32])
	case []int64:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]int64), ins[1].([]int64), size, binaryRunIntFull[int64])
	case []uint32:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]uint32), ins[1].([]uint32), size, binaryRunIntFull[uint32])
	case []uint64:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]uint64), ins[1].([]uint64), size, binaryRunIntFull[uint64])
	case []int8:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]int8), ins[1].([]int8), size, binaryRunIntFull[int8])
	case []uint8:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]uint8), ins[1].([]uint8), size, binaryRunIntFull[uint8])
	case []bool:
		ok = binaryTyped(ec, p, op, dst, ins[0].([]bool), ins[1].([]bool), size, binaryRunBool)
	}
	if !ok {
		return errorf(op, "not implemented for %s", n.shape.DType)
	}
	return nil
}

// binaryRunIntFull extends binaryRunInt with division and remainder (XLA semantics for a zero
// divisor: x/0 = -1, x%0 = x) and the bitwise ops.
func binaryRunIntFull[T integer](op backends.OpType, dst, a, b []T, sa, sb int) bool {
	switch op {
	case backends.OpTypeDiv, backends.OpTypeRem, backends.OpTypeBitwiseAnd, backends.OpTypeBitwiseOr, backends.OpTypeBitwiseXor:
	default:
		return binaryRunInt(op, dst, a, b, sa, sb)
	}
	for i := range dst {
		x, y := a[i*sa], b[i*sb]
		switch op {
		case backends.OpTypeDiv:
			if y == 0 {
				var one T = 1
				dst[i] = -one
			} else {
				dst[i] = x / y
			}
		case backends.OpTypeRem:
			if y == 0 {
				dst[i] = x
			} else {
				dst[i] = x % y
			}
		case backends.OpTypeBitwiseAnd:
			dst[i] = x & y
		case backends.OpTypeBitwiseOr:
			dst[i] = x | y
		case backends.OpTypeBitwiseXor:
			dst[i] = x ^ y
		}
	}
	return true
}

// binaryRunBool handles the logical ops.
func binaryRunBool(op backends.OpType, dst, a, b []bool, sa, sb int) bool {
	for i := range dst {
		x, y := a[i*sa], b[i*sb]
		switch op {
		case backends.OpTypeLogicalAnd:
			dst[i] = x && y
		case backends.OpTypeLogicalOr:
			dst[i] = x || y
		case backends.OpTypeLogicalXor:
			dst[i] = x != y
		default:
			return false
		}
	}
	return true
}

// binaryRunF32 is the float32 run kernel: SIMD where available, else scalar.
func binaryRunF32(op backends.OpType, dst, a, b []float32, sa, sb int) bool {
	if simdBinary(op, dst, a, b, sa, sb) {
		return true
	}
	return binaryRunFloatFull(op, dst, a, b, sa, sb)
}

// unaryRunF32 is the float32 unary kernel: SIMD where available, else scalar.
func unaryRunF32(op backends.OpType, dst, src []float32) bool {
	if simdUnary(op, dst, src) {
		return true
	}
	return unaryRunFloat(op, dst, src)
}

// binaryRunFloatFull extends binaryRunFloat with Rem.
func binaryRunFloatFull[T float32 | float64](op backends.OpType, dst, a, b []T, sa, sb int) bool {
	if op == backends.OpTypeRem {
		floatRem(dst, a, b, sa, sb)
		return true
	}
	return binaryRunFloat(op, dst, a, b, sa, sb)
}

// floatRem computes the float remainder with the sign of the dividend (C fmod), as XLA.
func floatRem[T float32 | float64](dst, a, b []T, sa, sb int) {
	for i := range dst {
		dst[i] = T(math.Mod(float64(a[i*sa]), float64(b[i*sb])))
	}
}

// compareRun computes a comparison over one run.
func compareRun[T number](op backends.OpType, dst []bool, a, b []T, sa, sb int) bool {
	switch op {
	case backends.OpTypeEqual:
		for i := range dst {
			dst[i] = a[i*sa] == b[i*sb]
		}
	case backends.OpTypeNotEqual:
		for i := range dst {
			dst[i] = a[i*sa] != b[i*sb]
		}
	case backends.OpTypeLessThan:
		for i := range dst {
			dst[i] = a[i*sa] < b[i*sb]
		}
	case backends.OpTypeLessOrEqual:
		for i := range dst {
			dst[i] = a[i*sa] <= b[i*sb]
		}
	case backends.OpTypeGreaterThan:
		for i := range dst {
			dst[i] = a[i*sa] > b[i*sb]
		}
	case backends.OpTypeGreaterOrEqual:
		for i := range dst {
			dst[i] = a[i*sa] >= b[i*sb]
		}
	default:
		return false
	}
	return true
}

// compareTyped runs a comparison over a loop plan.
func compareTyped[T number](p *loopPlan, op backends.OpType, dst []bool, a, b []T) bool {
	rl, sa, sb := p.runLen(), p.runStride(1), p.runStride(2)
	ok := true
	offs := make([]int, 3)
	p.forRuns(0, p.numRuns(), offs, func(offs []int) {
		ok = compareRun(op, dst[offs[0]:offs[0]+rl], a[offs[1]:], b[offs[2]:], sa, sb) && ok
	})
	return ok
}

// execCompare runs a comparison node.
func execCompare(ec *execCtx, n *node, out any, ins []any) error {
	p := binaryPlan(n)
	dst := out.([]bool)
	var ok bool
	switch a := ins[0].(type) {
	case []float32:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]float32))
	case []float64:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]float64))
	case []int32:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]int32))
	case []int64:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]int64))
	case []uint32:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]uint32))
	case []uint64:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]uint64))
	case []int8:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]int8))
	case []uint8:
		ok = compareTyped(p, n.op, dst, a, ins[1].([]uint8))
	}
	if !ok {
		return errorf(n.op, "not implemented for %s", n.inputs[0].shape.DType)
	}
	return nil
}

// whereTyped selects between onTrue and onFalse.
func whereTyped[T any](p *loopPlan, dst []T, cond []bool, t, f []T) {
	rl := p.runLen()
	sc, st, sf := p.runStride(1), p.runStride(2), p.runStride(3)
	offs := make([]int, 4)
	p.forRuns(0, p.numRuns(), offs, func(offs []int) {
		d := dst[offs[0] : offs[0]+rl]
		c, tt, ff := cond[offs[1]:], t[offs[2]:], f[offs[3]:]
		for i := range d {
			if c[i*sc] {
				d[i] = tt[i*st]
			} else {
				d[i] = ff[i*sf]
			}
		}
	})
}

// execWhere runs a Where node.
func execWhere(ec *execCtx, n *node, out any, ins []any) error {
	dims := n.shape.Dimensions
	p := newLoopPlan(dims, nil,
		broadcastStrides(n.inputs[0].shape.Dimensions, dims),
		broadcastStrides(n.inputs[1].shape.Dimensions, dims),
		broadcastStrides(n.inputs[2].shape.Dimensions, dims))
	cond := ins[0].([]bool)
	switch dst := out.(type) {
	case []float32:
		whereTyped(p, dst, cond, ins[1].([]float32), ins[2].([]float32))
	case []float64:
		whereTyped(p, dst, cond, ins[1].([]float64), ins[2].([]float64))
	case []int32:
		whereTyped(p, dst, cond, ins[1].([]int32), ins[2].([]int32))
	case []int64:
		whereTyped(p, dst, cond, ins[1].([]int64), ins[2].([]int64))
	case []uint64:
		whereTyped(p, dst, cond, ins[1].([]uint64), ins[2].([]uint64))
	case []bool:
		whereTyped(p, dst, cond, ins[1].([]bool), ins[2].([]bool))
	default:
		return errorf(n.op, "not implemented for %s", n.shape.DType)
	}
	return nil
}

// convertSlice converts src to dst elementwise.
func convertSlice[S, D number](dst []D, src []S) {
	for i, x := range src[:len(dst)] {
		dst[i] = D(x)
	}
}

// convertTo converts any numeric flat slice src into dst.
func convertTo[D number](dst []D, src any) bool {
	switch s := src.(type) {
	case []float32:
		convertSlice(dst, s)
	case []float64:
		convertSlice(dst, s)
	case []int8:
		convertSlice(dst, s)
	case []int16:
		convertSlice(dst, s)
	case []int32:
		convertSlice(dst, s)
	case []int64:
		convertSlice(dst, s)
	case []uint8:
		convertSlice(dst, s)
	case []uint16:
		convertSlice(dst, s)
	case []uint32:
		convertSlice(dst, s)
	case []uint64:
		convertSlice(dst, s)
	case []bool:
		for i, x := range s[:len(dst)] {
			if x {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		return false
	}
	return true
}

// toBools sets dst[i] = src[i] != 0.
func toBools[S number](dst []bool, src []S) {
	for i, x := range src[:len(dst)] {
		dst[i] = x != 0
	}
}

// execConvert runs ConvertDType.
func execConvert(ec *execCtx, n *node, out any, ins []any) error {
	ok := true
	switch dst := out.(type) {
	case []float32:
		ok = convertTo(dst, ins[0])
	case []float64:
		ok = convertTo(dst, ins[0])
	case []int8:
		ok = convertTo(dst, ins[0])
	case []int16:
		ok = convertTo(dst, ins[0])
	case []int32:
		ok = convertTo(dst, ins[0])
	case []int64:
		ok = convertTo(dst, ins[0])
	case []uint8:
		ok = convertTo(dst, ins[0])
	case []uint16:
		ok = convertTo(dst, ins[0])
	case []uint32:
		ok = convertTo(dst, ins[0])
	case []uint64:
		ok = convertTo(dst, ins[0])
	case []bool:
		switch s := ins[0].(type) {
		case []bool:
			copy(dst, s)
		case []float32:
			toBools(dst, s)
		case []float64:
			toBools(dst, s)
		case []int32:
			toBools(dst, s)
		case []int64:
			toBools(dst, s)
		default:
			ok = false
		}
	default:
		ok = false
	}
	if !ok {
		return errorf(n.op, "conversion %s -> %s not implemented", n.inputs[0].shape.DType, n.shape.DType)
	}
	return nil
}
