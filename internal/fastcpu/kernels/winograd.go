package kernels

import (
	"sync/atomic"
	"unsafe"
)

// Winograd F(2×2, 3×3) convolutions: 3×3 kernels, stride 1, on AVX-512 or AVX2.
//
// A 3×3 convolution computes each 2×2 block of outputs from a 4×4 block of
// (padded) input with 36 multiply-adds per input and output channel; the
// Winograd form needs 16. The input tile d becomes V = Bᵀ·d·B and the kernel
// g becomes U = G·g·Gᵀ (both 4×4 per channel pair), the 16 elementwise
// products are summed over input channels — 16 independent matrix products
// M[ξ] = V[ξ]·U[ξ] of (tiles × Cin) by (Cin × Cout), run on the direct
// convolution's register tiles — and the outputs are Y = Aᵀ·M·A:
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//	Aᵀ = [1 1 1 0; 0 1 −1 −1]
//
// The input-gradient convolution is the same with the kernel flipped and its
// channels swapped; the kernel gradient is the transposed algorithm (see
// conv2DKernelGradWinograd). The transforms (direct_amd64.s) work on 16
// (AVX-512) or 8 (AVX2) channels at a time; Cin and Cout must be multiples of
// 16, and the output's height and width even. The input is read in place;
// tiles that reach into the padding go through a small zero-filled copy.
// Tiles are processed in blocks small enough that V and M stay in the L2
// cache between the transforms and the products; workers take blocks from a
// counter and each output is written by exactly one block, so the result
// does not depend on scheduling. The transforms add a few float32 roundings:
// results differ from the direct form by about 1e-6 relative. Transform
// planes are padded by a cache line (planeStride): 16 streams 4 KiB apart
// would otherwise fight over the same L1 sets.

// winoBlockBytes bounds the V and M buffers of one block of tiles.
const winoBlockBytes = 512 << 10

// planeStride returns the distance, in float32 values, between consecutive
// planes of n values: n plus one cache line, so that the 16 planes a
// transform writes at once do not all map to the same L1 cache sets (plane
// sizes are often multiples of 4 KiB).
func planeStride(n int) int { return n + 16 }

// winogradOK reports whether a forward-form convolution (output ho×wo, c input
// and cout output channels, kh×kw kernel, stride 1) runs as Winograd
// F(2×2, 3×3).
func (st *state) winogradOK(kh, kw, ho, wo, c, cout int) bool {
	return st.dk != nil && !st.noWinograd && kh == 3 && kw == 3 &&
		ho%2 == 0 && wo%2 == 0 && c%16 == 0 && cout%16 == 0
}

// winoKernel transforms the 3×3 kernel k [3][3][c][cout] into U[ξ][c][coutP]
// (coutP = cout rounded up to the tile width, zero-filled; planes
// planeStride(c·coutP) apart) in the Workspace's buffer. With flip it
// transforms the input-gradient kernel instead, K'[i][j][o][ci] =
// K[2−i][2−j][ci][o] (k then has c output and cout input channels), which is
// first gathered into a scratch buffer.
func (w *Workspace) winoKernel(k []float32, c, cout int, flip bool) (u []float32, coutP int) {
	st := w.st
	if flip {
		// K' laid out [3][3][c][cout]: packKernel's flipped form in one strip.
		k = w.packKernel(&st.kflip, ConvShape{KH: 3, KW: 3, Cin: cout, Cout: c}, k, true, cout)
	}
	coutP = roundUp(cout, st.dk.cols)
	need := 16 * planeStride(c*coutP)
	if len(st.kpack) < need {
		st.kpack = make([]float32, need)
	}
	wk := &st.winoK
	*wk = winoKernelJob{k: k, u: st.kpack[:need], c: c, cout: cout, coutP: coutP, dk: st.dk}
	wk.parts = max(1, min(w.parallelism(), c, need/(1<<14)))
	st.parallel(wk, wk.parts)
	return wk.u, coutP
}

// winoKernelJob is winoKernel split over input channels.
type winoKernelJob struct {
	k, u           []float32
	dk             *directKernel
	c, cout, coutP int
	parts          int
}

func (wk *winoKernelJob) runPart(_ *worker, part int) {
	lo, hi := split(wk.c, wk.parts, part)
	c, cout := wk.c, wk.cout
	plane := planeStride(c * wk.coutP)
	for ci := lo; ci < hi; ci++ {
		wk.dk.winoK(unsafe.Pointer(&wk.k[ci*cout]), c*cout*4, cout, unsafe.Pointer(&wk.u[ci*wk.coutP]), plane*4)
		if wk.coutP > cout {
			for x := 0; x < 16; x++ {
				clear(wk.u[x*plane+ci*wk.coutP+cout:][:wk.coutP-cout])
			}
		}
	}
}

// winogradForward runs the forward-form 3×3 convolution of the input x
// [batch][h][w][c], zero-padded by p (top, bottom, left, right), with the
// transformed kernel u [16][c][coutP] into y [batch][ho][wo][cout], ho =
// h+p[0]+p[1]−2 and wo = w+p[2]+p[3]−2. The input is read in place: tiles
// that reach into the padding are first copied into a zero-filled 4×4 patch.
func (w *Workspace) winogradForward(x []float32, batch, h, wd, c int, p directPads, u []float32, coutP, cout int, y []float32) {
	st := w.st
	ho, wo := h+p[0]+p[1]-2, wd+p[2]+p[3]-2
	tr := st.dk.rows
	block := max(tr, winoBlockBytes/(16*(c+coutP)*4)/tr*tr)
	tiles := batch * (ho / 2) * (wo / 2)
	block = min(block, roundUp(tiles, tr))
	wj := &st.wino
	*wj = winoJob{src: winoSource{x: x, h: h, w: wd, c: c, pads: p, ho: ho, wo: wo}, u: u, coutP: coutP, cout: cout, y: y,
		tiles: tiles, block: block, dk: st.dk, next: &st.next}
	blocks := (tiles + block - 1) / block
	par := w.parallelism()
	if tiles*16*c*cout < serialMACs {
		par = 1
	}
	wj.parts = max(1, min(par, blocks))
	st.next.Store(0)
	st.parallel(wj, wj.parts)
}

// winoJob is winogradForward split over blocks of tiles.
type winoJob struct {
	src          winoSource
	u            []float32
	coutP, cout  int
	y            []float32
	tiles, block int
	dk           *directKernel
	next         *atomic.Int64
	parts        int
}

func (wj *winoJob) runPart(wk *worker, _ int) {
	c, coutP, wo := wj.src.c, wj.coutP, wj.src.wo
	vPlane, mPlane := planeStride(wj.block*c), planeStride(wj.block*coutP)
	if need := 16 * vPlane; len(wk.cols) < need {
		wk.cols = make([]float32, need)
	}
	if need := 16 * mPlane; len(wk.acc) < need {
		wk.acc = make([]float32, need)
	}
	v, m := wk.cols[:16*vPlane], wk.acc[:16*mPlane]
	patch := wj.src.patch(wk)
	tr, tc := wj.dk.rows, wj.dk.cols
	zeroTap := 0
	for {
		t0 := (int(wj.next.Add(1)) - 1) * wj.block
		if t0 >= wj.tiles {
			return
		}
		n := min(wj.block, wj.tiles-t0)
		// Input transform of the block's tiles: V[ξ][tile][c].
		for i := 0; i < n; i++ {
			wj.src.transform(wj.dk, t0+i, patch, unsafe.Pointer(&v[i*c]), vPlane*4)
		}
		// The 16 products M[ξ] = V[ξ]·U[ξ], (n × c) by (c × coutP).
		rows := roundUp(n, tr)
		for xi := 0; xi < 16; xi++ {
			vx, ux, mx := v[xi*vPlane:], wj.u[xi*planeStride(c*coutP):], m[xi*mPlane:]
			for s := 0; s < coutP; s += tc {
				for r := 0; r < rows; r += tr {
					wj.dk.conv(unsafe.Pointer(&vx[r*c]), c*4, &zeroTap, 1, c, unsafe.Pointer(&ux[s]), coutP*4,
						unsafe.Pointer(&mx[r*coutP+s]), coutP*4)
				}
			}
		}
		// Output transform: Y = Aᵀ·M·A, 2×2 outputs per tile.
		for i := 0; i < n; i++ {
			dst := unsafe.Pointer(&wj.y[wj.src.outOffset(t0+i)*wj.cout])
			wj.dk.winoOut(unsafe.Pointer(&m[i*coutP]), mPlane*4, wj.cout, dst, wj.cout*4, wo*wj.cout*4)
		}
	}
}

// winoIn, winoOut and winoK run the Winograd transforms of the tile's
// instruction set on n channels (a multiple of 16).
func (d *directKernel) winoIn(x unsafe.Pointer, xs, xrs, n int, v unsafe.Pointer, vs int) {
	if d.avx512 {
		winoInput(x, xs, xrs, n/16, v, vs)
	} else {
		winoInput8(x, xs, xrs, n/8, v, vs)
	}
}

func (d *directKernel) winoOut(m unsafe.Pointer, ms, n int, y unsafe.Pointer, ys, yrs int) {
	if d.avx512 {
		winoOutput(m, ms, n/16, y, ys, yrs)
	} else {
		winoOutput8(m, ms, n/8, y, ys, yrs)
	}
}

func (d *directKernel) winoK(k unsafe.Pointer, ks, n int, u unsafe.Pointer, us int) {
	if d.avx512 {
		winoKernel(k, ks, n/16, u, us)
	} else {
		winoKernel8(k, ks, n/8, u, us)
	}
}

// winoGradIn and winoGradK run the kernel gradient's transforms (winoGradInput
// and winoGradKernel) of the tile's instruction set on n channels (a multiple
// of 16).
func (d *directKernel) winoGradIn(dy unsafe.Pointer, ys, yrs, n int, w unsafe.Pointer, ws int) {
	if d.avx512 {
		winoGradInput(dy, ys, yrs, n/16, w, ws)
	} else {
		winoGradInput8(dy, ys, yrs, n/8, w, ws)
	}
}

func (d *directKernel) winoGradK(z unsafe.Pointer, zs, n int, dk unsafe.Pointer, dks int) {
	if d.avx512 {
		winoGradKernel(z, zs, n/16, dk, dks)
	} else {
		winoGradKernel8(z, zs, n/8, dk, dks)
	}
}

// winoGradBlockBytes bounds the V and W buffers of one block of tiles of a
// Winograd kernel gradient.
const winoGradBlockBytes = 512 << 10

// winoGradParts is the number of tile ranges a Winograd kernel gradient sums
// separately (each into its own Z, added in order at the end): fixed, so that
// the result does not depend on the number of workers, and small, so that
// adding the Zs stays cheap. It is also the most workers the sums can use.
const winoGradParts = 2

// winogradKernelGradOK reports whether the kernel gradient of s runs in the
// Winograd form.
func (st *state) winogradKernelGradOK(s ConvShape) bool {
	ho, wo := s.OutSize()
	return st.dk != nil && st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout)
}

// conv2DKernelGradWinograd is Conv2DKernelGrad of a 3×3 convolution in the
// Winograd form, the transpose of the forward one: for each 2×2 tile e of the
// output gradient and its 4×4 input tile d, V = Bᵀ·d·B and W = A·e·Aᵀ
// (A = [1 0; 1 1; 1 −1; 0 −1]); the 16 planes Z[ξ] = Σ_tiles V[ξ]ᵀ·W[ξ]
// (Cin × Cout) give dK = Gᵀ·Z·G. The tiles are split into winoGradParts fixed
// ranges; a worker transforms a range block by block (V and W stay in its L2
// cache) and sums the products into the range's own Z with the
// kernel-gradient tiles. The Zs are then added in range order and
// transformed, split over input channels: the result depends neither on
// timing nor on the number of workers.
func (w *Workspace) conv2DKernelGradWinograd(s ConvShape, x, dy, dk []float32) {
	st := w.st
	ho, wo := s.OutSize()
	c, cout := s.Cin, s.Cout
	coutP := roundUp(cout, st.dk.cols)
	// Z's rows are input channels, rounded up to whole tiles (the AVX2 tile
	// has 6 rows): the rows past c take whatever follows the last channel in
	// the V planes and are never read back.
	cPad := roundUp(c, st.dk.rows)
	zPlane := planeStride(cPad * coutP)
	tiles := s.Batch * (ho / 2) * (wo / 2)
	zParts := min(winoGradParts, tiles)
	parts := w.parallelism()
	if tiles*16*c*cout < serialMACs {
		parts = 1
	}
	parts = max(1, min(parts, zParts))
	if need := zParts * 16 * zPlane; len(st.kacc) < need {
		st.kacc = make([]float32, need)
	}
	gj := &st.winoGrad
	*gj = winoGradJob{src: winoSource{x: x, h: s.H, w: s.W, c: c, ho: ho, wo: wo,
		pads: directPads{s.PadTop, s.PadBottom, s.PadLeft, s.PadRight}},
		dy: dy, cout: cout, coutP: coutP, zPlane: zPlane, z: st.kacc[:zParts*16*zPlane],
		out: dk, tiles: tiles, zParts: zParts, dk: st.dk}
	gj.block = min(tiles, max(1, winoGradBlockBytes/(16*(c+coutP)*4)))
	gj.parts = parts
	st.parallel(gj, gj.parts)
	gj.final = true
	gj.parts = max(1, min(w.parallelism(), c))
	st.parallel(gj, gj.parts)
}

// winoGradJob is conv2DKernelGradWinograd's work: first each part sums its
// ranges of tiles into their Zs; then (final) the Zs are added and
// transformed into dK, split over input channels.
type winoGradJob struct {
	src          winoSource
	dy           []float32 // output gradient [batch][ho][wo][cout]
	cout, coutP  int
	z            []float32 // zParts × Z [16][c][coutP], planes zPlane apart
	zParts       int       // tile ranges, each summed into its own Z
	zPlane       int
	out          []float32 // dK [3][3][c][cout]
	tiles, block int
	final        bool
	dk           *directKernel
	parts        int
}

func (gj *winoGradJob) runPart(wk *worker, part int) {
	c, coutP, cout := gj.src.c, gj.coutP, gj.cout
	zLen := 16 * gj.zPlane
	if gj.final {
		z0 := gj.z[:zLen]
		lo, hi := split(c, gj.parts, part)
		for ci := lo; ci < hi; ci++ {
			for p := 1; p < gj.zParts; p++ {
				zp := gj.z[p*zLen:]
				for xi := 0; xi < 16; xi++ {
					off := xi*gj.zPlane + ci*coutP
					wk.kern.add(z0[off:off+cout], zp[off:])
				}
			}
			gj.dk.winoGradK(unsafe.Pointer(&z0[ci*coutP]), gj.zPlane*4, cout,
				unsafe.Pointer(&gj.out[ci*cout]), c*cout*4)
		}
		return
	}
	for zp := part; zp < gj.zParts; zp += gj.parts {
		gj.sumRange(wk, zp)
	}
}

// sumRange sums the products of range zp of the tiles (of gj.zParts equal
// ranges) into the zp-th Z.
func (gj *winoGradJob) sumRange(wk *worker, zp int) {
	c, coutP, cout := gj.src.c, gj.coutP, gj.cout
	zLen := 16 * gj.zPlane
	z := gj.z[zp*zLen:][:zLen]
	clear(z)
	vPlane, wPlane := planeStride(gj.block*c), planeStride(gj.block*coutP)
	if need := 16 * vPlane; len(wk.cols) < need {
		wk.cols = make([]float32, need)
	}
	if need := 16 * wPlane; len(wk.acc) < need {
		wk.acc = make([]float32, need)
	}
	v, wv, patch := wk.cols[:16*vPlane], wk.acc[:16*wPlane], gj.src.patch(wk)
	tr, tc := gj.dk.rows, gj.dk.cols
	lo, hi := split(gj.tiles, gj.zParts, zp)
	for t0 := lo; t0 < hi; t0 += gj.block {
		n := min(gj.block, hi-t0)
		for i := 0; i < n; i++ {
			gj.src.transform(gj.dk, t0+i, patch, unsafe.Pointer(&v[i*c]), vPlane*4)
			e := unsafe.Pointer(&gj.dy[gj.src.outOffset(t0+i)*cout])
			gj.dk.winoGradIn(e, cout*4, gj.src.wo*cout*4, cout, unsafe.Pointer(&wv[i*coutP]), wPlane*4)
		}
		for xi := 0; xi < 16; xi++ {
			for cg := 0; cg < c; cg += tr {
				for s := 0; s < coutP; s += tc {
					gj.dk.kgrad(unsafe.Pointer(&v[xi*vPlane+cg]), c*4, 0, unsafe.Pointer(&wv[xi*wPlane+s]), coutP*4, 0,
						n, 1, unsafe.Pointer(&z[xi*gj.zPlane+cg*coutP+s]), coutP*4)
				}
			}
		}
	}
}

// winoSource is the input of a Winograd convolution, read in place as 4×4
// tiles: an unpadded tensor x [batch][h][w][c] with zero padding pads, whose
// output is ho×wo (both even; tile (ti, tj) of an image gives output pixels
// 2ti..2ti+1 × 2tj..2tj+1).
type winoSource struct {
	x       []float32
	h, w, c int
	pads    directPads
	ho, wo  int
}

// outOffset returns the pixel index of tile t's top-left output pixel in the
// [batch][ho][wo] output (tiles numbered image by image, row by row).
func (s *winoSource) outOffset(t int) int {
	tw, th := s.wo/2, s.ho/2
	b, ti, tj := t/(th*tw), t/tw%th, t%tw
	return (b*s.ho+2*ti)*s.wo + 2*tj
}

// patch returns the worker's buffer for one border tile (4×4×c values).
func (s *winoSource) patch(wk *worker) []float32 {
	if need := 16 * s.c; len(wk.packA) < need {
		wk.packA = make([]float32, need)
	}
	return wk.packA[:16*s.c]
}

// transform writes the input transform of tile t (planes vs bytes apart from
// v). A tile inside the image is read in place; one that reaches into the
// padding is first copied into patch, zero where outside the image.
func (s *winoSource) transform(d *directKernel, t int, patch []float32, v unsafe.Pointer, vs int) {
	c := s.c
	out := s.outOffset(t)
	b, r0, q0 := out/(s.ho*s.wo), out/s.wo%s.ho-s.pads[0], out%s.wo-s.pads[2]
	if r0 >= 0 && q0 >= 0 && r0+4 <= s.h && q0+4 <= s.w {
		d.winoIn(unsafe.Pointer(&s.x[((b*s.h+r0)*s.w+q0)*c]), c*4, s.w*c*4, c, v, vs)
		return
	}
	clear(patch)
	if q1, q2 := max(0, -q0), min(4, s.w-q0); q1 < q2 {
		for r := max(0, -r0); r < min(4, s.h-r0); r++ {
			copy(patch[(4*r+q1)*c:(4*r+q2)*c], s.x[((b*s.h+r0+r)*s.w+q0+q1)*c:])
		}
	}
	d.winoIn(unsafe.Pointer(&patch[0]), c*4, 4*c*4, c, v, vs)
}
