package fmcpu

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// refPad is a naive XLA-semantics Pad.
func refPad(x []float64, dims []int, fill float64, cfg []backends.PadAxis) ([]float64, []int) {
	rank := len(dims)
	outDims := make([]int, rank)
	full := make([]backends.PadAxis, rank)
	copy(full, cfg)
	for a := range rank {
		n := dims[a]
		outDims[a] = n + max(n-1, 0)*full[a].Interior + full[a].Start + full[a].End
	}
	out := make([]float64, prod(outDims))
	inStr := rowMajorStrides(dims)
	for i := range out {
		rem, src, ok := i, 0, true
		for a := range rank {
			block := prod(outDims[a+1:])
			o := rem / block
			rem %= block
			j := o - full[a].Start
			step := full[a].Interior + 1
			if j < 0 || j%step != 0 || j/step >= dims[a] {
				ok = false
				continue
			}
			src += (j / step) * inStr[a]
		}
		if ok {
			out[i] = x[src]
		} else {
			out[i] = fill
		}
	}
	return out, outDims
}

func TestPad(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		dims []int
		cfg  []backends.PadAxis
	}{
		{[]int{5}, []backends.PadAxis{{Start: 2, End: 3}}},
		{[]int{5}, []backends.PadAxis{{Start: -1, End: -2}}},
		{[]int{5}, []backends.PadAxis{{Interior: 2}}},
		{[]int{4, 3}, []backends.PadAxis{{Start: 1, End: -1, Interior: 1}, {Start: -2, End: 2}}},
		{[]int{3, 7, 2}, []backends.PadAxis{{}, {Start: -3, End: 1, Interior: 3}, {Start: 1, End: 1, Interior: 1}}},
		{[]int{2, 5, 5, 3}, []backends.PadAxis{{}, {Start: 1, End: 1}, {Start: 1, End: 1}}},       // conv "same"
		{[]int{2, 4, 4, 3}, []backends.PadAxis{{}, {End: 1, Interior: 1}, {End: 1, Interior: 1}}}, // pool grad
		{[]int{1, 1}, []backends.PadAxis{{Interior: 4, Start: 1}, {End: 2}}},
		{[]int{2, 3}, []backends.PadAxis{{Start: -2, End: 3}, {Start: -1, End: -1}}}, // cropped away, then padded
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v_%v", tc.dims, tc.cfg), func(t *testing.T) {
			x := randFlat(rng, prod(tc.dims))
			const fill = 0.5
			want, wantDims := refPad(x, tc.dims, fill, tc.cfg)
			got, gotDims := execOne(t, backend, func(in []*graph.Node) *graph.Node {
				return graph.Pad(in[0], graph.Scalar(in[0].Graph(), dtypes.Float64, fill), tc.cfg...)
			}, tensorOf(x, tc.dims...))
			if !slices.Equal(gotDims, wantDims) {
				t.Fatalf("dims: got %v, want %v", gotDims, wantDims)
			}
			assertClose(t, "Pad", got, want, 0)
		})
	}
}

func TestReverse(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		dims []int
		axes []int
	}{
		{[]int{7}, []int{0}},
		{[]int{3, 3, 5, 4}, []int{0, 1}},
		{[]int{2, 5, 3}, []int{2, 0}},
		{[]int{4, 1, 3}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v_%v", tc.dims, tc.axes), func(t *testing.T) {
			x := randFlat(rng, prod(tc.dims))
			str := rowMajorStrides(tc.dims)
			want := make([]float64, len(x))
			for i := range x {
				rem, src := i, 0
				for a, d := range tc.dims {
					idx := rem / str[a]
					rem %= str[a]
					if slices.Contains(tc.axes, a) {
						idx = d - 1 - idx
					}
					src += idx * str[a]
				}
				want[i] = x[src]
			}
			got, _ := execOne(t, backend, func(in []*graph.Node) *graph.Node {
				return graph.Reverse(in[0], tc.axes...)
			}, tensorOf(x, tc.dims...))
			assertClose(t, "Reverse", got, want, 0)
		})
	}
}

// convCase is a 2D convolution in canonical layout: x [B,H,W,Ci], k [Kh,Kw,Ci,Co], out [B,Oh,Ow,Co].
type convCase struct {
	b, h, w, ci, kh, kw, co int
	strides, inDil, kDil    [2]int
	pads                    [2][2]int
}

func (c convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_k%dx%d_co%d_s%v_p%v_id%v_kd%v", c.b, c.h, c.w, c.ci, c.kh, c.kw, c.co,
		c.strides, c.pads, c.inDil, c.kDil)
}

// outSize returns the output spatial sizes.
func (c convCase) outSize() (int, int) {
	o := func(n, k, s, id, kd int, p [2]int) int {
		return ((n-1)*id+1+p[0]+p[1]-((k-1)*kd+1))/s + 1
	}
	return o(c.h, c.kh, c.strides[0], c.inDil[0], c.kDil[0], c.pads[0]),
		o(c.w, c.kw, c.strides[1], c.inDil[1], c.kDil[1], c.pads[1])
}

// refConv is a naive direct convolution in canonical layout.
func refConv(c convCase, x, k []float64) []float64 {
	oh, ow := c.outSize()
	out := make([]float64, c.b*oh*ow*c.co)
	hd, wd := (c.h-1)*c.inDil[0]+1, (c.w-1)*c.inDil[1]+1
	for b := range c.b {
		for oy := range oh {
			for ox := range ow {
				for co := range c.co {
					var sum float64
					for ky := range c.kh {
						y := oy*c.strides[0] + ky*c.kDil[0] - c.pads[0][0]
						if y < 0 || y >= hd || y%c.inDil[0] != 0 {
							continue
						}
						y /= c.inDil[0]
						for kx := range c.kw {
							xx := ox*c.strides[1] + kx*c.kDil[1] - c.pads[1][0]
							if xx < 0 || xx >= wd || xx%c.inDil[1] != 0 {
								continue
							}
							xx /= c.inDil[1]
							for ci := range c.ci {
								sum += x[((b*c.h+y)*c.w+xx)*c.ci+ci] * k[((ky*c.kw+kx)*c.ci+ci)*c.co+co]
							}
						}
					}
					out[((b*oh+oy)*ow+ox)*c.co+co] = sum
				}
			}
		}
	}
	return out
}

// layoutAxes returns the axes config for tensors transposed from canonical layout by the given
// permutations (test-layout axis j holds canonical axis perm[j]).
func layoutAxes(pIn, pK, pOut []int) backends.ConvolveAxesConfig {
	pos := func(p []int, canon int) int { return slices.Index(p, canon) }
	return backends.ConvolveAxesConfig{
		InputBatch: pos(pIn, 0), InputSpatial: []int{pos(pIn, 1), pos(pIn, 2)}, InputChannels: pos(pIn, 3),
		KernelSpatial: []int{pos(pK, 0), pos(pK, 1)}, KernelInputChannels: pos(pK, 2), KernelOutputChannels: pos(pK, 3),
		OutputBatch: pos(pOut, 0), OutputSpatial: []int{pos(pOut, 1), pos(pOut, 2)}, OutputChannels: pos(pOut, 3),
	}
}

func inversePerm(p []int) []int {
	inv := make([]int, len(p))
	for j, a := range p {
		inv[a] = j
	}
	return inv
}

func TestConvGeneral(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	one := [2]int{1, 1}
	cases := []convCase{
		{b: 2, h: 5, w: 5, ci: 3, kh: 3, kw: 3, co: 4, strides: one, inDil: one, kDil: one, pads: [2][2]int{{1, 1}, {1, 1}}},
		{b: 1, h: 7, w: 6, ci: 5, kh: 1, kw: 1, co: 3, strides: one, inDil: one, kDil: one},
		{b: 3, h: 8, w: 8, ci: 2, kh: 3, kw: 3, co: 5, strides: [2]int{2, 2}, inDil: one, kDil: one, pads: [2][2]int{{1, 1}, {1, 1}}},
		{b: 2, h: 7, w: 9, ci: 3, kh: 3, kw: 2, co: 2, strides: [2]int{2, 3}, inDil: one, kDil: one, pads: [2][2]int{{0, 1}, {2, 0}}},
		{b: 2, h: 5, w: 6, ci: 3, kh: 3, kw: 3, co: 2, strides: one, inDil: [2]int{2, 3}, kDil: one, pads: [2][2]int{{2, 2}, {1, 2}}},
		{b: 1, h: 9, w: 8, ci: 2, kh: 3, kw: 2, co: 3, strides: one, inDil: one, kDil: [2]int{2, 3}, pads: [2][2]int{{2, 1}, {0, 0}}},
		{b: 2, h: 6, w: 6, ci: 3, kh: 5, kw: 4, co: 2, strides: one, inDil: one, kDil: one, pads: [2][2]int{{-1, 0}, {0, -1}}},
		// Output smaller than kernel: the "per output position" path.
		{b: 3, h: 6, w: 5, ci: 2, kh: 5, kw: 5, co: 3, strides: one, inDil: one, kDil: one, pads: [2][2]int{{1, 0}, {1, 1}}},
		{b: 2, h: 7, w: 7, ci: 3, kh: 7, kw: 6, co: 2, strides: one, inDil: one, kDil: one},
	}
	layouts := []struct{ in, k, out []int }{
		{[]int{0, 1, 2, 3}, []int{0, 1, 2, 3}, []int{0, 1, 2, 3}}, // NHWC, HWIO
		{[]int{0, 3, 1, 2}, []int{3, 2, 0, 1}, []int{0, 3, 1, 2}}, // NCHW, OIHW
		{[]int{3, 1, 2, 0}, []int{2, 0, 1, 3}, []int{1, 3, 2, 0}}, // odd ones
	}
	for _, c := range cases {
		x := randFlat(rng, c.b*c.h*c.w*c.ci)
		k := randFlat(rng, c.kh*c.kw*c.ci*c.co)
		want := refConv(c, x, k)
		for li, l := range layouts {
			t.Run(fmt.Sprintf("%s_layout%d", c, li), func(t *testing.T) {
				axes := layoutAxes(l.in, l.k, l.out)
				got, _ := execOne(t, backend, func(in []*graph.Node) *graph.Node {
					xt := graph.TransposeAllAxes(in[0], l.in...)
					kt := graph.TransposeAllAxes(in[1], l.k...)
					out := graph.ConvGeneral(xt, kt, axes, c.strides[:], [][2]int{c.pads[0], c.pads[1]},
						c.inDil[:], c.kDil[:], 1, 1)
					return graph.TransposeAllAxes(out, inversePerm(l.out)...)
				}, tensorOf(x, c.b, c.h, c.w, c.ci), tensorOf(k, c.kh, c.kw, c.ci, c.co))
				assertClose(t, "ConvGeneral", got, want, 1e-12)
			})
		}
	}
}

// TestConvGeneralFloat32EmptyParams checks float32 and the empty strides/dilations graph passes.
func TestConvGeneralFloat32EmptyParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := convCase{b: 2, h: 6, w: 5, ci: 3, kh: 3, kw: 3, co: 4, strides: [2]int{1, 1}, inDil: [2]int{1, 1}, kDil: [2]int{1, 1}}
	x := randFlat(rng, c.b*c.h*c.w*c.ci)
	k := randFlat(rng, c.kh*c.kw*c.ci*c.co)
	want := refConv(c, x, k)
	for _, name := range []string{Name, FilledInName} {
		t.Run(name, func(t *testing.T) {
			backend, err := backends.NewWithConfig(name)
			if err != nil {
				t.Fatal(err)
			}
			defer backend.Finalize()
			got, _ := execOne(t, backend, func(in []*graph.Node) *graph.Node {
				xs := graph.ConvertDType(in[0], dtypes.Float32)
				ks := graph.ConvertDType(in[1], dtypes.Float32)
				return graph.ConvGeneral(xs, ks, layoutAxes([]int{0, 1, 2, 3}, []int{0, 1, 2, 3}, []int{0, 1, 2, 3}),
					[]int{}, nil, []int{}, []int{}, 0, 0)
			}, tensorOf(x, c.b, c.h, c.w, c.ci), tensorOf(k, c.kh, c.kw, c.ci, c.co))
			assertClose(t, "ConvGeneral float32", got, want, 1e-4)
		})
	}
}

// TestContractionRewrite checks that ReduceSum(Mul(broadcasts)) is computed correctly and emitted
// as a DotGeneral, for the layouts graph's DotGeneral gradient produces and for explicit
// broadcasts.
func TestContractionRewrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	tests := []struct {
		name         string
		aDims, bDims []int // operands of Mul (same rank, 1 where broadcast)
		bcastA       []int // if set, a is BroadcastInDim(a0 of aDims squeezed, mulDims, bcastA)
		reduce       []int
		wantDot      bool
	}{
		{"matmul_grad", []int{5, 1, 7}, []int{1, 3, 7}, nil, []int{2}, true},
		{"batch_contract", []int{2, 5, 1, 7}, []int{2, 1, 3, 7}, nil, []int{3}, true},
		{"contract_middle_odd_order", []int{7, 1, 5, 1}, []int{7, 3, 1, 1}, nil, []int{0}, true},
		{"two_contract_axes", []int{4, 3, 1, 5}, []int{4, 3, 6, 1}, nil, []int{0, 1}, true},
		{"full_dot", []int{4, 3}, []int{4, 3}, nil, nil, true},
		{"explicit_broadcast", []int{5, 7}, []int{1, 3, 7}, []int{0, 2}, []int{2}, true},
		{"no_contraction", []int{5, 1, 7}, []int{1, 3, 7}, nil, []int{1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backend := newTestBackend(t)
			builder := backend.Builder("t").(*Builder)
			rank := len(tc.bDims)
			mulDims := make([]int, rank)
			aFull := tc.aDims
			if tc.bcastA != nil {
				aFull = make([]int, rank)
				for i := range aFull {
					aFull[i] = 1
				}
				for i, ax := range tc.bcastA {
					aFull[ax] = tc.aDims[i]
				}
			}
			for i := range mulDims {
				mulDims[i] = max(aFull[i], tc.bDims[i])
			}
			a := randFlat(rng, prod(tc.aDims))
			bv := randFlat(rng, prod(tc.bDims))
			aOp, err := builder.Parameter("a", shapes.Make(dtypes.Float64, tc.aDims...), nil)
			if err != nil {
				t.Fatal(err)
			}
			bOp, err := builder.Parameter("b", shapes.Make(dtypes.Float64, tc.bDims...), nil)
			if err != nil {
				t.Fatal(err)
			}
			lhs := aOp
			if tc.bcastA != nil {
				if lhs, err = builder.BroadcastInDim(aOp, shapes.Make(dtypes.Float64, mulDims...), tc.bcastA); err != nil {
					t.Fatal(err)
				}
			}
			mul, err := builder.Mul(lhs, bOp)
			if err != nil {
				t.Fatal(err)
			}
			out, err := builder.ReduceSum(mul, tc.reduce...)
			if err != nil {
				t.Fatal(err)
			}
			// The rewrite ends in DotGeneral, Transpose or Reshape; without it, ReduceSum.
			gotDot := opTypeOf(out) != backends.OpTypeReduceSum
			if gotDot != tc.wantDot {
				t.Errorf("rewritten to DotGeneral: got %v (op %s), want %v", gotDot, opTypeOf(out), tc.wantDot)
			}
			outShape, err := builder.OpShape(out)
			if err != nil {
				t.Fatal(err)
			}
			exe, err := builder.Compile([]backends.Op{out}, nil)
			if err != nil {
				t.Fatal(err)
			}
			aBuf, err := backend.BufferFromFlatData(0, a, shapes.Make(dtypes.Float64, tc.aDims...))
			if err != nil {
				t.Fatal(err)
			}
			bBuf, err := backend.BufferFromFlatData(0, bv, shapes.Make(dtypes.Float64, tc.bDims...))
			if err != nil {
				t.Fatal(err)
			}
			res, err := exe.Execute([]backends.Buffer{aBuf, bBuf}, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, outShape.Size())
			if err := backend.BufferToFlatData(res[0], got); err != nil {
				t.Fatal(err)
			}
			// Naive reference: materialise the product and reduce.
			reduced := make([]bool, rank)
			for _, ax := range tc.reduce {
				reduced[ax] = true
			}
			if len(tc.reduce) == 0 {
				for i := range reduced {
					reduced[i] = true
				}
			}
			var outDims []int
			for i, d := range mulDims {
				if !reduced[i] {
					outDims = append(outDims, d)
				}
			}
			want := make([]float64, prod(outDims))
			aStr, bStr := rowMajorStrides(aFull), rowMajorStrides(tc.bDims)
			oStr := rowMajorStrides(outDims)
			for idx := range forEachIndex(mulDims) {
				ai, bi, oi, oa := 0, 0, 0, 0
				for i, v := range idx {
					if aFull[i] > 1 {
						ai += v * aStr[i]
					}
					if tc.bDims[i] > 1 {
						bi += v * bStr[i]
					}
					if !reduced[i] {
						oi += v * oStr[oa]
						oa++
					}
				}
				want[oi] += a[ai] * bv[bi]
			}
			if !slices.Equal(outShape.Dimensions, outDims) {
				t.Fatalf("output dims: got %v, want %v", outShape.Dimensions, outDims)
			}
			assertClose(t, "ReduceSum(Mul)", got, want, 1e-12)
		})
	}
}

// TestDotGeneralSplit checks the contraction split that parallelises small-output products:
// lhs [6, 8, 2, 1024] contracted on axes (3, 1) with rhs [1024, 5, 8] on axes (0, 2).
func TestDotGeneralSplit(t *testing.T) {
	backend := newTestBackend(t)
	rng := rand.New(rand.NewPCG(17, 18))
	builder := backend.Builder("split").(*Builder)
	lDims, rDims := []int{6, 8, 2, 1024}, []int{1024, 5, 8}
	lv, rv := randFlat(rng, prod(lDims)), randFlat(rng, prod(rDims))
	lOp, err := builder.Parameter("l", shapes.Make(dtypes.Float64, lDims...), nil)
	if err != nil {
		t.Fatal(err)
	}
	rOp, err := builder.Parameter("r", shapes.Make(dtypes.Float64, rDims...), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := builder.dotGeneral(lOp, []int{3, 1}, nil, rOp, []int{0, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := opTypeOf(out); runtime.NumCPU() > 1 && got != backends.OpTypeReduceSum {
		t.Errorf("expected the split form (ending in ReduceSum), got %s", got)
	}
	outShape, err := builder.OpShape(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{6, 2, 5}; !slices.Equal(outShape.Dimensions, want) {
		t.Fatalf("output dims %v, want %v", outShape.Dimensions, want)
	}
	exe, err := builder.Compile([]backends.Op{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lBuf, err := backend.BufferFromFlatData(0, lv, shapes.Make(dtypes.Float64, lDims...))
	if err != nil {
		t.Fatal(err)
	}
	rBuf, err := backend.BufferFromFlatData(0, rv, shapes.Make(dtypes.Float64, rDims...))
	if err != nil {
		t.Fatal(err)
	}
	res, err := exe.Execute([]backends.Buffer{lBuf, rBuf}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 6*2*5)
	if err := backend.BufferToFlatData(res[0], got); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(got))
	for a := range 6 {
		for c := range 2 {
			for n := range 5 {
				var sum float64
				for k := range 1024 {
					for j := range 8 {
						sum += lv[((a*8+j)*2+c)*1024+k] * rv[(k*5+n)*8+j]
					}
				}
				want[(a*2+c)*5+n] = sum
			}
		}
	}
	assertClose(t, "split DotGeneral", got, want, 1e-12)
}
