package fastcpu

// Run kernels of the binary elementwise ops, one loop per op and broadcasting pattern so that
// the op is chosen once per run, not per element. Written out by a one-off generator; edit
// freely.

import (
	"math"

	"github.com/gomlx/gomlx/backends"
)

// binaryRunFloat computes dst[i] = a[i*sa] op b[i*sb] for one contiguous run; sa and sb are 0
// (broadcast value) or 1. It reports false for an op it does not handle.
func binaryRunFloat[T float32 | float64](op backends.OpType, dst, a, b []T, sa, sb int) bool {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x * y
			}
		case backends.OpTypeDiv:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x / y
			}
		case backends.OpTypeMax:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = min(x, y)
			}
		case backends.OpTypePow:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = T(math.Pow(float64(x), float64(y)))
			}
		default:
			return false
		}
	case sa == 0 && sb == 1:
		b = b[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x * y
			}
		case backends.OpTypeDiv:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x / y
			}
		case backends.OpTypeMax:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = min(x, y)
			}
		case backends.OpTypePow:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = T(math.Pow(float64(x), float64(y)))
			}
		default:
			return false
		}
	case sa == 1 && sb == 0:
		a = a[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x * y
			}
		case backends.OpTypeDiv:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x / y
			}
		case backends.OpTypeMax:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = min(x, y)
			}
		case backends.OpTypePow:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = T(math.Pow(float64(x), float64(y)))
			}
		default:
			return false
		}
	default:
		for i := range dst {
			x, y := a[i*sa], b[i*sb]
			switch op {
			case backends.OpTypeAdd:
				dst[i] = x + y
			case backends.OpTypeSub:
				dst[i] = x - y
			case backends.OpTypeMul:
				dst[i] = x * y
			case backends.OpTypeDiv:
				dst[i] = x / y
			case backends.OpTypeMax:
				dst[i] = max(x, y)
			case backends.OpTypeMin:
				dst[i] = min(x, y)
			case backends.OpTypePow:
				dst[i] = T(math.Pow(float64(x), float64(y)))
			default:
				return false
			}
		}
	}
	return true
}

// binaryRunInt computes dst[i] = a[i*sa] op b[i*sb] for one contiguous run; sa and sb are 0
// (broadcast value) or 1. It reports false for an op it does not handle.
func binaryRunInt[T integer](op backends.OpType, dst, a, b []T, sa, sb int) bool {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(dst)], b[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = x * y
			}
		case backends.OpTypeMax:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			for i := range dst {
				x, y := a[i], b[i]
				dst[i] = min(x, y)
			}
		default:
			return false
		}
	case sa == 0 && sb == 1:
		b = b[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = x * y
			}
		case backends.OpTypeMax:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			x := a[0]
			for i := range dst {
				y := b[i]
				dst[i] = min(x, y)
			}
		default:
			return false
		}
	case sa == 1 && sb == 0:
		a = a[:len(dst)]
		switch op {
		case backends.OpTypeAdd:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x + y
			}
		case backends.OpTypeSub:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x - y
			}
		case backends.OpTypeMul:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = x * y
			}
		case backends.OpTypeMax:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = max(x, y)
			}
		case backends.OpTypeMin:
			y := b[0]
			for i := range dst {
				x := a[i]
				dst[i] = min(x, y)
			}
		default:
			return false
		}
	default:
		for i := range dst {
			x, y := a[i*sa], b[i*sb]
			switch op {
			case backends.OpTypeAdd:
				dst[i] = x + y
			case backends.OpTypeSub:
				dst[i] = x - y
			case backends.OpTypeMul:
				dst[i] = x * y
			case backends.OpTypeMax:
				dst[i] = max(x, y)
			case backends.OpTypeMin:
				dst[i] = min(x, y)
			default:
				return false
			}
		}
	}
	return true
}
