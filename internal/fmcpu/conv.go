package fmcpu

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/pkg/errors"
)

// normaliseConvParams returns strides, input and kernel dilations with one value (>= 1) per
// spatial axis, and paddings with one pair per spatial axis: graph passes empty slices for
// "default", which simplego rejects.
func normaliseConvParams(numSpatial int, strides []int, paddings [][2]int, inputDilations, kernelDilations []int) (
	[]int, [][2]int, []int, []int) {
	norm := func(v []int) []int {
		out := make([]int, numSpatial)
		for i := range out {
			out[i] = 1
			if i < len(v) && v[i] > 0 {
				out[i] = v[i]
			}
		}
		return out
	}
	pads := make([][2]int, numSpatial)
	copy(pads, paddings)
	return norm(strides), pads, norm(inputDilations), norm(kernelDilations)
}

// ConvGeneral implements backends.Builder.
//
// Empty strides, paddings and dilations are normalised. On the FilledInName backend, and for
// grouped convolutions, the convolution is then left to simplego. Otherwise it is lowered to one
// DotGeneral over extracted patches, for any axes layout, strides, paddings and dilations:
//
//  1. The input is padded (Pad, with interior padding for input dilations).
//  2. If the kernel has no more spatial positions than the output, one strided Slice per kernel
//     position is taken and the slices are concatenated on the input-channels axis (im2col:
//     [..., K*Ci]) and contracted with the kernel reshaped to [K*Ci, Co].
//     Otherwise (the kernel-gradient convolution, whose "kernel" is an output-sized tensor), one
//     Slice per output position is taken, the slices are stacked on a new leading axis
//     ([O, input axes with spatial dims = K]) and contracted with the kernel over its spatial and
//     input-channel axes.
//  3. The result is transposed to the requested output layout.
func (b *Builder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	inShape, err := b.shape(input, "ConvGeneral input")
	if err != nil {
		return nil, err
	}
	kShape, err := b.shape(kernel, "ConvGeneral kernel")
	if err != nil {
		return nil, err
	}
	ns := inShape.Rank() - 2
	if ns < 0 || len(axes.InputSpatial) != ns || len(axes.KernelSpatial) != ns || len(axes.OutputSpatial) != ns {
		return nil, errors.Errorf("fmcpu: ConvGeneral input %s, kernel %s: axes %+v do not match the rank", inShape, kShape, axes)
	}
	strides, paddings, inputDilations, kernelDilations = normaliseConvParams(ns, strides, paddings, inputDilations, kernelDilations)
	channelGroupCount, batchGroupCount = max(channelGroupCount, 1), max(batchGroupCount, 1)
	if !b.lower || channelGroupCount > 1 || batchGroupCount > 1 {
		return b.Builder.ConvGeneral(input, kernel, axes, strides, paddings, inputDilations, kernelDilations,
			channelGroupCount, batchGroupCount)
	}
	outShape, err := shapeinference.ConvGeneralOp(inShape, kShape, axes, strides, paddings, inputDilations,
		kernelDilations, 1, 1)
	if err != nil {
		return nil, errors.WithMessagef(err, "fmcpu: ConvGeneral(input %s, kernel %s)", inShape, kShape)
	}
	op, err := b.convAsDot(input, kernel, inShape.Dimensions, kShape.Dimensions, outShape.Dimensions, axes,
		strides, paddings, inputDilations, kernelDilations)
	if err != nil {
		return nil, errors.WithMessagef(err, "fmcpu: lowering ConvGeneral(input %s, kernel %s, axes %+v, "+
			"strides %v, paddings %v, input dilations %v, kernel dilations %v) to DotGeneral",
			inShape, kShape, axes, strides, paddings, inputDilations, kernelDilations)
	}
	return op, nil
}

// convAsDot is the lowering described in ConvGeneral; parameters are already normalised.
func (b *Builder) convAsDot(input, kernel backends.Op, inDims, kDims, outDims []int, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int) (backends.Op, error) {
	ns := len(axes.InputSpatial)
	rank := ns + 2

	// 1. Pad (and dilate) the input spatial axes.
	padCfg := make([]backends.PadAxis, rank)
	needPad := false
	for i, axis := range axes.InputSpatial {
		padCfg[axis] = backends.PadAxis{Start: paddings[i][0], End: paddings[i][1], Interior: inputDilations[i] - 1}
		needPad = needPad || padCfg[axis] != backends.PadAxis{}
	}
	padded := input
	pDims := slices.Clone(inDims)
	if needPad {
		zero, err := b.scalarZero(b.dtypeOf(input))
		if err != nil {
			return nil, err
		}
		if padded, err = b.Pad(input, zero, padCfg...); err != nil {
			return nil, err
		}
		for i, axis := range axes.InputSpatial {
			n := inDims[axis]
			pDims[axis] = n + (n-1)*(inputDilations[i]-1) + paddings[i][0] + paddings[i][1]
		}
	}

	kSp := make([]int, ns) // kernel spatial sizes
	oSp := make([]int, ns) // output spatial sizes
	numK, numO := 1, 1
	for i := range ns {
		kSp[i] = kDims[axes.KernelSpatial[i]]
		oSp[i] = outDims[axes.OutputSpatial[i]]
		numK *= kSp[i]
		numO *= oSp[i]
	}
	ci, co := kDims[axes.KernelInputChannels], kDims[axes.KernelOutputChannels]

	// sliceAt takes, at each spatial axis i, count[i] elements of padded starting at start[i] with
	// the given step.
	sliceAt := func(start, count, step []int) (backends.Op, error) {
		starts := make([]int, rank)
		limits := slices.Clone(pDims)
		steps := make([]int, rank)
		for a := range steps {
			steps[a] = 1
		}
		whole := true
		for i, axis := range axes.InputSpatial {
			starts[axis] = start[i]
			limits[axis] = start[i] + (count[i]-1)*step[i] + 1
			steps[axis] = step[i]
			whole = whole && start[i] == 0 && step[i] == 1 && limits[axis] == pDims[axis]
		}
		if whole {
			return padded, nil // E.g. 1x1 convolutions: no copy.
		}
		return b.Slice(padded, starts, limits, steps)
	}

	// roles lists, for each axis of the DotGeneral result, which output axis it is.
	var dot backends.Op
	var roles []int
	if numK <= numO {
		// im2col: one slice per kernel position, concatenated on the channel axis.
		parts := make([]backends.Op, 0, numK)
		var err error
		for pos := range forEachIndex(kSp) {
			start := make([]int, ns)
			for i := range ns {
				start[i] = pos[i] * kernelDilations[i]
			}
			part, err := sliceAt(start, oSp, strides)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		patches := parts[0]
		if len(parts) > 1 {
			if patches, err = b.Concatenate(axes.InputChannels, parts...); err != nil {
				return nil, err
			}
		}
		// Kernel as [Kspatial..., Ci, Co] -> [K*Ci, Co].
		perm := append(slices.Clone(axes.KernelSpatial), axes.KernelInputChannels, axes.KernelOutputChannels)
		w := kernel
		if !isIdentity(perm) {
			if w, err = b.Transpose(kernel, perm...); err != nil {
				return nil, err
			}
		}
		if w, err = b.Reshape(w, numK*ci, co); err != nil {
			return nil, err
		}
		if dot, err = b.dotGeneral(patches, []int{axes.InputChannels}, nil, w, []int{0}, nil); err != nil {
			return nil, err
		}
		for axis := range rank {
			switch {
			case axis == axes.InputChannels:
			case axis == axes.InputBatch:
				roles = append(roles, axes.OutputBatch)
			default:
				roles = append(roles, axes.OutputSpatial[slices.Index(axes.InputSpatial, axis)])
			}
		}
		roles = append(roles, axes.OutputChannels)
	} else {
		// One slice per output position, stacked on a new leading axis.
		parts := make([]backends.Op, 0, numO)
		sliceDims := slices.Clone(pDims)
		for i, axis := range axes.InputSpatial {
			sliceDims[axis] = kSp[i]
		}
		stackedDims := append([]int{1}, sliceDims...)
		var err error
		for pos := range forEachIndex(oSp) {
			start := make([]int, ns)
			for i := range ns {
				start[i] = pos[i] * strides[i]
			}
			part, err := sliceAt(start, kSp, kernelDilations)
			if err != nil {
				return nil, err
			}
			if part, err = b.Reshape(part, stackedDims...); err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		stacked := parts[0]
		if len(parts) > 1 {
			if stacked, err = b.Concatenate(0, parts...); err != nil {
				return nil, err
			}
		}
		lhsContract := make([]int, 0, ns+1)
		rhsContract := make([]int, 0, ns+1)
		for i := range ns {
			lhsContract = append(lhsContract, 1+axes.InputSpatial[i])
			rhsContract = append(rhsContract, axes.KernelSpatial[i])
		}
		lhsContract = append(lhsContract, 1+axes.InputChannels)
		rhsContract = append(rhsContract, axes.KernelInputChannels)
		// Contract in the stack's memory order: simplego gathers the operands in that order.
		sortPairs(lhsContract, rhsContract)
		if dot, err = b.dotGeneral(stacked, lhsContract, nil, kernel, rhsContract, nil); err != nil {
			return nil, err
		}
		// [numO, batch, Co] -> [oSp..., batch, Co]
		if dot, err = b.Reshape(dot, append(slices.Clone(oSp), inDims[axes.InputBatch], co)...); err != nil {
			return nil, err
		}
		roles = append(slices.Clone(axes.OutputSpatial), axes.OutputBatch, axes.OutputChannels)
	}

	// 3. Transpose to the output layout: output axis roles[j] is result axis j.
	perm := make([]int, rank)
	for j, outAxis := range roles {
		perm[outAxis] = j
	}
	if isIdentity(perm) {
		return dot, nil
	}
	return b.Transpose(dot, perm...)
}

// forEachIndex iterates over all multi-indices of an array with the given dimensions, in
// row-major order. The yielded slice is reused between iterations.
func forEachIndex(dims []int) func(yield func([]int) bool) {
	return func(yield func([]int) bool) {
		idx := make([]int, len(dims))
		for _, d := range dims {
			if d <= 0 {
				return
			}
		}
		for {
			if !yield(idx) {
				return
			}
			i := len(dims) - 1
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < dims[i] {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				return
			}
		}
	}
}

// isIdentity reports whether perm is the identity permutation.
func isIdentity(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}

// sortPairs sorts keys ascending and applies the same reordering to vals.
func sortPairs(keys, vals []int) {
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
			vals[j], vals[j-1] = vals[j-1], vals[j]
		}
	}
}
