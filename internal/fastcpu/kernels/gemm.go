// Package kernels holds the compute kernels of the fastcpu backend: float32
// matrix products (gemm.go: a cache-blocked, packed GEMM for row-major
// matrices, C = alpha·op(A)·op(B) + beta·C, and a batched variant) and NHWC
// 2-D convolutions with their gradients (conv.go, direct.go, winograd.go: see
// Conv2D, Conv2DInputGrad and Conv2DKernelGrad). Both share one Workspace, its
// packing buffers and helper goroutines.
//
// Three GEMM micro-kernels exist. When the package is built with
// GOEXPERIMENT=simd on amd64 and the CPU has AVX2 and FMA, a 4×16 kernel
// written with simd/archsimd is used ("avx2-fma"), and where the CPU also has
// AVX-512 a 4×32 one ("avx512") for products of 64 columns or more; otherwise a
// blocked scalar kernel ("portable") runs. Kernel reports the choice, Kernels
// lists what the machine can run, and Options.ForcePortable or Options.Kernel
// force one. Build with GOEXPERIMENT=simd GOAMD64=v3 for speed (v3 also lets
// the portable kernel fuse multiply-adds).
//
// Convolutions with stride 1 and no dilation run without im2col on amd64, in
// assembly that needs no build flag (direct.go, winograd.go): direct 8×32
// (AVX-512) or 6×16 (AVX2) register tiles, and the Winograd F(2×2, 3×3) form
// for 3×3 forward and input-gradient convolutions (and, on AVX-512, kernel
// gradients) whose channel counts are multiples of 16. Other convolutions use im2col and the
// GEMM (conv.go). ConvKernels describes the choice; Options.NoDirectConv and
// Options.NoWinograd turn the faster forms off.
//
// All work goes through a Workspace, which owns the packing buffers and a small
// pool of helper goroutines, so that steady-state calls do not allocate. A
// Workspace must not be used by two goroutines at once; separate Workspaces are
// independent and may run concurrently. Call Close when a Workspace is no longer
// needed (a forgotten one is cleaned up by the garbage collector). Results do
// not depend on how work is split between goroutines or on their timing.
//
// Argument errors (negative sizes, leading dimensions too small, slices too short)
// are reported as errors, never as panics.
package kernels

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Transpose selects op(X) in a product: X itself or its transpose.
type Transpose bool

const (
	// NoTrans uses the matrix as stored.
	NoTrans Transpose = false
	// Trans uses the transpose of the stored matrix.
	Trans Transpose = true
)

// Blocking parameters. The tile sizes of a kernel are in its mr and nr
// fields; these are those of the portable and AVX2 kernels.
const (
	mr    = 4   // rows of C per micro-tile
	nr    = 16  // columns of C per micro-tile
	kcMax = 128 // depth of a packed block (A slice and B block)
	ncMax = 512 // columns of a packed B block

	// serialMACs is the number of multiply-adds under which a product runs on
	// the calling goroutine only (goroutine hand-off costs a few microseconds).
	serialMACs = 1 << 18

	// narrowN is the number of columns under which a Workspace with two SIMD
	// kernels uses the narrower one.
	narrowN = 64
)

// Options configure a Workspace.
type Options struct {
	// Parallelism is the largest number of goroutines one call may use; 0 means
	// runtime.GOMAXPROCS(0) at the time of each call, 1 means the calling
	// goroutine only.
	Parallelism int
	// ForcePortable selects the portable scalar kernel even where the SIMD
	// kernel is available (for tests and comparisons).
	ForcePortable bool
	// Kernel, when not empty, names the kernel to use (see Kernels); a kernel
	// this machine or build cannot run is ignored. ForcePortable wins over it.
	Kernel string
	// NoDirectConv turns off the direct convolutions (direct.go), so that
	// every convolution runs as im2col + GEMM (for tests and comparisons).
	NoDirectConv bool
	// NoWinograd turns off the Winograd form of 3×3 convolutions (winograd.go),
	// leaving them to the direct tiles (for tests and comparisons).
	NoWinograd bool
	// RunParts, when not nil, runs the parts of each parallel call instead of the
	// Workspace's own helper goroutines: it must call part(i) exactly once for
	// every i in [0, parts), on any goroutines and in any order (the parts are
	// independent and what each computes does not depend on where it runs), and
	// return when all have returned. fastcpu passes its team of spinning
	// helpers, so that one set of goroutines stays awake from a convolution to
	// the elementwise loops after it instead of parking and being woken again.
	RunParts func(parts int, part func(i int))
}

// ErrClosed is returned by calls on a Workspace after Close.
var ErrClosed = errors.New("gemm: workspace is closed")

// Workspace holds packing buffers and helper goroutines for GEMM calls. The zero
// value is not usable; create one with NewWorkspace.
type Workspace struct {
	opts Options
	st   *state
}

// state is everything the helper goroutines touch; it never points back to the
// Workspace so that a dropped Workspace can be collected and its pool stopped.
type state struct {
	kern    kernel
	narrow  *kernel // if not nil, the kernel for products of fewer than narrowN columns
	workers []*worker
	pool    *pool
	job     job       // the current call's job, kept here so it is not allocated per call
	conv    convJob   // likewise for convolutions
	gather  gatherJob // and for the col2im step of Conv2DInputGrad
	dcols   []float32 // patch-gradient buffer of Conv2DInputGrad
	packedB []float32 // op(B) packed once for row-split parallel products

	// Direct convolutions (direct.go), when dk is not nil.
	dk         *directKernel
	xpad       []float32 // zero-padded input
	kpack      []float32 // kernel packed for the tiles
	dypad      []float32 // output gradient widened to whole strips
	kacc       []float32 // kernel-gradient accumulators (direct, Winograd and im2col forms)
	taps       []int     // byte offsets of the kernel taps
	tileDone   []atomic.Int32
	pad        padJob
	dconv      directJob
	kgrad      kgradJob
	narrowConv narrowJob
	kpackJob   packJob
	winoK      winoKernelJob
	kflip      []float32 // flipped kernel of a Winograd input gradient
	wino       winoJob
	winoGrad   winoGradJob
	noWinograd bool                              // Options.NoWinograd
	runParts   func(parts int, part func(i int)) // Options.RunParts
	next       atomic.Int64
	closed     bool
}

// pick returns the kernel for a product with n columns.
func (st *state) pick(n int) *kernel {
	if st.narrow != nil && n < narrowN {
		return st.narrow
	}
	return &st.kern
}

// worker owns one goroutine's packing buffers.
type worker struct {
	packA []float32
	packB []float32
	cols  []float32 // im2col chunk of convolutions
	acc   []float32 // scratch accumulator of matrix-vector products
	kern  *kernel
}

// kernel is a micro-kernel with its A-packing routine.
type kernel struct {
	name string
	// mr×nr is the micro-tile; nr divides ncMax.
	mr, nr int
	// kc is the largest depth of a packed block.
	kc int
	// aStride is the number of float32 values packA writes per k step.
	aStride int
	// packA packs rows [i0, i0+rows) (rows ≤ mr, padded with zeros up to mr) and
	// depth [p0, p0+kc) of op(A), scaled by alpha, into dst.
	packA func(dst []float32, a []float32, lda int, tA Transpose, i0, rows, p0, kc int, alpha float32)
	// micro computes the mr×nr product of a packed A slice and a packed B strip
	// of depth kc and writes its top-left rows×cols part into c as
	// c = acc + beta·c (beta == 0 ignores c's previous contents).
	micro func(kc int, pa, pb []float32, c []float32, ldc, rows, cols int, beta float32)
	// packB packs depth [p0, p0+kc) and columns [j0, j0+nc) of op(B) into dst
	// as strips of nr columns, kc·bStride values per strip.
	packB   func(dst []float32, b []float32, ldb int, tB Transpose, p0, kc, j0, nc int)
	bStride int
	// add sets dst[i] += src[i] for i < len(dst) (len(src) ≥ len(dst)).
	add func(dst, src []float32)
	// dot returns Σ a[i]·b[i] over i < len(a) (len(b) ≥ len(a)).
	dot func(a, b []float32) float32
	// axpy sets y[i] += alpha·x[i] for i < len(x) (len(y) ≥ len(x)).
	axpy func(alpha float32, x, y []float32)
}

// NewWorkspace returns a Workspace configured by opts.
func NewWorkspace(opts Options) *Workspace {
	st := &state{kern: portableKernel()}
	switch {
	case opts.ForcePortable:
	case opts.Kernel != "":
		for _, k := range availableKernels() {
			if k.name == opts.Kernel {
				st.kern = k
			}
		}
	case avx512Available():
		// The AVX-512 kernel packs A at twice the cost per value, which does not
		// pay off on products with few columns.
		st.kern = avx512Kernel()
		narrow := simdKernel()
		st.narrow = &narrow
	case simdAvailable():
		st.kern = simdKernel()
	}
	st.dk = pickDirect(opts)
	st.noWinograd = opts.NoWinograd
	st.runParts = opts.RunParts
	st.pool = &pool{}
	w := &Workspace{opts: opts, st: st}
	runtime.AddCleanup(w, func(p *pool) { p.stop() }, st.pool)
	return w
}

// Close stops the Workspace's helper goroutines and releases its buffers. Later
// calls return ErrClosed. Close is idempotent.
func (w *Workspace) Close() {
	if w == nil || w.st == nil || w.st.closed {
		return
	}
	w.st.pool.stop()
	w.st.workers = nil
	w.st.packedB = nil
	w.st.dcols = nil
	w.st.xpad, w.st.kpack, w.st.dypad, w.st.kacc = nil, nil, nil, nil
	w.st.closed = true
}

// Kernel names the micro-kernel the Workspace uses: "avx512", "avx2-fma" or
// "portable" (see the package function Kernel for the narrow-product case).
func (w *Workspace) Kernel() string { return w.st.kern.name }

// ConvKernels describes the convolution forms a Workspace created with
// default Options uses on this machine: for example "direct avx512 8x32 +
// Winograd F(2x2,3x3)", "direct avx2-fma 6x16 + Winograd F(2x2,3x3)", or
// "im2col + GEMM".
func ConvKernels() string {
	d := pickDirect(Options{})
	switch {
	case d == nil:
		return "im2col + GEMM"
	}
	return fmt.Sprintf("direct %s %dx%d + Winograd F(2x2,3x3)", d.name, d.rows, d.cols)
}

// Kernels lists the kernels this machine and build can run, among "portable",
// "avx2-fma" and "avx512".
func Kernels() []string {
	var names []string
	for _, k := range availableKernels() {
		names = append(names, k.name)
	}
	return names
}

// Kernel names the micro-kernel a Workspace created with default Options uses on
// this machine and build: "avx512" (where AVX-512 is available; products with
// fewer than 64 columns then use "avx2-fma"), "avx2-fma" or "portable".
func Kernel() string {
	switch {
	case avx512Available():
		return avx512Kernel().name
	case simdAvailable():
		return simdKernel().name
	}
	return portableKernel().name
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32 matrices,
// where op(A) is m×k, op(B) is k×n and C is m×n. The element (i, j) of a stored
// matrix X with leading dimension ldx is x[i*ldx+j]; A is stored m×k (NoTrans)
// or k×m (Trans), B is stored k×n (NoTrans) or n×k (Trans). When beta is 0, C's
// previous contents are ignored (NaNs in C do not propagate). C must not overlap
// A or B.
func (w *Workspace) Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) error {
	return w.SgemmBatched(tA, tB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// SgemmBatched computes batch independent products
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i, i in [0, batch), where X_i starts at
// x[i*strideX] and is laid out as described for Sgemm. A stride of 0 reuses the
// same A or B for every product. The C_i must not overlap each other (strideC
// may be 0 only when batch ≤ 1) nor any A_i or B_i.
func (w *Workspace) SgemmBatched(tA, tB Transpose, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC int, batch int) error {
	if w == nil || w.st == nil {
		return errors.New("gemm: nil or uninitialised Workspace (use NewWorkspace)")
	}
	if w.st.closed {
		return ErrClosed
	}
	if m < 0 || n < 0 || k < 0 || batch < 0 {
		return fmt.Errorf("gemm: negative size m=%d n=%d k=%d batch=%d", m, n, k, batch)
	}
	if strideA < 0 || strideB < 0 || strideC < 0 {
		return fmt.Errorf("gemm: negative stride (%d, %d, %d)", strideA, strideB, strideC)
	}
	if batch > 1 && strideC == 0 && m > 0 && n > 0 {
		return errors.New("gemm: strideC is 0 with batch > 1 (outputs would overlap)")
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	if err := checkMatrix("A", a, ar, ac, lda, strideA, batch); err != nil {
		return err
	}
	if err := checkMatrix("B", b, br, bc, ldb, strideB, batch); err != nil {
		return err
	}
	if err := checkMatrix("C", c, m, n, ldc, strideC, batch); err != nil {
		return err
	}
	if batch == 0 || m == 0 || n == 0 {
		return nil
	}
	j := &w.st.job
	*j = job{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, sa: strideA, b: b, ldb: ldb, sb: strideB, c: c, ldc: ldc, sc: strideC}
	w.run(j, batch)
	return nil
}

// Sgemm is a convenience wrapper that runs Workspace.Sgemm on a temporary
// Workspace with default Options. It allocates; hot paths should keep a Workspace.
func Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) error {
	w := NewWorkspace(Options{})
	defer w.Close()
	return w.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// checkMatrix verifies that x holds batch matrices of rows×cols with leading
// dimension ld, spaced stride apart.
func checkMatrix(name string, x []float32, rows, cols, ld, stride, batch int) error {
	if ld < max(1, cols) {
		return fmt.Errorf("gemm: leading dimension of %s is %d, want ≥ %d", name, ld, max(1, cols))
	}
	if rows == 0 || cols == 0 || batch == 0 {
		return nil
	}
	need := (rows-1)*ld + cols
	if batch > 1 {
		need += (batch - 1) * stride
	}
	if len(x) < need {
		return fmt.Errorf("gemm: %s has %d elements, need %d", name, len(x), need)
	}
	return nil
}

// job is one (batched) product, with arguments already checked.
type job struct {
	tA, tB     Transpose
	m, n, k    int
	alpha      float32
	beta       float32
	a, b, c    []float32
	lda, sa    int
	ldb, sb    int
	ldc, sc    int
	splitN     bool // parallel split over columns instead of rows
	parts      int  // number of parts of the split
	batchSplit bool // parallel split over batch entries
	batch      int
	kern       *kernel

	// Shared mode (parallel split over rows): op(B) of batch entry e is packed
	// once into packedB by all workers (phase packing), then workers take
	// chunks of rows from the counter next until nChunks are done.
	shared  bool
	packing bool
	e       int
	packedB []float32
	next    *atomic.Int64
	nChunks int
}

// kBlock returns the depth of the k blocks: k split into equal blocks of at
// most kern.kc.
func (j *job) kBlock(kern *kernel) int {
	nkb := (j.k + kern.kc - 1) / kern.kc
	return (j.k + nkb - 1) / nkb
}

// run executes j over batch entries, in parallel where worthwhile.
func (w *Workspace) run(j *job, batch int) {
	st := w.st
	p := w.parallelism()
	macs := j.m * j.n * max(j.k, 1)
	if p > 1 && macs*batch < serialMACs {
		p = 1
	}
	j.batch = batch
	j.kern = st.pick(j.n)
	tilesM := (j.m + j.kern.mr - 1) / j.kern.mr
	tilesN := (j.n + j.kern.nr - 1) / j.kern.nr
	switch {
	case j.isGemv():
		j.parts = 1
		for e := 0; e < batch; e++ {
			st.workers0().gemv(j, e)
		}
		return
	case p == 1:
		j.parts = 1
	case batch >= p || (batch > 1 && macs < serialMACs):
		j.batchSplit = true
		j.parts = min(p, batch)
	case tilesM >= tilesN || tilesM >= 8*p:
		j.parts = min(p, tilesM)
		if j.parts > 1 && j.k > 0 && j.alpha != 0 {
			w.runShared(j)
			return
		}
	default:
		j.splitN = true
		j.parts = min(p, tilesN)
	}
	st.parallel(j, j.parts)
}

// runShared runs a row-split job: per batch entry, all workers pack op(B) into
// one shared buffer, then take chunks of rows dynamically, so that a worker
// delayed by other load on the machine does not hold up the others.
func (w *Workspace) runShared(j *job) {
	st := w.st
	mr, nr := j.kern.mr, j.kern.nr
	need := roundUp(j.n, nr) / nr * j.kern.bStride * j.k
	if len(st.packedB) < need {
		st.packedB = make([]float32, need)
	}
	j.shared = true
	j.packedB = st.packedB
	j.next = &st.next
	tilesM := (j.m + mr - 1) / mr
	j.nChunks = min(tilesM, 8*j.parts)
	for e := 0; e < j.batch; e++ {
		j.e = e
		if e == 0 || j.sb != 0 { // a shared B (stride 0) is packed once
			j.packing = true
			st.parallel(j, min(j.parts, (j.n+nr-1)/nr))
			j.packing = false
		}
		st.next.Store(0)
		st.parallel(j, j.parts)
	}
}

// workers0 returns the first worker, creating it if needed.
func (st *state) workers0() *worker {
	if len(st.workers) == 0 {
		st.workers = append(st.workers, &worker{kern: &st.kern})
	}
	return st.workers[0]
}

// runner is work split into parts, each run by one worker.
type runner interface {
	runPart(wk *worker, part int)
}

// parallel runs parts 0..parts-1 of r, part 0 on the calling goroutine and the
// others on helper goroutines (Options.RunParts' when given), and returns when
// all are done.
func (st *state) parallel(r runner, parts int) {
	for len(st.workers) < parts {
		st.workers = append(st.workers, &worker{kern: &st.kern})
	}
	if parts == 1 {
		r.runPart(st.workers[0], 0)
		return
	}
	if st.runParts != nil {
		st.runParts(parts, func(i int) { r.runPart(st.workers[i], i) })
		return
	}
	st.pool.ensure(parts - 1)
	for i := 1; i < parts; i++ {
		st.pool.tasks[i-1] <- task{r: r, wk: st.workers[i], part: i}
	}
	r.runPart(st.workers[0], 0)
	for i := 1; i < parts; i++ {
		<-st.pool.done
	}
}

// split returns the half-open range of units [lo, hi) of part out of parts.
func split(units, parts, part int) (lo, hi int) {
	return units * part / parts, units * (part + 1) / parts
}

// sharedBlock returns the packed block (jc, pc) of the shared op(B) buffer:
// column blocks of ncMax (the last one narrower), each holding its k blocks.
func (j *job) sharedBlock(k *kernel, jc, pc, kc int) []float32 {
	// Values per column of a packed block: bStride per nr columns and k step.
	ncPad := roundUp(min(ncMax, j.n-jc), k.nr) / k.nr * k.bStride
	off := jc/k.nr*k.bStride*j.k + pc*ncPad
	return j.packedB[off : off+ncPad*kc]
}

// runPart runs part of job j on worker wk.
func (j *job) runPart(wk *worker, part int) {
	mr, nr := j.kern.mr, j.kern.nr
	switch {
	case j.batchSplit:
		lo, hi := split(j.batch, j.parts, part)
		for e := lo; e < hi; e++ {
			wk.gemm(j, e, 0, j.m, 0, j.n)
		}
		return
	case j.shared && j.packing:
		// Pack strips [lo, hi) of op(B) for every k block.
		strips := (j.n + nr - 1) / nr
		lo, hi := split(strips, min(j.parts, strips), part)
		b := j.b[j.e*j.sb:]
		kcb := j.kBlock(j.kern)
		for t := lo; t < hi; t++ {
			col := t * nr
			jc := col / ncMax * ncMax
			for pc := 0; pc < j.k; pc += kcb {
				kc := min(kcb, j.k-pc)
				blk := j.sharedBlock(j.kern, jc, pc, kc)
				j.kern.packB(blk[(col-jc)/nr*j.kern.bStride*kc:], b, j.ldb, j.tB, pc, kc, col, min(nr, j.n-col))
			}
		}
		return
	case j.shared:
		tilesM := (j.m + mr - 1) / mr
		for {
			ch := int(j.next.Add(1)) - 1
			if ch >= j.nChunks {
				return
			}
			lo, hi := split(tilesM, j.nChunks, ch)
			wk.gemm(j, j.e, lo*mr, min(hi*mr, j.m), 0, j.n)
		}
	}
	i0, i1, j0, j1 := 0, j.m, 0, j.n
	if j.parts > 1 {
		if j.splitN {
			lo, hi := split((j.n+nr-1)/nr, j.parts, part)
			j0, j1 = lo*nr, min(hi*nr, j.n)
		} else {
			lo, hi := split((j.m+mr-1)/mr, j.parts, part)
			i0, i1 = lo*mr, min(hi*mr, j.m)
		}
	}
	for e := 0; e < j.batch; e++ {
		wk.gemm(j, e, i0, i1, j0, j1)
	}
}

// gemm computes rows [i0, i1) and columns [j0, j1) of batch entry e of j.
func (wk *worker) gemm(j *job, e, i0, i1, j0, j1 int) {
	if i0 >= i1 || j0 >= j1 {
		return
	}
	a := j.a[e*j.sa:]
	b := j.b[e*j.sb:]
	c := j.c[e*j.sc:]
	ldc := j.ldc
	if j.k == 0 || j.alpha == 0 {
		scaleC(c, ldc, i0, i1, j0, j1, j.beta)
		return
	}
	kern := j.kern
	mr, nr, bs := kern.mr, kern.nr, kern.bStride
	kcb := j.kBlock(kern)
	if need := kcb * kern.aStride; len(wk.packA) < need {
		wk.packA = make([]float32, need)
	}
	if need := kcb * min(ncMax, roundUp(j1-j0, nr)) / nr * bs; !j.shared && len(wk.packB) < need {
		wk.packB = make([]float32, need)
	}
	for jc := j0; jc < j1; jc += ncMax {
		nc := min(ncMax, j1-jc)
		for pc := 0; pc < j.k; pc += kcb {
			kc := min(kcb, j.k-pc)
			beta := j.beta
			if pc > 0 {
				beta = 1
			}
			var pb []float32
			if j.shared {
				pb = j.sharedBlock(kern, jc, pc, kc)
			} else {
				kern.packB(wk.packB, b, j.ldb, j.tB, pc, kc, jc, nc)
				pb = wk.packB
			}
			for ic := i0; ic < i1; ic += mr {
				rows := min(mr, i1-ic)
				kern.packA(wk.packA, a, j.lda, j.tA, ic, rows, pc, kc, j.alpha)
				pa := wk.packA[:kc*kern.aStride]
				for s := 0; s < nc; s += nr {
					cols := min(nr, nc-s)
					off := ic*ldc + jc + s
					kern.micro(kc, pa, pb[s/nr*bs*kc:(s/nr+1)*bs*kc], c[off:], ldc, rows, cols, beta)
				}
			}
		}
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

func roundUp(x, q int) int { return (x + q - 1) / q * q }

// scaleC sets C[i0:i1, j0:j1] = beta·C (0 when beta is 0).
func scaleC(c []float32, ldc, i0, i1, j0, j1 int, beta float32) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for x := range row {
				row[x] *= beta
			}
		}
	}
}

// packB packs depth [p0, p0+kc) and columns [j0, j0+nc) of op(B) into dst as
// consecutive strips of nr columns; strip s holds kc rows of nr values, with
// columns past nc set to zero.
func packB(dst []float32, b []float32, ldb int, tB Transpose, p0, kc, j0, nc int) {
	packBN(dst, b, ldb, tB, p0, kc, j0, nc, nr)
}

// packBN is packB for strips of nr columns.
func packBN(dst []float32, b []float32, ldb int, tB Transpose, p0, kc, j0, nc, nr int) {
	for s := 0; s < nc; s += nr {
		cols := min(nr, nc-s)
		d := dst[s*kc : s*kc+kc*nr]
		if !tB {
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+s:]
				row := d[p*nr : p*nr+nr]
				copy(row, src[:cols])
				clear(row[cols:])
			}
			continue
		}
		if cols < nr {
			clear(d)
		}
		for cc := 0; cc < cols; cc++ {
			src := b[(j0+s+cc)*ldb+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*nr+cc] = v
			}
		}
	}
}

// pool is a set of helper goroutines, each fed through its own channel.
type pool struct {
	mu      sync.Mutex
	tasks   []chan task
	done    chan struct{}
	stopped bool
}

// task is one part of a job for a helper goroutine.
type task struct {
	r    runner
	wk   *worker
	part int
}

// ensure starts helpers until there are at least n.
func (p *pool) ensure(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = make(chan struct{}, 64)
	}
	for len(p.tasks) < n {
		ch := make(chan task)
		p.tasks = append(p.tasks, ch)
		go helper(ch, p.done)
	}
}

func helper(tasks <-chan task, done chan<- struct{}) {
	for t := range tasks {
		t.r.runPart(t.wk, t.part)
		done <- struct{}{}
	}
}

// stop ends all helpers; it is safe to call more than once.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	for _, ch := range p.tasks {
		close(ch)
	}
	p.tasks = nil
}
