package kernels

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ConvShape describes a 2-D convolution on NHWC tensors (no groups): input
// x[Batch, H, W, Cin], kernel k[KH, KW, Cin, Cout] and output
// y[Batch, HOut, WOut, Cout] with
//
//	y[b, i, j, o] = Σ_{kh, kw, c} xd[b, i·StrideH − PadTop + kh·DilationH, j·StrideW − PadLeft + kw·DilationW, c] · k[kh, kw, c, o]
//
// where xd is x dilated by InputDilationH/W (InputDilation−1 zeros inserted
// between neighbouring pixels, as in XLA's lhs_dilation) and is zero outside
// its bounds. All tensors are dense row-major slices. Zero values of the
// stride and dilation fields mean 1.
type ConvShape struct {
	// Batch, H, W and Cin are the input's dimensions.
	Batch, H, W, Cin int
	// KH, KW are the kernel's spatial size and Cout its number of output channels.
	KH, KW, Cout int
	// StrideH and StrideW are the window strides.
	StrideH, StrideW int
	// PadTop, PadBottom, PadLeft and PadRight are the zero padding added on each
	// side of the (dilated) input; they must not be negative.
	PadTop, PadBottom, PadLeft, PadRight int
	// DilationH and DilationW space the kernel taps (XLA's rhs_dilation).
	DilationH, DilationW int
	// InputDilationH and InputDilationW dilate the input (XLA's lhs_dilation);
	// a transposed convolution is a convolution with input dilation.
	InputDilationH, InputDilationW int
}

// convAxis is one spatial axis of a convolution.
type convAxis struct {
	in, k, out         int
	stride, dil, inDil int
	padLo              int
}

func (s ConvShape) axes() (h, w convAxis) {
	h = convAxis{in: s.H, k: s.KH, stride: max(s.StrideH, 1), dil: max(s.DilationH, 1),
		inDil: max(s.InputDilationH, 1), padLo: s.PadTop}
	w = convAxis{in: s.W, k: s.KW, stride: max(s.StrideW, 1), dil: max(s.DilationW, 1),
		inDil: max(s.InputDilationW, 1), padLo: s.PadLeft}
	h.out = (h.dilatedIn()+s.PadTop+s.PadBottom-h.span())/h.stride + 1
	w.out = (w.dilatedIn()+s.PadLeft+s.PadRight-w.span())/w.stride + 1
	return h, w
}

func (a convAxis) dilatedIn() int { return (a.in-1)*a.inDil + 1 }
func (a convAxis) span() int      { return (a.k-1)*a.dil + 1 }

// plain reports whether neither the kernel nor the input is dilated, so that
// consecutive kernel taps read consecutive input pixels.
func (a convAxis) plain() bool { return a.dil == 1 && a.inDil == 1 }

// src returns the input index that output o reads at kernel tap t, and false
// when that is padding or a dilation hole.
func (a convAxis) src(o, t int) (int, bool) {
	d := o*a.stride - a.padLo + t*a.dil
	if d < 0 || d >= a.dilatedIn() || d%a.inDil != 0 {
		return 0, false
	}
	return d / a.inDil, true
}

// OutSize returns the output's spatial size, HOut and WOut.
func (s ConvShape) OutSize() (hOut, wOut int) {
	h, w := s.axes()
	return h.out, w.out
}

// Sizes returns the number of elements of x, k and y.
func (s ConvShape) Sizes() (nx, nk, ny int) {
	ho, wo := s.OutSize()
	return s.Batch * s.H * s.W * s.Cin, s.KH * s.KW * s.Cin * s.Cout, s.Batch * ho * wo * s.Cout
}

func (s ConvShape) check(nx, nk, ny int) error {
	if s.Batch < 1 || s.H < 1 || s.W < 1 || s.Cin < 1 || s.KH < 1 || s.KW < 1 || s.Cout < 1 ||
		s.StrideH < 0 || s.StrideW < 0 || s.PadTop < 0 || s.PadBottom < 0 || s.PadLeft < 0 || s.PadRight < 0 ||
		s.DilationH < 0 || s.DilationW < 0 || s.InputDilationH < 0 || s.InputDilationW < 0 {
		return fmt.Errorf("gemm: invalid convolution shape %+v", s)
	}
	h, w := s.axes()
	if h.dilatedIn()+s.PadTop+s.PadBottom < h.span() || w.dilatedIn()+s.PadLeft+s.PadRight < w.span() {
		return fmt.Errorf("gemm: kernel larger than padded input in %+v", s)
	}
	wx, wk, wy := s.Sizes()
	if nx < wx || nk < wk || ny < wy {
		return fmt.Errorf("gemm: convolution slices too short: x %d/%d, k %d/%d, y %d/%d", nx, wx, nk, wk, ny, wy)
	}
	return nil
}

// colsBudget is the number of float32 values an im2col chunk may hold.
const colsBudget = 1 << 20

// dcolsBudget bounds the patch gradients Conv2DInputGrad computes per group of
// images (at least one image), so that they are still in cache for the gather
// (16 MB groups ran at half the speed of 4 MB ones).
const dcolsBudget = 1 << 20

// convJob is one convolution call split over workers by output rows
// (r = (b·HOut + i)·WOut + j).
type convJob struct {
	s          ConvShape
	ah, aw     convAxis
	ho, wo     int
	kdim       int // KH·KW·Cin
	rows       int // Batch·HOut·WOut
	parts      int
	x, k, y    []float32
	kernelGrad bool
	slots      int           // kernel gradient: partial sums, each kdim·Cout values of acc
	acc        []float32     // kernel gradient: the partial sums (transposed, Cout×kdim)
	kern       *kernel       // kernel of the per-chunk GEMMs
	chunk      int           // output rows per im2col chunk
	next       *atomic.Int64 // next chunk to take
}

// Conv2D computes y = conv(x, k) for the shape s (see ConvShape), overwriting y.
// y must not overlap x or k (the same holds for the gradient helpers' outputs).
func (w *Workspace) Conv2D(s ConvShape, x, k, y []float32) error {
	if err := w.checkConv(s, len(x), len(k), len(y)); err != nil {
		return err
	}
	if w.st.directOK(s) {
		w.conv2DDirect(s, x, k, y)
		return nil
	}
	cj := w.convJob(s, x, k, y)
	w.st.parallel(cj, cj.parts)
	return nil
}

// Conv2DKernelGrad computes the gradient of a loss with respect to the kernel of
// the convolution s, dk[kh, kw, c, o] = Σ_{b, i, j} xd[b, i·sh−pt+kh·dh,
// j·sw−pl+kw·dw, c] · dy[b, i, j, o] (xd as in ConvShape), given the input x and
// the output gradient dy; it overwrites dk.
func (w *Workspace) Conv2DKernelGrad(s ConvShape, x, dy, dk []float32) error {
	if err := w.checkConv(s, len(x), len(dk), len(dy)); err != nil {
		return err
	}
	if w.st.directOK(s) {
		w.conv2DKernelGradDirect(s, x, dy, dk)
		return nil
	}
	cj := w.convJob(s, x, dk, dy)
	cj.kernelGrad = true
	cj.kern = w.st.pick(cj.kdim)
	// Fixed chunks, summed into kgradSlots partial gradients whatever the
	// number of workers (see runPart).
	cj.chunk = max(16, min(1024, colsBudget/cj.kdim, roundUp((cj.rows+kgradSlots-1)/kgradSlots, 8)))
	cj.slots = min(kgradSlots, (cj.rows+cj.chunk-1)/cj.chunk)
	cj.parts = max(1, min(cj.parts, cj.slots))
	n := cj.kdim * s.Cout
	if need := cj.slots * n; len(w.st.kacc) < need {
		w.st.kacc = make([]float32, need)
	}
	cj.acc = w.st.kacc[:cj.slots*n]
	w.st.parallel(cj, cj.parts)
	// Sum the slots' partial gradients (each Cout×kdim), in slot order, into dk (kdim×Cout).
	dk = dk[:n]
	for p := 0; p < cj.slots; p++ {
		src := cj.acc[p*n : (p+1)*n]
		for o := 0; o < s.Cout; o++ {
			row := src[o*cj.kdim : (o+1)*cj.kdim]
			if p == 0 {
				for i, v := range row {
					dk[i*s.Cout+o] = v
				}
			} else {
				for i, v := range row {
					dk[i*s.Cout+o] += v
				}
			}
		}
	}
	return nil
}

// kgradSlots is the number of partial sums the im2col kernel gradient adds
// up: fixed, so that the result does not depend on the number of workers
// (it is also the most workers that form can use).
const kgradSlots = 8

// checkConv verifies the Workspace and the convolution s with slices of nx,
// nk and ny values for its input, kernel and output.
func (w *Workspace) checkConv(s ConvShape, nx, nk, ny int) error {
	if w == nil || w.st == nil {
		return errors.New("gemm: nil or uninitialised Workspace (use NewWorkspace)")
	}
	if w.st.closed {
		return ErrClosed
	}
	return s.check(nx, nk, ny)
}

// convJob sets up the im2col job of s in the Workspace (arguments already checked).
func (w *Workspace) convJob(s ConvShape, x, k, y []float32) *convJob {
	cj := &w.st.conv
	ho, wo := s.OutSize()
	ah, aw := s.axes()
	*cj = convJob{s: s, ah: ah, aw: aw, ho: ho, wo: wo, kdim: s.KH * s.KW * s.Cin, rows: s.Batch * ho * wo, x: x, k: k, y: y}
	p := w.parallelism()
	if cj.rows*cj.kdim*s.Cout < serialMACs {
		p = 1
	}
	cj.parts = max(1, min(p, cj.rows/64))
	// Chunks of at most 1024 rows within the im2col budget, at least four per
	// part, taken dynamically by the workers.
	cj.chunk = max(16, min(1024, colsBudget/cj.kdim, roundUp((cj.rows+4*cj.parts-1)/(4*cj.parts), 8)))
	cj.next = &w.st.next
	cj.kern = w.st.pick(s.Cout) // forward: n = Cout; fixed up for the kernel gradient
	cj.next.Store(0)
	return cj
}

// parallelism is the number of goroutines a call may use.
func (w *Workspace) parallelism() int {
	if w.opts.Parallelism > 0 {
		return w.opts.Parallelism
	}
	return max(1, runtimeProcs())
}

// runPart computes chunks of output rows, taken from a shared counter: im2col
// of the chunk followed by a GEMM. The kernel gradient sums over chunks, so
// there the chunks are dealt to cj.slots partial sums instead, slot q
// adding chunks q, q+slots, ... in order, and part p computes slots p,
// p+parts, ...: which chunks a partial sum holds, and in what order, must
// depend neither on timing nor on the number of workers, or the result
// would change from run to run, or from machine to machine, in its last
// bits (and a resumed training run would not match an uninterrupted one).
func (cj *convJob) runPart(wk *worker, part int) {
	mc := cj.chunk
	if need := mc * cj.kdim; len(wk.cols) < need {
		wk.cols = make([]float32, need)
	}
	if cj.kernelGrad {
		n := cj.kdim * cj.s.Cout
		for slot := part; slot < cj.slots; slot += cj.parts {
			acc := cj.acc[slot*n : (slot+1)*n]
			clear(acc)
			for c := slot; c*mc < cj.rows; c += cj.slots {
				cj.chunkRows(wk, c, acc)
			}
		}
		return
	}
	for {
		c := int(cj.next.Add(1) - 1)
		if c*mc >= cj.rows {
			return
		}
		cj.chunkRows(wk, c, nil)
	}
}

// chunkRows computes chunk c of the output rows: the forward convolution's
// rows of y, or (kernel gradient) their contribution added to acc.
func (cj *convJob) chunkRows(wk *worker, c int, acc []float32) {
	s := cj.s
	r0 := c * cj.chunk
	n := min(cj.chunk, cj.rows-r0)
	cols := wk.cols[:n*cj.kdim]
	cj.im2col(cols, r0, n)
	var j job
	if cj.kernelGrad {
		// accᵀ (Cout×kdim) += dy rowsᵀ (Cout×n) · cols (n×kdim): computed
		// transposed so that the big operand, cols, is packed as B (a
		// plain copy) and the small one, dy, as A.
		j = job{tA: Trans, m: s.Cout, n: cj.kdim, k: n, alpha: 1, beta: 1,
			a: cj.y[r0*s.Cout:], lda: s.Cout, b: cols, ldb: cj.kdim, c: acc, ldc: cj.kdim}
	} else {
		// y rows (n×Cout) = cols (n×kdim) · k (kdim×Cout)
		j = job{m: n, n: s.Cout, k: cj.kdim, alpha: 1, beta: 0,
			a: cols, lda: cj.kdim, b: cj.k, ldb: s.Cout, c: cj.y[r0*s.Cout:], ldc: s.Cout}
	}
	j.kern = cj.kern
	wk.gemm(&j, 0, 0, j.m, 0, j.n)
}

// im2col writes output rows [r0, r0+n) of the patch matrix into cols (n×kdim):
// row r holds the KH×KW×Cin input patch of output pixel r, zeros where padded.
func (cj *convJob) im2col(cols []float32, r0, n int) {
	s := cj.s
	rowLen := s.KW * s.Cin
	for r := r0; r < r0+n; r++ {
		b := r / (cj.ho * cj.wo)
		i := r / cj.wo % cj.ho
		j := r % cj.wo
		dst := cols[(r-r0)*cj.kdim : (r-r0+1)*cj.kdim]
		for kh := 0; kh < s.KH; kh++ {
			d := dst[kh*rowLen : (kh+1)*rowLen]
			h, ok := cj.ah.src(i, kh)
			if !ok {
				clear(d)
				continue
			}
			if cj.aw.plain() {
				// Taps kw0..kw1-1 read consecutive pixels: one copy.
				w0 := j*cj.aw.stride - s.PadLeft
				kw0, kw1 := max(0, -w0), max(0, min(s.KW, s.W-w0))
				if kw0 >= kw1 {
					clear(d)
					continue
				}
				clear(d[:kw0*s.Cin])
				src := s.x(cj.x, b, h, w0+kw0)
				copy(d[kw0*s.Cin:kw1*s.Cin], src[:(kw1-kw0)*s.Cin])
				clear(d[kw1*s.Cin:])
				continue
			}
			for kw := 0; kw < s.KW; kw++ {
				dd := d[kw*s.Cin : (kw+1)*s.Cin]
				if w, ok := cj.aw.src(j, kw); ok {
					copy(dd, s.x(cj.x, b, h, w))
				} else {
					clear(dd)
				}
			}
		}
	}
}

// x returns the input from pixel (b, h, w) on.
func (s ConvShape) x(x []float32, b, h, w int) []float32 {
	return x[((b*s.H+h)*s.W+w)*s.Cin:]
}

// Conv2DInputGrad computes the gradient of a loss with respect to the input of
// the convolution s, dx[b, h, w, c] = Σ dy[b, i, j, o] · k[kh, kw, c, o] over the
// (i, j, kh, kw, o) whose tap reads input pixel (h, w) (see ConvShape), given the
// output gradient dy and the kernel k; it overwrites dx. It runs as a GEMM (dy·kᵀ, per group of images)
// followed by a gather into dx split over input rows.
func (w *Workspace) Conv2DInputGrad(s ConvShape, dy, k, dx []float32) error {
	if err := w.checkConv(s, len(dx), len(k), len(dy)); err != nil {
		return err
	}
	if w.st.directOK(s) && w.conv2DInputGradDirect(s, dy, k, dx) {
		return nil
	}
	ho, wo := s.OutSize()
	kdim := s.KH * s.KW * s.Cin
	perImage := ho * wo * kdim
	group := max(1, min(s.Batch, dcolsBudget/perImage))
	st := w.st
	if need := group * perImage; len(st.dcols) < need {
		st.dcols = make([]float32, need)
	}
	for b0 := 0; b0 < s.Batch; b0 += group {
		nb := min(group, s.Batch-b0)
		rows := nb * ho * wo
		// dcols (rows×kdim) = dy rows (rows×Cout) · kᵀ (Cout×kdim)
		if err := w.Sgemm(NoTrans, Trans, rows, kdim, s.Cout, 1, dy[b0*ho*wo*s.Cout:], s.Cout,
			k, s.Cout, 0, st.dcols, kdim); err != nil {
			return err
		}
		g := &st.gather
		*g = gatherJob{s: s, ho: ho, wo: wo, kdim: kdim, b0: b0, nb: nb, dcols: st.dcols, dx: dx}
		p := w.parallelism()
		if rows*kdim < serialMACs/8 {
			p = 1
		}
		g.parts = max(1, min(p, nb*s.H))
		st.parallel(g, g.parts)
	}
	return nil
}

// gatherJob is the col2im step of Conv2DInputGrad for images [b0, b0+nb),
// split over input rows (b, h).
type gatherJob struct {
	s         ConvShape
	ho, wo    int
	kdim      int
	b0, nb    int
	parts     int
	dcols, dx []float32
}

func (g *gatherJob) runPart(wk *worker, part int) {
	s := g.s
	ah, aw := s.axes()
	lo, hi := split(g.nb*s.H, g.parts, part)
	add := wk.kern.add
	for bh := lo; bh < hi; bh++ {
		bl, h := bh/s.H, bh%s.H
		out := s.x(g.dx, g.b0+bl, h, 0)[:s.W*s.Cin]
		clear(out)
		for kh := 0; kh < s.KH; kh++ {
			// Output row i reads input row h at tap kh when
			// i·stride − pad + kh·dil = h·inDil.
			t := h*ah.inDil + s.PadTop - kh*ah.dil
			if t < 0 || t%ah.stride != 0 || t/ah.stride >= g.ho {
				continue
			}
			rowBase := (bl*g.ho + t/ah.stride) * g.wo
			for j := 0; j < g.wo; j++ {
				src := g.dcols[(rowBase+j)*g.kdim+kh*s.KW*s.Cin:]
				if aw.plain() {
					// Output pixel j's taps cover input columns w0 .. w0+KW-1,
					// contiguously in both dcols and dx.
					w0 := j*aw.stride - s.PadLeft
					kw0, kw1 := max(0, -w0), min(s.KW, s.W-w0)
					if kw0 >= kw1 {
						continue
					}
					n := (kw1 - kw0) * s.Cin
					add(out[(w0+kw0)*s.Cin:(w0+kw0)*s.Cin+n], src[kw0*s.Cin:kw0*s.Cin+n])
					continue
				}
				for kw := 0; kw < s.KW; kw++ {
					if w, ok := aw.src(j, kw); ok {
						add(out[w*s.Cin:(w+1)*s.Cin], src[kw*s.Cin:(kw+1)*s.Cin])
					}
				}
			}
		}
	}
}
