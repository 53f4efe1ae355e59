package fastcpu

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
)

// Convolutions (2 spatial dimensions, float32, no groups) run as im2col +
// GEMM in one of two forms, chosen at build time from the axes layout:
//
//   - Form A ("NHWC"): the input is read as [N, S1, S2, C], the kernel as [K1, K2, C, O], and
//     out[(n,p1,p2), o] = col[(n,p1,p2), (k1,k2,c)] · ker[(k1,k2,c), o], with col the patches of
//     the input. This is the forward convolution and, with the kernel's channel axes swapped by
//     graph.Convolve's VJP, the input-gradient convolution.
//   - Form B ("CHWN"): when the input's batch axis is last and its channel axis first (the
//     kernel-gradient convolution of graph.Convolve's VJP, whose "batch" is the original channel
//     axis and whose "channels" the original batch), the input is read as [C, S1, S2, N], the
//     kernel as [C, K1, K2, O], and out[(p1,p2,n), o] = colᵀ · ker with
//     col[(c,k1,k2), (p1,p2,n)] the same patches laid out the other way: no operand is copied.
//
// When the shapes allow it (no dilation in form A, no stride in form B) the work goes to
// package kernels' tuned Conv2D and Conv2DKernelGrad, and the input-gradient convolution
// v ⊛ Reverse(K) to Conv2DInputGrad on K (matchInputGrad). Otherwise col is built here in chunks
// of rows (a few MiB), so the im2col matrix never exists whole. Operands whose layout differs
// from the form's are transposed into temporaries first (kernels are small; activations in the
// model's graphs never need it).

// convChunkFloats is the target size of one im2col chunk, in float32 values.
const convChunkFloats = 1 << 20

// convParams is ConvGeneral's plan.
type convParams struct {
	formB bool
	// Canonical sizes: input [N,S1,S2,C] (form A) or [C,S1,S2,N] (form B), kernel [K1,K2,C,O]
	// (A) or [C,K1,K2,O] (B), output [N,P1,P2,O] (A) or [P1,P2,N,O] (B).
	n, s1, s2, c, k1, k2, o, p1, p2 int
	stride, dil, inDil              [2]int
	padLo                           [2]int
	inPerm, kerPerm                 []int // nil when the operand already has the canonical layout
	outPerm                         []int // nil when the output already has the canonical layout
	outCanonDims                    []int

	// inputGrad: the convolution is graph.Convolve's input gradient, v ⊛ Reverse(K) with K's
	// channel axes swapped; it runs as package kernels' Conv2DInputGrad of the forward
	// convolution igShape on K itself (the node's kernel input is K, not the Reverse).
	inputGrad bool
	igShape   kernels.ConvShape
}

// ConvGeneral implements backends.Builder for 2D convolutions without groups or input dilation.
func (b *Builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	op := backends.OpTypeConvGeneral
	ns, err := b.in(op, input, kernel)
	if err != nil {
		return nil, err
	}
	is, ks := ns[0].shape, ns[1].shape
	if is.Rank() != 4 {
		return nil, errorf(op, "only 2 spatial dimensions are implemented, got input %s", is)
	}
	ones := func(v []int) []int {
		if len(v) == 0 {
			return []int{1, 1}
		}
		return v
	}
	strides, inputDilations, kernelDilations = ones(strides), ones(inputDilations), ones(kernelDilations)
	if len(paddings) == 0 {
		paddings = make([][2]int, 2)
	}
	channelGroupCount, batchGroupCount = max(channelGroupCount, 1), max(batchGroupCount, 1)
	shape, err := shapeinference.ConvGeneralOp(is, ks, axes, strides, paddings, inputDilations, kernelDilations,
		channelGroupCount, batchGroupCount)
	if err != nil {
		return nil, errorf(op, "%v", err)
	}
	if channelGroupCount != 1 || batchGroupCount != 1 {
		return nil, errorf(op, "grouped convolutions are not implemented")
	}
	if is.DType != dtypes.Float32 {
		return nil, errorf(op, "dtype %s not implemented (float32 only)", is.DType)
	}
	p := &convParams{}
	p.formB = axes.InputBatch == 3 && axes.InputChannels == 0
	od := shape.Dimensions
	if p.formB {
		p.inPerm = []int{axes.InputChannels, axes.InputSpatial[0], axes.InputSpatial[1], axes.InputBatch}
		p.kerPerm = []int{axes.KernelInputChannels, axes.KernelSpatial[0], axes.KernelSpatial[1], axes.KernelOutputChannels}
		p.c, p.s1, p.s2, p.n = perm4(is.Dimensions, p.inPerm)
		_, p.k1, p.k2, p.o = perm4(ks.Dimensions, p.kerPerm)
		canon := []int{axes.OutputSpatial[0], axes.OutputSpatial[1], axes.OutputBatch, axes.OutputChannels}
		p.p1, p.p2 = od[canon[0]], od[canon[1]]
		p.outCanonDims = []int{p.p1, p.p2, p.n, p.o}
		p.outPerm = inversePerm(canon)
	} else {
		p.inPerm = []int{axes.InputBatch, axes.InputSpatial[0], axes.InputSpatial[1], axes.InputChannels}
		p.kerPerm = []int{axes.KernelSpatial[0], axes.KernelSpatial[1], axes.KernelInputChannels, axes.KernelOutputChannels}
		p.n, p.s1, p.s2, p.c = perm4(is.Dimensions, p.inPerm)
		p.k1, p.k2, _, p.o = perm4(ks.Dimensions, p.kerPerm)
		canon := []int{axes.OutputBatch, axes.OutputSpatial[0], axes.OutputSpatial[1], axes.OutputChannels}
		p.p1, p.p2 = od[canon[1]], od[canon[2]]
		p.outCanonDims = []int{p.n, p.p1, p.p2, p.o}
		p.outPerm = inversePerm(canon)
	}
	for _, pp := range []*[]int{&p.inPerm, &p.kerPerm, &p.outPerm} {
		if isIdentityPerm(*pp) {
			*pp = nil
		}
	}
	p.stride = [2]int{strides[0], strides[1]}
	p.dil = [2]int{kernelDilations[0], kernelDilations[1]}
	p.inDil = [2]int{inputDilations[0], inputDilations[1]}
	p.padLo = [2]int{paddings[0][0], paddings[1][0]}
	kernelNode := ns[1]
	if k, ok := p.matchInputGrad(ns[1], axes); ok {
		kernelNode = k
	}
	n := b.newNode(op, shape, ns[0], kernelNode)
	n.data = p
	return n, nil
}

// matchInputGrad recognises the input-gradient convolution graph.Convolve's VJP emits (form A,
// kernel = Reverse over both spatial axes of K, kernel channel axes swapped, stride and
// dilations 1) and plans it as Conv2DInputGrad on K. It returns K.
func (p *convParams) matchInputGrad(kn *node, axes backends.ConvolveAxesConfig) (*node, bool) {
	if p.formB || kn.op != backends.OpTypeReverse || len(kn.axes) != 2 ||
		p.stride != [2]int{1, 1} || p.dil != [2]int{1, 1} || p.inDil != [2]int{1, 1} {
		return nil, false
	}
	ks := axes.KernelSpatial
	if !(kn.axes[0] == ks[0] && kn.axes[1] == ks[1]) && !(kn.axes[0] == ks[1] && kn.axes[1] == ks[0]) {
		return nil, false
	}
	// The forward convolution: x [N, P1, P2, O] ⊛ K [K1, K2, O, C] -> y [N, S1, S2, C], whose
	// input gradient is this convolution's output.
	s := kernels.ConvShape{Batch: p.n, H: p.p1, W: p.p2, Cin: p.o, KH: p.k1, KW: p.k2, Cout: p.c,
		PadTop: p.k1 - 1 - p.padLo[0], PadLeft: p.k2 - 1 - p.padLo[1]}
	s.PadBottom = p.s1 - 1 + p.k1 - p.p1 - s.PadTop
	s.PadRight = p.s2 - 1 + p.k2 - p.p2 - s.PadLeft
	if s.PadTop < 0 || s.PadLeft < 0 || s.PadBottom < 0 || s.PadRight < 0 {
		return nil, false
	}
	if ho, wo := s.OutSize(); ho != p.s1 || wo != p.s2 {
		return nil, false
	}
	p.inputGrad, p.igShape = true, s
	// K's axes in [K1, K2, O, C] order: this convolution's kernel output channels are K's inputs.
	p.kerPerm = []int{ks[0], ks[1], axes.KernelOutputChannels, axes.KernelInputChannels}
	if isIdentityPerm(p.kerPerm) {
		p.kerPerm = nil
	}
	return kn.inputs[0], true
}

// perm4 returns dims permuted by perm (4 values).
func perm4(dims, perm []int) (int, int, int, int) {
	return dims[perm[0]], dims[perm[1]], dims[perm[2]], dims[perm[3]]
}

// inversePerm returns q such that q[perm[i]] = i: the permutation that maps a canonical array
// (whose axis i is physical axis perm[i]) back to the physical layout.
func inversePerm(perm []int) []int {
	q := make([]int, len(perm))
	for i, a := range perm {
		q[a] = i
	}
	return q
}

// execConv runs ConvGeneral.
func execConv(ec *execCtx, n *node, out any, ins []any) error {
	p := n.data.(*convParams)
	in, ker := ins[0].([]float32), ins[1].([]float32)
	dst := out.([]float32)
	if p.inPerm != nil {
		t := ec.getF32(len(in))
		defer ec.putF32(t)
		stridedCopy(ec, transposePlan(n.inputs[0].shape.Dimensions, p.inPerm), t, in, len(in))
		in = t
	}
	if p.kerPerm != nil {
		t := ec.getF32(len(ker))
		defer ec.putF32(t)
		stridedCopy(ec, transposePlan(n.inputs[1].shape.Dimensions, p.kerPerm), t, ker, len(ker))
		ker = t
	}
	canon := dst
	if p.outPerm != nil {
		canon = ec.getF32(len(dst))
		defer ec.putF32(canon)
	}
	var err error
	switch gs, ok := p.gemmShape(); {
	case p.inputGrad:
		err = ec.ws.Conv2DInputGrad(p.igShape, in, ker, canon)
	case ok && p.formB:
		err = ec.ws.Conv2DKernelGrad(gs, in, ker, canon)
	case ok:
		err = ec.ws.Conv2D(gs, in, ker, canon)
	case p.formB:
		err = convFormB(ec, p, canon, in, ker)
	default:
		err = convFormA(ec, p, canon, in, ker)
	}
	if err != nil {
		return errorf(n.op, "%v", err)
	}
	if p.outPerm != nil {
		stridedCopy(ec, transposePlan(p.outCanonDims, p.outPerm), dst, canon, len(dst))
	}
	return nil
}

// gemmShape returns the internal/fastcpu/kernels convolution that computes this one, if there is one: no
// kernel dilation (form A) or no stride (form B, where the kernel dilation becomes gemm's
// stride), and non-negative padding at both ends.
func (p *convParams) gemmShape() (kernels.ConvShape, bool) {
	var s kernels.ConvShape
	if p.inDil != [2]int{1, 1} {
		return s, false
	}
	if p.formB {
		// in [C,S1,S2,N] is x [Batch,H,W,Cin]; ker [C,K1,K2,O] is dy; out [P1,P2,N,O] is dk.
		if p.stride != [2]int{1, 1} {
			return s, false
		}
		s = kernels.ConvShape{Batch: p.c, H: p.s1, W: p.s2, Cin: p.n, KH: p.p1, KW: p.p2, Cout: p.o,
			StrideH: p.dil[0], StrideW: p.dil[1], PadTop: p.padLo[0], PadLeft: p.padLo[1]}
		s.PadBottom = (p.k1-1)*p.dil[0] + p.p1 - p.s1 - p.padLo[0]
		s.PadRight = (p.k2-1)*p.dil[1] + p.p2 - p.s2 - p.padLo[1]
		if ho, wo := s.OutSize(); ho != p.k1 || wo != p.k2 {
			return s, false
		}
	} else {
		if p.dil != [2]int{1, 1} {
			return s, false
		}
		s = kernels.ConvShape{Batch: p.n, H: p.s1, W: p.s2, Cin: p.c, KH: p.k1, KW: p.k2, Cout: p.o,
			StrideH: p.stride[0], StrideW: p.stride[1], PadTop: p.padLo[0], PadLeft: p.padLo[1]}
		s.PadBottom = (p.p1-1)*p.stride[0] + p.k1 - p.s1 - p.padLo[0]
		s.PadRight = (p.p2-1)*p.stride[1] + p.k2 - p.s2 - p.padLo[1]
		if ho, wo := s.OutSize(); ho != p.p1 || wo != p.p2 {
			return s, false
		}
	}
	if s.PadTop < 0 || s.PadLeft < 0 || s.PadBottom < 0 || s.PadRight < 0 {
		return s, false
	}
	return s, true
}

// convFormA computes out [N*P1*P2, O] = col · ker.
func convFormA(ec *execCtx, p *convParams, out, in, ker []float32) error {
	rows := p.n * p.p1 * p.p2
	rowLen := p.k1 * p.k2 * p.c
	if p.k1 == 1 && p.k2 == 1 && p.padLo == [2]int{} && p.stride == [2]int{1, 1} && p.inDil == [2]int{1, 1} &&
		p.p1 == p.s1 && p.p2 == p.s2 {
		// 1x1 convolution: the input is already the patch matrix.
		return ec.ws.Sgemm(kernels.NoTrans, kernels.NoTrans, rows, p.o, p.c, 1, in, p.c, ker, p.o, 0, out, p.o)
	}
	chunk := max(64, convChunkFloats/max(rowLen, 1))
	chunk = min(chunk, rows)
	col := ec.getF32(chunk * rowLen)
	defer ec.putF32(col)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(rows, r0+chunk)
		parallelFor(ec.parallelism, r1-r0, (r1-r0)*rowLen, func(lo, hi int) {
			im2colA(p, col[lo*rowLen:hi*rowLen], in, r0+lo, r0+hi)
		})
		if err := ec.ws.Sgemm(kernels.NoTrans, kernels.NoTrans, r1-r0, p.o, rowLen, 1, col, rowLen, ker, p.o,
			0, out[r0*p.o:], p.o); err != nil {
			return err
		}
	}
	return nil
}

// im2colA writes rows [r0, r1) of the form-A patch matrix: row (n,p1,p2) holds, for each
// kernel position (k1,k2), the C input channels at that position (zeros outside the input).
func im2colA(p *convParams, dst, in []float32, r0, r1 int) {
	c := p.c
	rowLen := p.k1 * p.k2 * c
	for r := r0; r < r1; r++ {
		q2 := r % p.p2
		q1 := (r / p.p2) % p.p1
		nn := r / (p.p2 * p.p1)
		row := dst[(r-r0)*rowLen : (r-r0+1)*rowLen]
		o := 0
		for k1 := range p.k1 {
			y, ok := dilated(q1*p.stride[0]+k1*p.dil[0]-p.padLo[0], p.inDil[0], p.s1)
			if !ok {
				clear(row[o : o+p.k2*c])
				o += p.k2 * c
				continue
			}
			base := (nn*p.s1 + y) * p.s2
			for k2 := range p.k2 {
				x, ok := dilated(q2*p.stride[1]+k2*p.dil[1]-p.padLo[1], p.inDil[1], p.s2)
				if !ok {
					clear(row[o : o+c])
				} else {
					copy(row[o:o+c], in[(base+x)*c:(base+x+1)*c])
				}
				o += c
			}
		}
	}
}

// convFormB computes out [P1*P2*N, O] = colᵀ · ker, accumulating over chunks of col's rows.
func convFormB(ec *execCtx, p *convParams, out, in, ker []float32) error {
	rows := p.c * p.k1 * p.k2
	rowLen := p.p1 * p.p2 * p.n
	if rows == 0 {
		clear(out)
		return nil
	}
	if p.p1 == 1 && p.p2 == 1 && p.padLo == [2]int{} && p.inDil == [2]int{1, 1} && p.k1 == p.s1 && p.k2 == p.s2 {
		// A single output position covering the whole input: the input is the patch matrix.
		return ec.ws.Sgemm(kernels.Trans, kernels.NoTrans, rowLen, p.o, rows, 1, in, rowLen, ker, p.o, 0, out, p.o)
	}
	chunk := max(64, convChunkFloats/max(rowLen, 1))
	chunk = min(chunk, rows)
	col := ec.getF32(chunk * rowLen)
	defer ec.putF32(col)
	for r0 := 0; r0 < rows; r0 += chunk {
		r1 := min(rows, r0+chunk)
		parallelFor(ec.parallelism, r1-r0, (r1-r0)*rowLen, func(lo, hi int) {
			im2colB(p, col[lo*rowLen:hi*rowLen], in, r0+lo, r0+hi)
		})
		var beta float32
		if r0 > 0 {
			beta = 1
		}
		if err := ec.ws.Sgemm(kernels.Trans, kernels.NoTrans, rowLen, p.o, r1-r0, 1, col, rowLen, ker[r0*p.o:], p.o,
			beta, out, p.o); err != nil {
			return err
		}
	}
	return nil
}

// im2colB writes rows [r0, r1) of the form-B patch matrix: row (c,k1,k2) holds, for each output
// position (p1,p2), the N input values at that position (zeros outside the input).
func im2colB(p *convParams, dst, in []float32, r0, r1 int) {
	nn := p.n
	rowLen := p.p1 * p.p2 * nn
	for r := r0; r < r1; r++ {
		k2 := r % p.k2
		k1 := (r / p.k2) % p.k1
		cc := r / (p.k2 * p.k1)
		row := dst[(r-r0)*rowLen : (r-r0+1)*rowLen]
		o := 0
		for q1 := range p.p1 {
			y, ok := dilated(q1*p.stride[0]+k1*p.dil[0]-p.padLo[0], p.inDil[0], p.s1)
			if !ok {
				clear(row[o : o+p.p2*nn])
				o += p.p2 * nn
				continue
			}
			base := (cc*p.s1 + y) * p.s2
			for q2 := range p.p2 {
				x, ok := dilated(q2*p.stride[1]+k2*p.dil[1]-p.padLo[1], p.inDil[1], p.s2)
				if !ok {
					clear(row[o : o+nn])
				} else {
					copy(row[o:o+nn], in[(base+x)*nn:(base+x+1)*nn])
				}
				o += nn
			}
		}
	}
}

// dilated maps a position in the (input-dilated, padded-away) input to an input index: it
// reports false for positions outside the input or between dilated elements.
func dilated(pos, dil, size int) (int, bool) {
	if pos < 0 {
		return 0, false
	}
	if dil != 1 {
		if pos%dil != 0 {
			return 0, false
		}
		pos /= dil
	}
	return pos, pos < size
}

// kind names the way the convolution runs, for profiles: "fwd" or "kgrad" on package kernels'
// convolutions, "im2colA" or "im2colB" on this package's fallback.
func (p *convParams) kind() string {
	_, ok := p.gemmShape()
	switch {
	case p.inputGrad:
		return "igrad"
	case ok && p.formB:
		return "kgrad"
	case ok:
		return fmt.Sprintf("fwd%dx%d", p.k1, p.k2)
	case p.formB:
		return "im2colB"
	}
	return "im2colA"
}
