package kernels

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Direct convolutions (stride 1, no dilation) on AVX-512 or AVX2 machines.
//
// The im2col route (conv.go) copies every input patch into a matrix and then
// packs that matrix again for the GEMM micro-kernel; for the U-Net's layers,
// whose products have only 32-128 columns, those copies cost as much as the
// multiply-adds. The direct route copies nothing per tile. It runs tiles of
// R×C outputs written in assembly (direct_amd64.s: 8×32 with AVX-512, 6×16
// with AVX2), each keeping its accumulators in registers:
//
//   - Forward: the input is zero-padded once (padded[b][h][w][c], so that no
//     tile needs a bounds check). A tile is R neighbouring output pixels of
//     one row × C output channels. For each kernel tap and input channel it
//     broadcasts the R pixels' input values straight from the padded input
//     (consecutive pixels are Cin floats apart) and multiplies them with one
//     row of the kernel, read in place ([tap][cin][cout]) or, when Cout is
//     not a multiple of C, packed as strips of C output channels
//     ([strip][tap][cin][C], zero past Cout).
//   - Input gradient: the same forward tiles run on the padded output
//     gradient with the kernel flipped in space and its channel axes swapped
//     (dx = dy ⊛ K', K'[kh][kw][o][c] = K[KH−1−kh][KW−1−kw][c][o]).
//   - Kernel gradient: a tile is R input channels × C output channels of one
//     tap (or the transpose, for few output channels), summed over every
//     output pixel whose input pixel is inside the image: R broadcasts of
//     consecutive input channels and one row of the output gradient per
//     pixel, reading the input in place. Tiles are independent, so workers
//     take them from a counter with no partial sums to add; images are
//     visited in groups small enough to stay in the L2 cache, each tile
//     adding its groups in order, so the result does not depend on which
//     worker ran what.

// maxTile is the largest tile, in float32 values, of any directKernel.
const maxTile = 8 * 32

// kgradGroupBytes bounds the input and output gradient of the images whose
// kernel-gradient contributions are summed together.
const kgradGroupBytes = 1 << 20

// directKernel is one instruction set's pair of direct-convolution tiles:
// rows pixels (forward) or channels (kernel gradient) × cols output channels.
type directKernel struct {
	name       string
	avx512     bool // the 8×32 AVX-512 tiles; otherwise the 6×16 AVX2 ones
	rows, cols int
}

var (
	directAVX512 = directKernel{name: "avx512", avx512: true, rows: 8, cols: 32}
	directAVX2   = directKernel{name: "avx2-fma", rows: 6, cols: 16}
)

// pickDirect returns the direct-convolution tiles for a Workspace whose GEMM
// kernel was requested as kernel ("" for automatic), or nil when there are none.
func pickDirect(opts Options) *directKernel {
	if opts.NoDirectConv || opts.ForcePortable {
		return nil
	}
	switch {
	case hasDirectAVX512() && (opts.Kernel == "" || opts.Kernel == directAVX512.name):
		return &directAVX512
	case hasDirectAVX2() && (opts.Kernel == "" || opts.Kernel == directAVX2.name):
		return &directAVX2
	}
	return nil
}

// conv runs the forward tile (see convTile8x32 and convTile6x16).
func (d *directKernel) conv(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, k unsafe.Pointer, ks int, c unsafe.Pointer, ldc int) {
	if d.avx512 {
		convTile8x32(x, xs, taps, ntaps, cin, k, ks, c, ldc)
	} else {
		convTile6x16(x, xs, taps, ntaps, cin, k, ks, c, ldc)
	}
}

// dot4x4 runs the narrow forward form's dot products (see convDot4x4).
func (d *directKernel) dot4x4(x unsafe.Pointer, xs int, taps *int, ntaps, cin int, kt, out unsafe.Pointer, groups int) {
	if d.avx512 {
		convDot4x4(x, xs, taps, ntaps, cin, kt, out, groups)
	} else {
		convDot4x4AVX2(x, xs, taps, ntaps, cin, kt, out, groups)
	}
}

// kgrad runs the kernel-gradient tile (see kgradTile8x32 and kgradTile6x16).
func (d *directKernel) kgrad(a unsafe.Pointer, as, ars int, v unsafe.Pointer, vs, vrs, n, rows int, acc unsafe.Pointer, lda int) {
	if d.avx512 {
		kgradTile8x32(a, as, ars, v, vs, vrs, n, rows, acc, lda)
	} else {
		kgradTile6x16(a, as, ars, v, vs, vrs, n, rows, acc, lda)
	}
}

// directOK reports whether s can run as a direct convolution on this Workspace.
func (st *state) directOK(s ConvShape) bool {
	one := func(v int) bool { return v <= 1 }
	return st.dk != nil && one(s.StrideH) && one(s.StrideW) && one(s.DilationH) && one(s.DilationW) &&
		one(s.InputDilationH) && one(s.InputDilationW)
}

// directPads are the zero paddings of a direct convolution: top, bottom, left, right.
type directPads [4]int

// padded returns the padded input: in itself when no padding is needed and
// the tiles cannot read past its end (needSlack false), otherwise a copy in
// the Workspace's buffer with zero borders and zero slack after it.
func (w *Workspace) padded(in []float32, batch, h, wd, c int, p directPads, needSlack bool) (x []float32, hp, wp int) {
	st := w.st
	hp, wp = h+p[0]+p[1], wd+p[2]+p[3]
	if p == (directPads{}) && !needSlack {
		return in, hp, wp
	}
	n := batch * hp * wp * c
	need := n + st.dk.rows*c + 2*st.dk.cols
	if len(st.xpad) < need {
		st.xpad = make([]float32, need)
	}
	x = st.xpad[:need]
	clear(x[n:])
	pj := &st.pad
	*pj = padJob{src: in, dst: x, batch: batch, h: h, w: wd, c: c, pads: p, hp: hp, wp: wp}
	pj.parts = max(1, min(w.parallelism(), batch*hp/4, n/(1<<15)))
	st.parallel(pj, pj.parts)
	return x, hp, wp
}

// padJob copies an NHWC tensor into a zero-padded one, split over padded rows.
type padJob struct {
	src, dst       []float32
	batch, h, w, c int
	pads           directPads
	hp, wp         int
	parts          int
}

func (pj *padJob) runPart(_ *worker, part int) {
	lo, hi := split(pj.batch*pj.hp, pj.parts, part)
	rowLen := pj.wp * pj.c
	left, n := pj.pads[2]*pj.c, pj.w*pj.c
	for r := lo; r < hi; r++ {
		b, h := r/pj.hp, r%pj.hp-pj.pads[0]
		d := pj.dst[r*rowLen : (r+1)*rowLen]
		if h < 0 || h >= pj.h {
			clear(d)
			continue
		}
		clear(d[:left])
		copy(d[left:left+n], pj.src[(b*pj.h+h)*n:][:n])
		clear(d[left+n:])
	}
}

// packDirectKernel packs the kernel k[KH][KW][Cin][Cout] of s for the forward
// tiles into the Workspace's buffer and returns it: strips of C output
// channels (C the tile's columns), [strip][tap][cin][C], zero past the last
// channel. With flip, it packs K' of the input gradient instead (taps
// reversed, Cin and Cout swapped).
func (w *Workspace) packDirectKernel(s ConvShape, k []float32, flip bool) []float32 {
	return w.packKernel(&w.st.kpack, s, k, flip, w.st.dk.cols)
}

// packKernel is packDirectKernel with strips of tc columns, into *buf (grown
// as needed). Large kernels are packed in parallel.
func (w *Workspace) packKernel(buf *[]float32, s ConvShape, k []float32, flip bool, tc int) []float32 {
	taps := s.KH * s.KW
	cin, cout := s.Cin, s.Cout
	if flip {
		cin, cout = cout, cin
	}
	strips := (cout + tc - 1) / tc
	need := strips * taps * cin * tc
	if len(*buf) < need {
		*buf = make([]float32, need)
	}
	pj := &w.st.kpackJob
	*pj = packJob{s: s, k: k, kp: (*buf)[:need], flip: flip, taps: taps, cin: cin, cout: cout, tc: tc,
		units: strips * taps}
	pj.parts = max(1, min(w.parallelism(), pj.units, need/(1<<15)))
	w.st.parallel(pj, pj.parts)
	return pj.kp
}

// packJob is packDirectKernel split over (strip, tap) pairs.
type packJob struct {
	s                   ConvShape
	k, kp               []float32
	flip                bool
	taps, cin, cout, tc int
	units, parts        int
}

func (pj *packJob) runPart(_ *worker, part int) {
	lo, hi := split(pj.units, pj.parts, part)
	tc, cin, cout := pj.tc, pj.cin, pj.cout
	for u := lo; u < hi; u++ {
		sIdx, t := u/pj.taps, u%pj.taps
		o0 := sIdx * tc
		cols := min(tc, cout-o0)
		for ch := 0; ch < cin; ch++ {
			d := pj.kp[((sIdx*pj.taps+t)*cin+ch)*tc:][:tc]
			if !pj.flip {
				copy(d, pj.k[(t*cin+ch)*cout+o0:][:cols])
			} else {
				// K'[t][ch=o][col=c] = K[taps−1−t][c][o]
				src := pj.k[(pj.taps-1-t)*pj.s.Cin*pj.s.Cout+ch:]
				for col := 0; col < cols; col++ {
					d[col] = src[(o0+col)*pj.s.Cout]
				}
			}
			clear(d[cols:])
		}
	}
}

// directForward runs the forward tiles: y[b][i][j][o] = Σ x[b][i+kh][j+kw][c] ·
// K[kh][kw][c][o] over the padded input x [batch][hp][wp][c]; y is
// [batch][hp−KH+1][wp−KW+1][cout]. The kernel is either K itself (packed false;
// cout must then be a multiple of the tile's columns) or K packed by
// packDirectKernel.
func (w *Workspace) directForward(x []float32, batch, hp, wp, c, kh, kw int, kp []float32, packed bool, cout int, y []float32) {
	st := w.st
	taps := kh * kw
	w.setTaps(taps, kw, wp, c)
	dj := &st.dconv
	*dj = directJob{x: x, hp: hp, wp: wp, c: c, batch: batch, ho: hp - kh + 1, wo: wp - kw + 1,
		cout: cout, taps: st.taps, kp: kp, kStrip: st.dk.cols, ks: cout, y: y, dk: st.dk, next: &st.next}
	if packed {
		dj.kStrip, dj.ks = taps*c*st.dk.cols, st.dk.cols
	}
	dj.strips = (cout + st.dk.cols - 1) / st.dk.cols
	rows := batch * dj.ho
	p := w.parallelism()
	if rows*dj.wo*cout*taps*c < serialMACs {
		p = 1
	}
	dj.parts = max(1, min(p, rows))
	dj.chunk = max(1, rows/(8*dj.parts))
	st.next.Store(0)
	st.parallel(dj, dj.parts)
}

// setTaps sets the Workspace's tap offsets: the byte offset of each kernel tap
// (kernels kw wide) in a padded input wp pixels wide with c channels.
func (w *Workspace) setTaps(taps, kw, wp, c int) {
	st := w.st
	if cap(st.taps) < taps {
		st.taps = make([]int, taps)
	}
	st.taps = st.taps[:taps]
	for t := range st.taps {
		st.taps[t] = ((t/kw)*wp + t%kw) * c * 4
	}
}

// directJob is a forward direct convolution split over chunks of output rows.
type directJob struct {
	x                   []float32
	hp, wp, c           int
	batch, ho, wo, cout int
	taps                []int
	kp                  []float32 // kernel rows (tap, c): strip s at kp[s·kStrip + row·ks:][:cols]
	kStrip, ks          int
	y                   []float32
	dk                  *directKernel
	strips              int
	chunk               int // output rows per chunk
	next                *atomic.Int64
	parts               int
}

func (dj *directJob) runPart(_ *worker, _ int) {
	var tile [maxTile]float32
	tr, tc := dj.dk.rows, dj.dk.cols
	ntaps := len(dj.taps)
	rows := dj.batch * dj.ho
	for {
		r0 := (int(dj.next.Add(1)) - 1) * dj.chunk
		if r0 >= rows {
			return
		}
		for r := r0; r < min(r0+dj.chunk, rows); r++ {
			b, i := r/dj.ho, r%dj.ho
			xRow := (b*dj.hp + i) * dj.wp * dj.c
			yRow := r * dj.wo * dj.cout
			for s := 0; s < dj.strips; s++ {
				kp := unsafe.Pointer(&dj.kp[s*dj.kStrip])
				cols := min(tc, dj.cout-s*tc)
				for j0 := 0; j0 < dj.wo; j0 += tr {
					xp := unsafe.Pointer(&dj.x[xRow+j0*dj.c])
					n := min(tr, dj.wo-j0)
					yo := yRow + j0*dj.cout + s*tc
					if n == tr && cols == tc {
						dj.dk.conv(xp, dj.c*4, &dj.taps[0], ntaps, dj.c, kp, dj.ks*4, unsafe.Pointer(&dj.y[yo]), dj.cout*4)
						continue
					}
					dj.dk.conv(xp, dj.c*4, &dj.taps[0], ntaps, dj.c, kp, dj.ks*4, unsafe.Pointer(&tile[0]), tc*4)
					for rr := 0; rr < n; rr++ {
						copy(dj.y[yo+rr*dj.cout:][:cols], tile[rr*tc:])
					}
				}
			}
		}
	}
}

// conv2DDirect is Conv2D as a direct convolution (s passed directOK).
func (w *Workspace) conv2DDirect(s ConvShape, x, k, y []float32) {
	p := directPads{s.PadTop, s.PadBottom, s.PadLeft, s.PadRight}
	ho, wo := s.OutSize()
	if w.st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout) {
		u, coutP := w.winoKernel(k, s.Cin, s.Cout, false)
		w.winogradForward(x, s.Batch, s.H, s.W, s.Cin, p, u, coutP, s.Cout, y)
		return
	}
	narrow := s.Cout <= narrowCout && s.Cin%16 == 0
	// Slack after the input when tiles (or the narrow form's groups of 4
	// pixels) reach past the last output pixel of a row.
	xp, hp, wp := w.padded(x, s.Batch, s.H, s.W, s.Cin, p, wo%w.st.dk.rows != 0 || narrow && wo%4 != 0)
	if narrow {
		w.narrowForward(xp, s.Batch, hp, wp, s, k, y)
		return
	}
	if s.Cout%w.st.dk.cols == 0 {
		w.directForward(xp, s.Batch, hp, wp, s.Cin, s.KH, s.KW, k, false, s.Cout, y)
		return
	}
	w.directForward(xp, s.Batch, hp, wp, s.Cin, s.KH, s.KW, w.packDirectKernel(s, k, false), true, s.Cout, y)
}

// narrowCout is the largest number of output channels narrowForward handles.
const narrowCout = 4

// narrowForward is the forward convolution for at most 4 output channels (an
// RGB head) with Cin a multiple of 16: the regular tiles would spend most of
// their 32 (AVX-512) or 16 (AVX2) columns on nothing, so convDot4x4 (or
// convDot4x4AVX2) vectorises over the input channels instead, 4 pixels × 4
// outputs at a time. x is the padded
// input [batch][hp][wp][Cin] with slack.
func (w *Workspace) narrowForward(x []float32, batch, hp, wp int, s ConvShape, k, y []float32) {
	st := w.st
	taps := s.KH * s.KW
	need := taps * narrowCout * s.Cin
	if len(st.kpack) < need {
		st.kpack = make([]float32, need)
	}
	kt := st.kpack[:need]
	for t := 0; t < taps; t++ {
		for o := 0; o < narrowCout; o++ {
			row := kt[(t*narrowCout+o)*s.Cin:][:s.Cin]
			if o >= s.Cout {
				clear(row)
				continue
			}
			for ch := range row {
				row[ch] = k[(t*s.Cin+ch)*s.Cout+o]
			}
		}
	}
	w.setTaps(taps, s.KW, wp, s.Cin)
	nj := &st.narrowConv
	*nj = narrowJob{x: x, hp: hp, wp: wp, c: s.Cin, ho: hp - s.KH + 1, wo: wp - s.KW + 1, cout: s.Cout,
		taps: st.taps, kt: kt, y: y, next: &st.next, dk: st.dk}
	rows := batch * nj.ho
	p := w.parallelism()
	if rows*nj.wo*narrowCout*taps*s.Cin < serialMACs {
		p = 1
	}
	nj.parts = max(1, min(p, rows))
	nj.chunk = max(1, rows/(8*nj.parts))
	nj.rows = rows
	st.next.Store(0)
	st.parallel(nj, nj.parts)
}

// narrowJob is narrowForward split over chunks of output rows.
type narrowJob struct {
	x            []float32
	hp, wp, c    int
	ho, wo, cout int
	taps         []int
	kt, y        []float32
	rows, chunk  int
	next         *atomic.Int64
	parts        int
	dk           *directKernel
}

func (nj *narrowJob) runPart(wk *worker, _ int) {
	groups := (nj.wo + 3) / 4
	if len(wk.cols) < groups*16 {
		wk.cols = make([]float32, groups*16)
	}
	out := wk.cols[:groups*16]
	for {
		r0 := (int(nj.next.Add(1)) - 1) * nj.chunk
		if r0 >= nj.rows {
			return
		}
		for r := r0; r < min(r0+nj.chunk, nj.rows); r++ {
			b, i := r/nj.ho, r%nj.ho
			xp := unsafe.Pointer(&nj.x[(b*nj.hp+i)*nj.wp*nj.c])
			nj.dk.dot4x4(xp, nj.c*4, &nj.taps[0], len(nj.taps), nj.c, unsafe.Pointer(&nj.kt[0]),
				unsafe.Pointer(&out[0]), groups)
			yRow := nj.y[r*nj.wo*nj.cout:][:nj.wo*nj.cout]
			for j := 0; j < nj.wo; j++ {
				copy(yRow[j*nj.cout:(j+1)*nj.cout], out[4*j:])
			}
		}
	}
}

// conv2DInputGradDirect is Conv2DInputGrad as a direct convolution of dy with
// the flipped kernel; it reports false (doing nothing) when a padding of s is
// larger than the kernel, which that form cannot express.
func (w *Workspace) conv2DInputGradDirect(s ConvShape, dy, k, dx []float32) bool {
	p := directPads{s.KH - 1 - s.PadTop, s.KH - 1 - s.PadBottom, s.KW - 1 - s.PadLeft, s.KW - 1 - s.PadRight}
	for _, v := range p {
		if v < 0 {
			return false
		}
	}
	ho, wo := s.OutSize()
	if w.st.winogradOK(s.KH, s.KW, s.H, s.W, s.Cout, s.Cin) {
		u, cinP := w.winoKernel(k, s.Cout, s.Cin, true)
		w.winogradForward(dy, s.Batch, ho, wo, s.Cout, p, u, cinP, s.Cin, dx)
		return true
	}
	yp, hp, wp := w.padded(dy, s.Batch, ho, wo, s.Cout, p, s.W%w.st.dk.rows != 0)
	w.directForward(yp, s.Batch, hp, wp, s.Cout, s.KH, s.KW, w.packDirectKernel(s, k, true), true, s.Cin, dx)
	return true
}

// conv2DKernelGradDirect is Conv2DKernelGrad with the kernel-gradient tiles.
// A tile is R input channels × C output channels, or, when that wastes less
// on padding (few output channels, as in an RGB head), R output channels × C
// input channels, with the input and the output gradient swapping roles.
func (w *Workspace) conv2DKernelGradDirect(s ConvShape, x, dy, dk []float32) {
	st := w.st
	if st.winogradKernelGradOK(s) {
		w.conv2DKernelGradWinograd(s, x, dy, dk)
		return
	}
	tr, tc := st.dk.rows, st.dk.cols
	trans := roundUp(s.Cout, tr)*roundUp(s.Cin, tc) < roundUp(s.Cin, tr)*roundUp(s.Cout, tc)
	rowsC, colsC := s.Cin, s.Cout // channels along the tile's rows and columns
	if trans {
		rowsC, colsC = s.Cout, s.Cin
	}
	// The input is read in place: each tap's tiles cover only the output
	// pixels whose input pixel is inside the image (padding adds zeros). A
	// copy with slack after it is made only when tiles read past the last
	// pixel's channels.
	slack := s.Cin%tr != 0
	if trans {
		slack = s.Cin%tc != 0
	}
	xp, _, _ := w.padded(x, s.Batch, s.H, s.W, s.Cin, directPads{}, slack)
	ho, wo := s.OutSize()
	// dy's rows are widened (zero-filled) to whole tiles: C channels as the
	// tiles' columns, R as their rows.
	co := roundUp(s.Cout, tc)
	if trans {
		co = roundUp(s.Cout, tr)
	}
	if co != s.Cout {
		need := s.Batch * ho * wo * co
		if len(st.dypad) < need {
			st.dypad = make([]float32, need)
		}
		wide := st.dypad[:need]
		for px := 0; px < s.Batch*ho*wo; px++ {
			row := wide[px*co : (px+1)*co]
			copy(row, dy[px*s.Cout:(px+1)*s.Cout])
			clear(row[s.Cout:])
		}
		dy = wide
	}
	taps := s.KH * s.KW
	rPad, cPad := roundUp(rowsC, tr), roundUp(colsC, tc)
	need := taps * rPad * cPad
	if len(st.kacc) < need {
		st.kacc = make([]float32, need)
	}
	acc := st.kacc[:need]
	clear(acc)
	kj := &st.kgrad
	*kj = kgradJob{x: xp, h: s.H, w: s.W, c: s.Cin, pt: s.PadTop, pl: s.PadLeft, dy: dy, ho: ho, wo: wo, co: co, kw: s.KW, trans: trans,
		rPad: rPad, cPad: cPad, rgroups: rPad / tr, strips: cPad / tc, acc: acc, dk: st.dk, next: &st.next}
	kj.ntasks = taps * kj.rgroups * kj.strips
	perImage := (s.H*s.W*s.Cin + ho*wo*co) * 4
	group := max(1, min(s.Batch, kgradGroupBytes/perImage))
	parts := w.parallelism()
	if s.Batch*ho*wo*taps*s.Cin*s.Cout < serialMACs {
		parts = 1
	}
	kj.parts = max(1, min(parts, kj.ntasks))
	kj.group, kj.batch = group, s.Batch
	groups := (s.Batch + group - 1) / group
	if cap(st.tileDone) < kj.ntasks {
		st.tileDone = make([]atomic.Int32, kj.ntasks)
	}
	kj.done = st.tileDone[:kj.ntasks]
	for i := range kj.done {
		kj.done[i].Store(0)
	}
	kj.total = groups * kj.ntasks
	st.next.Store(0)
	st.parallel(kj, kj.parts)
	for t := 0; t < taps; t++ {
		if !trans {
			for ch := 0; ch < s.Cin; ch++ {
				copy(dk[(t*s.Cin+ch)*s.Cout:][:s.Cout], acc[(t*rPad+ch)*cPad:])
			}
			continue
		}
		for o := 0; o < s.Cout; o++ {
			src := acc[(t*rPad+o)*cPad:][:s.Cin]
			for ch, v := range src {
				dk[(t*s.Cin+ch)*s.Cout+o] = v
			}
		}
	}
}

// kgradJob is a kernel-gradient direct convolution. Its tasks are (image
// group, tile) pairs, group-major, taken from a counter; a tile is (tap, group
// of 8 row channels, strip of 32 column channels) and owns its part of acc
// [tap][rPad][cPad]. Rows are input channels and columns output channels, or the
// reverse when trans. A task waits until the same tile's previous group is
// done, so each tile adds the groups in order whichever worker runs them.
type kgradJob struct {
	x               []float32 // input [batch][h][w][c], unpadded
	h, w, c         int
	pt, pl          int       // padding at the top and left
	dy              []float32 // output gradient [batch][ho][wo][co]
	ho, wo, co      int
	kw              int
	trans           bool
	rPad, cPad      int
	rgroups, strips int
	acc             []float32
	dk              *directKernel
	group, batch    int // images per group, images in all
	ntasks, total   int // tiles, and (group, tile) tasks
	done            []atomic.Int32
	next            *atomic.Int64
	parts           int
}

func (kj *kgradJob) runPart(_ *worker, _ int) {
	for {
		task := int(kj.next.Add(1)) - 1
		if task >= kj.total {
			return
		}
		g, t := task/kj.ntasks, task%kj.ntasks
		for kj.done[t].Load() != int32(g) {
			runtime.Gosched()
		}
		tile := t
		s := t % kj.strips
		t /= kj.strips
		rg, tap := t%kj.rgroups, t/kj.rgroups
		// Output pixels (i, j) of this tap read input pixel (i+kh−pt, j+kw−pl):
		// rows [i0, i1) and columns [j0, j1) are inside the image.
		kh, kw := tap/kj.kw, tap%kj.kw
		i0, i1 := max(0, kj.pt-kh), min(kj.ho, kj.h+kj.pt-kh)
		j0, j1 := max(0, kj.pl-kw), min(kj.wo, kj.w+kj.pl-kw)
		if i0 >= i1 || j0 >= j1 {
			kj.done[tile].Store(int32(g + 1))
			continue
		}
		tr, tc := kj.dk.rows, kj.dk.cols
		acc := unsafe.Pointer(&kj.acc[(tap*kj.rPad+rg*tr)*kj.cPad+s*tc])
		xs, xrs := kj.c*4, kj.w*kj.c*4
		ys, yrs := kj.co*4, kj.wo*kj.co*4
		for b := g * kj.group; b < min(kj.batch, (g+1)*kj.group); b++ {
			xImg := ((b*kj.h+i0+kh-kj.pt)*kj.w + j0 + kw - kj.pl) * kj.c
			yImg := ((b*kj.ho+i0)*kj.wo + j0) * kj.co
			n, rows := j1-j0, i1-i0
			if kj.trans {
				a := unsafe.Pointer(&kj.dy[yImg+rg*tr])
				v := unsafe.Pointer(&kj.x[xImg+s*tc])
				kj.dk.kgrad(a, ys, yrs, v, xs, xrs, n, rows, acc, kj.cPad*4)
				continue
			}
			a := unsafe.Pointer(&kj.x[xImg+rg*tr])
			v := unsafe.Pointer(&kj.dy[yImg+s*tc])
			kj.dk.kgrad(a, xs, xrs, v, ys, yrs, n, rows, acc, kj.cPad*4)
		}
		kj.done[tile].Store(int32(g + 1))
	}
}
