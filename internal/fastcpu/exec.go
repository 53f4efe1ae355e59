package fastcpu

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"

	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
)

// kernelFn computes node n into out (a flat slice of n's shape, contents arbitrary) from its
// inputs' flat slices.
type kernelFn func(ec *execCtx, n *node, out any, ins []any) error

// execCtx is the state of one Execute call, passed to kernels.
type execCtx struct {
	parallelism int
	ws          *kernels.Workspace
	pool        *bufferPool
	team        *team // nil: plain goroutines
}

// parallelFor runs fn over units [0, n) split into up to ec.parallelism parts (see the
// package's parallelFor), on the backend's team when it has one.
func (ec *execCtx) parallelFor(n, work int, fn func(lo, hi int)) {
	ec.parallelForN(ec.parallelism, n, work, fn)
}

// parallelForN is parallelFor with at most parallelism parts.
func (ec *execCtx) parallelForN(parallelism, n, work int, fn func(lo, hi int)) {
	if ec.team == nil {
		parallelFor(parallelism, n, work, fn)
		return
	}
	ec.team.parallelFor(parallelism, n, work, fn)
}

// getF32 takes a float32 temporary of n values (arbitrary contents) from the free list.
func (ec *execCtx) getF32(n int) []float32 {
	f, _ := ec.pool.get(dtypes.Float32, n)
	return f.([]float32)
}

// putF32 returns a temporary taken with getF32.
func (ec *execCtx) putF32(f []float32) { ec.pool.put(dtypes.Float32, f) }

// implementedOps maps every op type this package implements to its kernel (nil for the ops
// handled by the executor itself: Parameter, Constant and the free aliases Reshape and Identity).
var implementedOps = map[backends.OpType]kernelFn{
	backends.OpTypeParameter: nil, backends.OpTypeConstant: nil,
	backends.OpTypeReshape: nil, backends.OpTypeIdentity: nil,

	backends.OpTypeNeg: execUnary, backends.OpTypeAbs: execUnary, backends.OpTypeSign: execUnary,
	backends.OpTypeSqrt: execUnary, backends.OpTypeRsqrt: execUnary, backends.OpTypeExp: execUnary,
	backends.OpTypeExpm1: execUnary, backends.OpTypeLog: execUnary, backends.OpTypeLog1p: execUnary,
	backends.OpTypeSin: execUnary, backends.OpTypeCos: execUnary, backends.OpTypeTanh: execUnary,
	backends.OpTypeLogistic: execUnary, backends.OpTypeFloor: execUnary, backends.OpTypeCeil: execUnary,
	backends.OpTypeRound: execUnary, backends.OpTypeErf: execUnary, backends.OpTypeLogicalNot: execUnary,

	backends.OpTypeAdd: execBinary, backends.OpTypeSub: execBinary, backends.OpTypeMul: execBinary,
	backends.OpTypeDiv: execBinary, backends.OpTypeMax: execBinary, backends.OpTypeMin: execBinary,
	backends.OpTypePow: execBinary, backends.OpTypeRem: execBinary,
	backends.OpTypeLogicalAnd: execBinary, backends.OpTypeLogicalOr: execBinary, backends.OpTypeLogicalXor: execBinary,

	backends.OpTypeEqual: execCompare, backends.OpTypeNotEqual: execCompare,
	backends.OpTypeLessThan: execCompare, backends.OpTypeLessOrEqual: execCompare,
	backends.OpTypeGreaterThan: execCompare, backends.OpTypeGreaterOrEqual: execCompare,

	backends.OpTypeWhere: execWhere, backends.OpTypeConvertDType: execConvert,

	backends.OpTypeTranspose: execTranspose, backends.OpTypeBroadcastInDim: execBroadcastInDim,
	backends.OpTypeSlice: execSlice, backends.OpTypeConcatenate: execConcatenate,
	backends.OpTypeReverse: execReverse, backends.OpTypePad: execPad, backends.OpTypeIota: execIota,

	backends.OpTypeReduceSum: execReduce, backends.OpTypeReduceMax: execReduce,
	backends.OpTypeReduceMin: execReduce, backends.OpTypeReduceProduct: execReduce,

	backends.OpTypeDotGeneral: execDot, backends.OpTypeConvGeneral: execConv,

	backends.OpTypeRNGBitGenerator: execRNG,
}

// step is one node to run.
type step struct {
	n      *node
	kernel kernelFn
	alias  bool  // Reshape/Identity: the result is the input's flat slice
	frees  []int // node indices (roots) whose memory goes back to the free list after this step
	// freeParams are parameter positions whose buffers go back to the free list after this
	// step if the caller donated them.
	freeParams []int
	fused      *fusedGroup // non-nil: a fused elementwise group computing n
	// hasInPlace: the fused group writes its result into the memory of root inPlace, an
	// input whose last use is this step (see pickInPlace).
	hasInPlace bool
	inPlace    int
}

// Executable is a compiled fastcpu computation. It implements backends.Executable and may be
// executed concurrently.
type Executable struct {
	backend  *Backend
	name     string
	numNodes int
	dtypes   []dtypes.DType // dtype of every node, by index
	params   []*node
	consts   []*node
	steps    []step
	outputs  []*node
	outRoots []int
	outCopy  []bool // output i must be copied (its root is a parameter, a constant or another output's)
}

// Compile-time check.
var _ backends.Executable = (*Executable)(nil)

// Compile implements backends.Builder: it plans execution of the nodes the outputs need.
func (b *Builder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if len(shardings) > 0 {
		return nil, errors.New("fastcpu: sharding is not supported")
	}
	outs, err := b.in(backends.OpTypeInvalid, outputs...)
	if err != nil {
		return nil, errors.WithMessage(err, "Compile")
	}
	if b.backend.OnCompile != nil {
		b.backend.OnCompile(b)
	}
	e, err := plan(b, outs)
	if err != nil {
		return nil, err
	}
	b.compiled = true
	return e, nil
}

// Finalize implements backends.Executable.
func (e *Executable) Finalize() {}

// Inputs implements backends.Executable.
func (e *Executable) Inputs() (names []string, inputShapes []shapes.Shape) {
	for _, p := range e.params {
		names = append(names, p.name)
		inputShapes = append(inputShapes, p.shape)
	}
	return names, inputShapes
}

// Outputs implements backends.Executable.
func (e *Executable) Outputs() []shapes.Shape {
	out := make([]shapes.Shape, len(e.outputs))
	for i, o := range e.outputs {
		out[i] = o.shape
	}
	return out
}

// Execute implements backends.Executable. Donated inputs are consumed: their memory is reused
// once no longer needed.
func (e *Executable) Execute(inputs []backends.Buffer, donate []bool, _ backends.DeviceNum) ([]backends.Buffer, error) {
	if len(inputs) != len(e.params) {
		return nil, errors.Errorf("fastcpu: %q takes %d inputs, got %d", e.name, len(e.params), len(inputs))
	}
	vals := make([]any, e.numNodes)
	donated := make([]bool, len(inputs))
	for i, in := range inputs {
		buf, err := toBuffer(in)
		if err != nil {
			return nil, errors.WithMessagef(err, "input #%d of %q", i, e.name)
		}
		if !buf.shape.Equal(e.params[i].shape) {
			return nil, errors.Errorf("fastcpu: input #%d (%q) of %q: shape %s, want %s", i, e.params[i].name,
				e.name, buf.shape, e.params[i].shape)
		}
		vals[e.params[i].idx] = buf.flat
		if i < len(donate) && donate[i] {
			donated[i] = true
		}
	}
	// A donated input that appears twice must not be freed twice.
	for i := range inputs {
		if donated[i] {
			for j := range i {
				if inputs[j] == inputs[i] {
					donated[i], donated[j] = false, false
				}
			}
		}
	}
	for _, c := range e.consts {
		vals[c.idx] = c.data
	}
	ws := e.backend.getWorkspace()
	defer e.backend.putWorkspace(ws)
	ec := &execCtx{parallelism: e.backend.parallelism, ws: ws, pool: e.backend.pool, team: e.backend.team}
	pool := e.backend.pool
	insBuf := make([]any, 0, 8)
	for si := range e.steps {
		st := &e.steps[si]
		n := st.n
		switch {
		case st.alias:
			// Kernels read inputs through root: a fused group may write a Reshape's input
			// (an export) at a later step than the Reshape's.
			vals[n.idx] = vals[n.inputs[0].idx]
		default:
			var out any
			var err error
			if st.hasInPlace {
				out = vals[st.inPlace]
			} else if out, err = pool.get(n.shape.DType, n.shape.Size()); err != nil {
				return nil, err
			}
			var start time.Time
			var cpu0 time.Duration
			if e.backend.profile != nil {
				start, cpu0 = time.Now(), processCPU()
			}
			if st.fused != nil {
				for _, x := range st.fused.exports {
					if vals[x.idx], err = pool.get(x.shape.DType, x.shape.Size()); err != nil {
						return nil, err
					}
				}
				if g := st.fused; g.keepOut {
					if vals[g.reduce.idx], err = pool.get(g.reduce.shape.DType, g.reduce.shape.Size()); err != nil {
						return nil, err
					}
				}
				err = st.fused.run(ec, out, vals)
			} else {
				ins := insBuf[:0]
				for _, in := range n.inputs {
					ins = append(ins, vals[root(in).idx]) // see the alias case
				}
				err = st.kernel(ec, n, out, ins)
			}
			if err != nil {
				return nil, errors.WithMessagef(err, "executing %q", e.name)
			}
			vals[n.idx] = out
			if e.backend.profile != nil {
				name := n.op.String()
				if st.fused != nil {
					name = "fused/" + st.fused.describe()
					if os.Getenv("FASTCPU_PROFILE_SHAPES") != "" {
						name += fmt.Sprint(n.shape.Dimensions)
					}
				}
				if n.op == backends.OpTypeReduceSum && os.Getenv("FASTCPU_PROFILE_SHAPES") != "" {
					name += fmt.Sprintf("%v%v", n.inputs[0].shape.Dimensions, n.axes)
				}
				if cp, ok := n.data.(*convParams); ok {
					name += "/" + cp.kind()
				}
				e.backend.addProfile(name, time.Since(start), processCPU()-cpu0)
			}
		}
		for _, r := range st.frees {
			pool.put(e.nodeDType(r), vals[r])
		}
		for _, pi := range st.freeParams {
			if donated[pi] {
				buf := inputs[pi].(*Buffer)
				pool.put(buf.shape.DType, buf.flat)
				buf.flat, buf.valid = nil, false
			}
		}
	}
	results := make([]backends.Buffer, len(e.outputs))
	for i, o := range e.outputs {
		flat := vals[e.outRoots[i]]
		if e.outCopy[i] {
			c, err := pool.get(o.shape.DType, o.shape.Size())
			if err != nil {
				return nil, err
			}
			copyFlat(c, flat)
			flat = c
		}
		results[i] = &Buffer{shape: o.shape, flat: flat, valid: true}
	}
	return results, nil
}

// nodeDType returns the dtype of node idx (a step's root).
func (e *Executable) nodeDType(idx int) dtypes.DType { return e.dtypes[idx] }

// copyFlat copies src into dst (same type and length).
func copyFlat(dst, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d, src.([]float32))
	case []float64:
		copy(d, src.([]float64))
	case []int8:
		copy(d, src.([]int8))
	case []int16:
		copy(d, src.([]int16))
	case []int32:
		copy(d, src.([]int32))
	case []int64:
		copy(d, src.([]int64))
	case []uint8:
		copy(d, src.([]uint8))
	case []uint16:
		copy(d, src.([]uint16))
	case []uint32:
		copy(d, src.([]uint32))
	case []uint64:
		copy(d, src.([]uint64))
	case []bool:
		copy(d, src.([]bool))
	}
}

// processCPU returns the CPU time (user + system) the process has used so far; 0 where unknown.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
