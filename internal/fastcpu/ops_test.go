package fastcpu_test

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with the ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/fm-image/fm-image/internal/fastcpu"
	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
	"github.com/fm-image/fm-image/internal/fmcpu"
)

// backendsForTest returns fastcpu, plain simplego (ops_sequential) and fmcpu (simplego with
// Reverse, Pad and convolution rewrites, for the ops simplego lacks).
func backendsForTest(t *testing.T) (fast, sg, fm backends.Backend) {
	t.Helper()
	var err error
	if fast, err = fastcpu.New(""); err != nil {
		t.Fatal(err)
	}
	if sg, err = simplego.New("ops_sequential"); err != nil {
		t.Fatal(err)
	}
	if fm, err = fmcpu.New(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fast.Finalize(); sg.Finalize(); fm.Finalize() })
	return fast, sg, fm
}

// randTensor returns a float32 tensor of normal values.
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// run executes fn on backend and returns every output as float64 values with its dims.
func run(t *testing.T, backend backends.Backend, fn func(in []*Node) []*Node, inputs ...*tensors.Tensor) ([][]float64, [][]int) {
	t.Helper()
	exec, err := NewExec(backend, fn)
	if err != nil {
		t.Fatalf("NewExec: %v", err)
	}
	defer exec.Finalize()
	args := make([]any, len(inputs))
	for i, in := range inputs {
		c, err := in.LocalClone() // a tensor used on one backend cannot move to another
		if err != nil {
			t.Fatal(err)
		}
		args[i] = c
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatalf("%s: Exec: %v", backend.Name(), err)
	}
	vals := make([][]float64, len(outs))
	dims := make([][]int, len(outs))
	for i, o := range outs {
		dims[i] = o.Shape().Dimensions
		switch o.DType() {
		case dtypes.Float32:
			for _, v := range tensors.MustCopyFlatData[float32](o) {
				vals[i] = append(vals[i], float64(v))
			}
		case dtypes.Float64:
			vals[i] = tensors.MustCopyFlatData[float64](o)
		case dtypes.Int32:
			for _, v := range tensors.MustCopyFlatData[int32](o) {
				vals[i] = append(vals[i], float64(v))
			}
		case dtypes.Int64:
			for _, v := range tensors.MustCopyFlatData[int64](o) {
				vals[i] = append(vals[i], float64(v))
			}
		case dtypes.Bool:
			for _, v := range tensors.MustCopyFlatData[bool](o) {
				x := 0.0
				if v {
					x = 1
				}
				vals[i] = append(vals[i], x)
			}
		default:
			t.Fatalf("unexpected output dtype %s", o.DType())
		}
	}
	return vals, dims
}

// compare runs fn on fastcpu and on ref and checks the outputs agree.
func compare(t *testing.T, name string, fast, ref backends.Backend, tol float64, fn func(in []*Node) []*Node, inputs ...*tensors.Tensor) {
	t.Helper()
	got, gd := run(t, fast, fn, inputs...)
	want, wd := run(t, ref, fn, inputs...)
	for i := range want {
		if len(gd[i]) != len(wd[i]) {
			t.Fatalf("%s output %d: dims %v, want %v", name, i, gd[i], wd[i])
		}
		for j := range gd[i] {
			if gd[i][j] != wd[i][j] {
				t.Fatalf("%s output %d: dims %v, want %v", name, i, gd[i], wd[i])
			}
		}
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s output %d: %d values, want %d", name, i, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if math.IsNaN(w) && math.IsNaN(g) {
				continue
			}
			if d := math.Abs(g - w); !(d <= tol*(1+math.Abs(w))) {
				t.Fatalf("%s output %d element %d: got %.8g, want %.8g (%s)", name, i, j, g, w, ref.Name())
			}
		}
	}
}

func one(f func(in []*Node) *Node) func(in []*Node) []*Node {
	return func(in []*Node) []*Node { return []*Node{f(in)} }
}

func TestElementwiseOps(t *testing.T) {
	fast, sg, _ := backendsForTest(t)
	rng := rand.New(rand.NewPCG(1, 1))
	x := randTensor(rng, 3, 5, 7)
	y := randTensor(rng, 3, 5, 7)
	row := randTensor(rng, 1, 5, 1)
	last := randTensor(rng, 1, 1, 7)
	unary := map[string]func(*Node) *Node{
		"Neg": Neg, "Abs": Abs, "Exp": Exp, "Sin": Sin, "Cos": Cos, "Tanh": Tanh, "Sigmoid": Sigmoid,
		"Floor": Floor, "Ceil": Ceil, "Round": Round, "Sign": Sign, "Expm1": Expm1,
		"SqrtAbs": func(x *Node) *Node { return Sqrt(Abs(x)) },
		"LogAbs":  func(x *Node) *Node { return Log(AddScalar(Abs(x), 0.1)) },
		"Log1p":   func(x *Node) *Node { return Log1p(Abs(x)) },
		"Rsqrt":   func(x *Node) *Node { return Rsqrt(AddScalar(Abs(x), 0.1)) },
	}
	for name, f := range unary {
		compare(t, name, fast, sg, 1e-6, one(func(in []*Node) *Node { return f(in[0]) }), x)
	}
	binary := map[string]func(a, b *Node) *Node{
		"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Max": Max, "Min": Min,
		"Pow": func(a, b *Node) *Node { return Pow(Abs(a), b) },
	}
	for name, f := range binary {
		compare(t, name, fast, sg, 1e-6, one(func(in []*Node) *Node { return f(in[0], in[1]) }), x, y)
		compare(t, name+"/row", fast, sg, 1e-6, one(func(in []*Node) *Node { return f(in[0], in[1]) }), x, row)
		compare(t, name+"/last", fast, sg, 1e-6, one(func(in []*Node) *Node { return f(in[1], in[0]) }), x, last)
		compare(t, name+"/scalar", fast, sg, 1e-6, one(func(in []*Node) *Node { return f(in[0], Scalar(in[0].Graph(), dtypes.Float32, 1.5)) }), x)
	}
	compare(t, "Where", fast, sg, 0, one(func(in []*Node) *Node {
		return Where(GreaterThan(in[0], in[1]), in[0], MulScalar(in[1], 2))
	}), x, y)
	compare(t, "Compare", fast, sg, 0, func(in []*Node) []*Node {
		return []*Node{Equal(in[0], in[0]), LessThan(in[0], in[1]), GreaterOrEqual(in[0], in[1]), NotEqual(in[0], in[1]), LessOrEqual(in[0], in[1])}
	}, x, y)
	compare(t, "Convert", fast, sg, 0, func(in []*Node) []*Node {
		i := ConvertDType(MulScalar(in[0], 10), dtypes.Int32)
		return []*Node{i, ConvertDType(i, dtypes.Float64), ConvertDType(AddScalar(i, 1), dtypes.Int64), Iota(in[0].Graph(), i.Shape(), 1)}
	}, x)
}

func TestShapeOps(t *testing.T) {
	fast, sg, fm := backendsForTest(t)
	rng := rand.New(rand.NewPCG(2, 1))
	x := randTensor(rng, 2, 3, 5, 7)
	compare(t, "Transpose", fast, sg, 0, one(func(in []*Node) *Node { return TransposeAllAxes(in[0], 3, 1, 0, 2) }), x)
	compare(t, "Transpose2", fast, sg, 0, one(func(in []*Node) *Node { return TransposeAllAxes(in[0], 0, 2, 1, 3) }), x)
	compare(t, "Reshape", fast, sg, 0, one(func(in []*Node) *Node { return Reshape(AddScalar(in[0], 1), 6, 35) }), x)
	compare(t, "Broadcast", fast, sg, 1e-6, one(func(in []*Node) *Node {
		return BroadcastToDims(Reshape(ReduceSum(in[0], 1), 2, 1, 5, 7), 2, 4, 5, 7)
	}), x)
	compare(t, "Broadcast2", fast, sg, 1e-6, one(func(in []*Node) *Node {
		return ExpandAndBroadcast(ReduceSum(in[0], 0, 2), []int{2, 3, 5, 7}, []int{0, 2})
	}), x)
	compare(t, "Slice", fast, sg, 0, one(func(in []*Node) *Node {
		return Slice(in[0], AxisRange(), AxisRange(1, 3), AxisRange(0, 5).Stride(2), AxisRange(2))
	}), x)
	compare(t, "Concatenate", fast, sg, 0, func(in []*Node) []*Node {
		return []*Node{Concatenate([]*Node{in[0], MulScalar(in[0], 2)}, 3), Concatenate([]*Node{in[0], in[0], in[0]}, 1), Concatenate([]*Node{in[0], in[0]}, 0)}
	}, x)
	compare(t, "Reverse", fast, fm, 0, one(func(in []*Node) *Node { return Reverse(in[0], 1, 3) }), x)
	compare(t, "Pad", fast, fm, 0, one(func(in []*Node) *Node {
		return Pad(in[0], Scalar(in[0].Graph(), dtypes.Float32, 0.5),
			backends.PadAxis{Start: 1, End: 2}, backends.PadAxis{Start: -1, End: 1, Interior: 2},
			backends.PadAxis{}, backends.PadAxis{Start: 2, End: -3, Interior: 1})
	}), x)
	for _, axes := range [][]int{{0}, {1}, {3}, {1, 3}, {0, 2}, {0, 1, 2, 3}} {
		compare(t, "ReduceSum", fast, sg, 1e-5, one(func(in []*Node) *Node { return ReduceSum(in[0], axes...) }), x)
		compare(t, "ReduceMax", fast, sg, 0, one(func(in []*Node) *Node { return ReduceMax(in[0], axes...) }), x)
		compare(t, "ReduceMin", fast, sg, 0, one(func(in []*Node) *Node { return ReduceMin(in[0], axes...) }), x)
	}
	big := randTensor(rng, 64, 33, 65) // large enough to be split over goroutines
	compare(t, "ReduceSumBig", fast, sg, 1e-4, func(in []*Node) []*Node {
		return []*Node{ReduceSum(in[0], 0), ReduceSum(in[0], 0, 2), ReduceAllSum(in[0]), ReduceMax(in[0], 1)}
	}, big)
	for _, in := range []*tensors.Tensor{x, big} {
		compare(t, "FusedReduce", fast, sg, 1e-4, func(in []*Node) []*Node {
			sq := Mul(Sigmoid(in[0]), AddScalar(in[0], 1))
			return []*Node{ReduceSum(Mul(in[0], in[0]), 0, 2), ReduceSum(Sub(in[0], MulScalar(in[0], 3)), 1), ReduceAllSum(sq)}
		}, in)
	}
	// Row reductions (bias gradients, GroupNorm statistics) with tails that do and do not
	// divide the fused block, fused and unfused, small and split over goroutines.
	for _, dims := range [][]int{{5, 7, 3, 12}, {4, 9, 9, 40}, {8, 33, 17, 100}, {2, 64, 8, 300}, {16, 128, 8, 4}} {
		rx := randTensor(rng, dims...)
		compare(t, "RowsReduce", fast, sg, 1e-4, func(in []*Node) []*Node {
			sq := Mul(in[0], AddScalar(in[0], 1))
			return []*Node{ReduceSum(in[0], 0, 1, 2), ReduceSum(sq, 0, 1, 2), ReduceSum(in[0], 1, 3), ReduceSum(sq, 1, 3),
				ReduceSum(in[0], 1), ReduceSum(sq, 0, 2)}
		}, rx)
	}
	// Matrix products written as broadcast multiplies and sums (time-embedding projections and
	// their gradients), in both operand orders, and forms that keep the generic path.
	for _, d := range [][3]int{{5, 7, 9}, {16, 33, 20}, {3, 64, 48}} {
		b, i, j := d[0], d[1], d[2]
		xa, xb, xc := randTensor(rng, b, i, 1), randTensor(rng, 1, i, j), randTensor(rng, b, 1, j)
		compare(t, "OuterReduce", fast, sg, 1e-4, func(in []*Node) []*Node {
			return []*Node{
				ReduceSum(Mul(in[0], in[1]), 2), ReduceSum(Mul(in[1], in[2]), 2), // dot products
				ReduceSum(Mul(in[0], in[2]), 0), ReduceSum(Mul(in[2], in[0]), 0), // scaled rows
				ReduceSum(Mul(in[0], in[1]), 1), ReduceSum(Mul(in[0], in[2]), 2), // generic path
			}
		}, xa, xb, xc)
	}
	// Average-pooling sums ([B, H, 2, W, 2, C] over the window axes): rows whose tail folds
	// runs of channels.
	for _, dims := range [][]int{{2, 4, 2, 4, 2, 8}, {3, 8, 2, 8, 2, 64}, {1, 16, 2, 16, 2, 40}} {
		px := randTensor(rng, dims...)
		compare(t, "PoolReduce", fast, sg, 1e-4, func(in []*Node) []*Node {
			return []*Node{ReduceSum(in[0], 2, 4), ReduceSum(Mul(in[0], in[0]), 2, 4)}
		}, px)
	}
	// A ReduceSum of a fused value that is also used elsewhere (directly or through a
	// Reshape) is computed in the value's pass.
	for _, dims := range [][]int{{3, 5, 7, 16}, {4, 16, 16, 32}, {2, 9, 9, 24}} {
		rx := randTensor(rng, dims...)
		compare(t, "SideReduce", fast, sg, 1e-4, func(in []*Node) []*Node {
			b, h, w, c := dims[0], dims[1], dims[2], dims[3]
			y := Mul(AddScalar(in[0], 1), in[0])
			stats := ReduceSum(Reshape(y, b, h*w, 8, c/8), 1, 3)
			z := Sigmoid(Sub(in[0], MulScalar(in[0], 0.5)))
			return []*Node{y, stats, z, ReduceSum(z, 0, 1, 2)}
		}, rx)
	}
	// GroupNorm + SiLU at sizes where fused groups use several blocks per image (periodic
	// broadcast leaves, per-channel and per-group, channel counts not dividing the block size).
	for _, dims := range [][]int{{3, 16, 16, 24}, {2, 8, 8, 96}, {2, 32, 32, 32}} {
		gx := randTensor(rng, dims...)
		gain := randTensor(rng, dims[3])
		compare(t, "GroupNorm", fast, sg, 1e-4, func(in []*Node) []*Node {
			b, h, w, c := dims[0], dims[1], dims[2], dims[3]
			g := Reshape(in[0], b, h*w, 8, c/8)
			mean := ReduceAndKeep(g, ReduceMean, 1, 3)
			cen := Sub(g, mean)
			v := ReduceAndKeep(Square(cen), ReduceMean, 1, 3)
			nrm := Reshape(Div(cen, Sqrt(AddScalar(v, 1e-5))), b, h, w, c)
			y := Add(Mul(nrm, Reshape(in[1], 1, 1, 1, c)), Reshape(in[1], 1, 1, 1, c))
			y = Mul(y, Sigmoid(y))
			return []*Node{y, Gradient(ReduceAllSum(Mul(y, y)), in[0])[0]}
		}, gx, gain)
	}
	// Channel slices read in place by the fused groups that use them (the gradient of a
	// concatenation feeding skip-connection Adds): first, middle and last channels, a strided
	// slice, a slice also used unfused (materialised), small and split over goroutines.
	for _, dims := range [][]int{{3, 5, 7, 24}, {2, 17, 9, 39}, {8, 32, 32, 12}} {
		sx := randTensor(rng, dims...)
		c := dims[3]
		sy := randTensor(rng, dims[0], dims[1], dims[2], c/3)
		compare(t, "SliceView", fast, sg, 1e-5, func(in []*Node) []*Node {
			lo := Slice(in[0], AxisRange(), AxisRange(), AxisRange(), AxisRange(0, c/3))
			mid := Slice(in[0], AxisRange(), AxisRange(), AxisRange(), AxisRange(c/3, 2*c/3))
			hi := Slice(in[0], AxisRange(), AxisRange(), AxisRange(), AxisRange(2*c/3, c))
			st := Slice(in[0], AxisRange(), AxisRange(1, dims[1]).Stride(2), AxisRange(), AxisRange(1, 3))
			shared := Slice(in[0], AxisRange(), AxisRange(), AxisRange(), AxisRange(1, 1+c/3))
			sum := Add(Mul(lo, in[1]), hi)
			return []*Node{
				sum, Sigmoid(Sub(mid, lo)), ReduceSum(Mul(hi, in[1]), 0, 1, 2), Mul(st, st),
				Add(shared, in[1]), ReduceSum(shared, 3),
			}
		}, sx, sy)
	}
	// Groups whose members read each other through Reshapes (GroupNorm's normalisation into
	// the per-channel affine and SiLU, the gradient's per-channel scale into the per-group
	// reductions), with broadcast leaves on both sides, a member also used unfused through a
	// Reshape, a Reshape graph output, and dims that do not refine each other.
	for _, dims := range [][]int{{3, 5, 7, 24}, {2, 9, 9, 48}, {4, 32, 32, 48}} {
		rx := randTensor(rng, dims...)
		b, h, w, c := dims[0], dims[1], dims[2], dims[3]
		rv := randTensor(rng, c)
		compare(t, "ReshapeFusion", fast, sg, 1e-4, func(in []*Node) []*Node {
			g := Reshape(in[0], b, h*w, 8, c/8)
			s := Sqrt(AddScalar(ReduceAndKeep(Mul(g, g), ReduceMean, 1, 3), 1))
			nrm := Reshape(Div(g, s), b, h, w, c)
			y := Add(Mul(nrm, Reshape(in[1], 1, 1, 1, c)), Reshape(in[1], 1, 1, 1, c))
			y = Mul(y, Sigmoid(y))
			dn := Mul(Reshape(Neg(y), b, h*w, 8, c/8), s)
			back := Sub(Reshape(dn, b, h, w, c), Mul(nrm, Reshape(in[1], 1, 1, 1, c)))
			odd := Reshape(Exp(Reshape(in[0], b*h*w*c/24, 6, 4)), b*h*w*c/24, 4, 6)
			return []*Node{
				y, ReduceSum(dn, 1, 3), Sigmoid(back), ReduceSum(Mul(nrm, in[0]), 0, 1, 2),
				Reshape(Div(g, s), b, h*w*c), Add(odd, odd),
			}
		}, rx, rv)
	}
	// A value read by two groups, one of which needs the other's reduction and holds a node
	// created before the first group's last: the first group writes the value as an export.
	for _, dims := range [][]int{{3, 5, 7}, {16, 33, 65}} {
		ex, ey := randTensor(rng, dims...), randTensor(rng, dims...)
		compare(t, "SharedExport", fast, sg, 1e-4, func(in []*Node) []*Node {
			d := Mul(in[0], in[1])
			early := Neg(d)
			stat := ReduceAndKeep(Mul(d, in[0]), ReduceSum, 1)
			return []*Node{Add(early, Mul(stat, d))}
		}, ex, ey)
	}
	// GroupNorm-like chains read by several groups through Reshapes and by reductions, with a
	// value that is also a graph output and one read by an unfused op.
	for _, dims := range [][]int{{3, 5, 7, 16}, {2, 17, 9, 40}, {8, 32, 32, 8}} {
		rx, ry := randTensor(rng, dims...), randTensor(rng, dims...)
		b, h, w, c := dims[0], dims[1], dims[2], dims[3]
		rg := randTensor(rng, 1, 1, 1, c)
		compare(t, "SharedChains", fast, sg, 1e-4, func(in []*Node) []*Node {
			g := Reshape(in[0], b, h*w, 4, c/4)
			mean := ReduceAndKeep(g, ReduceMean, 1, 3)
			cen := Sub(g, mean)
			s := Sqrt(AddScalar(ReduceAndKeep(Mul(cen, cen), ReduceMean, 1, 3), 1))
			xh := Reshape(Div(cen, s), b, h, w, c)
			pre := Add(Mul(xh, in[2]), in[2])
			out := AddScalar(in[1], 1)
			return []*Node{
				Mul(pre, Sigmoid(pre)), ReduceSum(Mul(xh, in[1]), 0, 1, 2), Exp(Neg(pre)),
				ReduceSum(Mul(Reshape(in[1], b, h*w, 4, c/4), cen), 1, 3),
				out, Mul(out, xh), ReduceMax(Mul(pre, in[1]), 3),
			}
		}, rx, ry, rg)
	}
	compare(t, "AddBig", fast, sg, 1e-5, one(func(in []*Node) *Node {
		return Mul(Sigmoid(in[0]), Add(in[0], ReduceAndKeep(in[0], ReduceSum, 0)))
	}), big)
}

func TestDotGeneral(t *testing.T) {
	fast, sg, _ := backendsForTest(t)
	rng := rand.New(rand.NewPCG(3, 1))
	a := randTensor(rng, 5, 7, 9)
	b := randTensor(rng, 5, 9, 11)
	bt := randTensor(rng, 5, 11, 9)
	at := randTensor(rng, 5, 9, 7)
	odd := randTensor(rng, 9, 5, 3)
	cases := map[string]struct {
		f    func(x, y *Node) *Node
		x, y *tensors.Tensor
	}{
		"NN": {func(x, y *Node) *Node { return DotGeneral(x, []int{2}, []int{0}, y, []int{1}, []int{0}) }, a, b},
		"NT": {func(x, y *Node) *Node { return DotGeneral(x, []int{2}, []int{0}, y, []int{2}, []int{0}) }, a, bt},
		"TN": {func(x, y *Node) *Node { return DotGeneral(x, []int{1}, []int{0}, y, []int{1}, []int{0}) }, at, b},
		// Batch axis not leading on rhs: needs a transposed copy.
		"Perm": {func(x, y *Node) *Node { return DotGeneral(x, []int{2}, []int{0}, y, []int{0}, []int{1}) }, a, odd},
		// Two contracting axes, no batch.
		"Multi": {func(x, y *Node) *Node { return DotGeneral(x, []int{0, 2}, nil, y, []int{1, 0}, nil) }, a, odd},
		"MatMul": {func(x, y *Node) *Node {
			return MatMul(Reshape(x, 35, 9), Reshape(Slice(y, AxisRange(0, 1)), 9, 11))
		}, a, b},
	}
	for name, c := range cases {
		compare(t, name, fast, sg, 1e-5, one(func(in []*Node) *Node { return c.f(in[0], in[1]) }), c.x, c.y)
		// float64 path.
		compare(t, name+"/f64", fast, sg, 1e-12, one(func(in []*Node) *Node {
			return c.f(ConvertDType(in[0], dtypes.Float64), ConvertDType(in[1], dtypes.Float64))
		}), c.x, c.y)
	}
}

// TestConvolutionsAndGradients compares convolutions and their gradients on fastcpu, with
// each of its kernel choices, with fmcpu.
func TestConvolutionsAndGradients(t *testing.T) {
	_, _, fm := backendsForTest(t)
	for _, config := range []string{"", "kernel=avx2-fma", "kernel=portable", "nowinograd", "nodirectconv"} {
		t.Run(strings.TrimPrefix(cmp.Or(config, "auto"), "kernel="), func(t *testing.T) {
			if k, ok := strings.CutPrefix(config, "kernel="); ok && !slices.Contains(kernels.Kernels(), k) {
				t.Skipf("the %s kernels cannot run on this CPU and build: not tested through the backend", k)
			}
			fast, err := fastcpu.New(config)
			if err != nil {
				t.Fatal(err)
			}
			defer fast.Finalize()
			rng := rand.New(rand.NewPCG(4, 1))
			for _, c := range []struct {
				name               string
				b, h, w, cin, cout int
				k                  int
				stride             int
				pad                bool
			}{
				{"3x3same", 2, 9, 7, 5, 6, 3, 1, true},
				{"1x1", 3, 6, 5, 4, 7, 1, 1, true},
				{"3x3valid", 2, 8, 8, 3, 4, 3, 1, false},
				{"3x3stride2", 2, 9, 9, 3, 4, 3, 2, true},
				{"5x5same", 1, 11, 10, 2, 3, 5, 1, true},
				{"3x3same-16to32", 2, 8, 8, 16, 32, 3, 1, true}, // the Winograd form where there is one
				{"3x3same-32to3", 2, 8, 8, 32, 3, 3, 1, true},   // an RGB head
			} {
				x := randTensor(rng, c.b, c.h, c.w, c.cin)
				k := randTensor(rng, c.k, c.k, c.cin, c.cout)
				compare(t, c.name, fast, fm, 1e-4, func(in []*Node) []*Node {
					cv := Convolve(in[0], in[1]).Strides(c.stride)
					if c.pad {
						cv = cv.PadSame()
					} else {
						cv = cv.NoPadding()
					}
					y := cv.Done()
					// Scaled to about unit size, so that sin does not amplify y's rounding.
					ys := MulScalar(y, 1/math.Sqrt(float64(c.k*c.k*c.cin)))
					loss := ReduceAllSum(Mul(ys, Sin(ys)))
					g := Gradient(loss, in[0], in[1])
					return []*Node{y, g[0], g[1]}
				}, x, k)
			}
		})
	}
}

// TestGradientsFiniteDifferences checks graph.Gradient on fastcpu in float64 against central
// finite differences for a small graph with the U-Net's non-convolution ops (dense layer,
// GroupNorm-style normalisation, SiLU, concatenation, pooling by reshape and mean).
func TestGradientsFiniteDifferences(t *testing.T) {
	fast, _, _ := backendsForTest(t)
	rng := rand.New(rand.NewPCG(5, 1))
	xs := make([]float64, 2*4*4*6)
	ws := make([]float64, 6*8)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	for i := range ws {
		ws[i] = rng.NormFloat64() / 3
	}
	lossFn := func(x, w *Node) *Node {
		h := MatMul(Reshape(x, 32, 6), w) // [32, 8]
		h = Reshape(h, 2, 16, 4, 2)
		mean := ReduceAndKeep(h, ReduceMean, 1, 3)
		c := Sub(h, mean)
		v := ReduceAndKeep(Square(c), ReduceMean, 1, 3)
		h = Div(c, Sqrt(AddScalar(v, 1e-5)))
		h = Reshape(h, 2, 4, 4, 8)
		h = Mul(h, Sigmoid(h))
		h = Concatenate([]*Node{h, x}, -1)
		p := ReduceMean(Reshape(h, 2, 2, 2, 2, 2, 14), 2, 4)
		return ReduceAllSum(Mul(p, Cos(p)))
	}
	exec, err := NewExec(fast, func(x, w *Node) []*Node {
		l := lossFn(x, w)
		g := Gradient(l, x, w)
		return []*Node{l, g[0], g[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	eval := func(x, w []float64) (float64, []float64, []float64) {
		outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 2, 4, 4, 6), tensors.FromFlatDataAndDimensions(w, 6, 8))
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float64](outs[0])[0], tensors.MustCopyFlatData[float64](outs[1]), tensors.MustCopyFlatData[float64](outs[2])
	}
	_, gx, gw := eval(xs, ws)
	const eps = 1e-6
	check := func(name string, v []float64, g []float64, at func() (float64, float64)) {
		for i := range v {
			orig := v[i]
			v[i] = orig + eps
			lp, _ := at()
			v[i] = orig - eps
			lm, _ := at()
			v[i] = orig
			fd := (lp - lm) / (2 * eps)
			if math.Abs(fd-g[i]) > 1e-5*(1+math.Abs(fd)) {
				t.Fatalf("%s[%d]: gradient %.9g, finite difference %.9g", name, i, g[i], fd)
			}
		}
	}
	at := func() (float64, float64) { l, _, _ := eval(xs, ws); return l, 0 }
	check("x", xs, gx, at)
	check("w", ws, gw, at)
}

// TestNotImplemented checks that an op fastcpu lacks fails at build time with a clear message.
func TestNotImplemented(t *testing.T) {
	fast, _, _ := backendsForTest(t)
	b := fast.Builder("t")
	x, err := b.Parameter("x", shapesMake(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Erf(x)
	if err != nil {
		t.Fatalf("Erf: %v", err)
	}
	_, err = b.BitCount(x)
	if err == nil || !containsAll(err.Error(), "fastcpu", "BitCount", "not implemented") {
		t.Fatalf("BitCount: got %v, want a fastcpu not-implemented error", err)
	}
}

func shapesMake() shapes.Shape { return shapes.Make(dtypes.Float32, 3) }

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
