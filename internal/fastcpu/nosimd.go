//go:build !goexperiment.simd || !amd64

package fastcpu

import "github.com/gomlx/gomlx/backends"

// simdBinary reports false: this build has no SIMD kernels (build with GOEXPERIMENT=simd on
// amd64 to get them); the scalar kernels run.
func simdBinary(op backends.OpType, dst, a, b []float32, sa, sb int) bool { return false }

// simdUnary reports false: this build has no SIMD kernels.
func simdUnary(op backends.OpType, dst, src []float32) bool { return false }

// simdAddRows does nothing and returns 0: addRowsF32 handles every column.
func simdAddRows(acc, src []float32, rows int) int { return 0 }

// simdSum returns 0, 0: sumF32 adds every element.
func simdSum(s []float32) (float32, int) { return 0, 0 }

// simdMulAdd reports false: mulAddRunF32 runs its scalar loop.
func simdMulAdd(dst, a, b, c []float32, sb, sc int) bool { return false }

// simdAddRowsMul does nothing and returns 0: addRowsMulF32 handles every column.
func simdAddRowsMul(acc, a, b []float32, rows int) int { return 0 }

// simdDot returns 0, 0: rowDot multiplies and adds every element.
func simdDot(a, b []float32) (float32, int) { return 0, 0 }

// simdMulAdd2 reports false: mulAdd2RunF32 runs its scalar loop.
func simdMulAdd2(dst, a, b, c, e []float32, sb, se int) bool { return false }
