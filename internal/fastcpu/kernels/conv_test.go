package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv returns y, and for the given dy the gradients dx and dk, in
// float64, with the magnitudes of what each element adds up (see ref).
func naiveConv(s ConvShape, x, k, dy []float32) (y, dx, dk ref) {
	ho, wo := s.OutSize()
	ah, aw := s.axes()
	nx, nk, ny := s.Sizes()
	y, dx, dk = newRef(ny), newRef(nx), newRef(nk)
	for b := 0; b < s.Batch; b++ {
		for i := 0; i < ho; i++ {
			for j := 0; j < wo; j++ {
				for kh := 0; kh < s.KH; kh++ {
					h, ok := ah.src(i, kh)
					if !ok {
						continue
					}
					for kw := 0; kw < s.KW; kw++ {
						w, ok := aw.src(j, kw)
						if !ok {
							continue
						}
						xRow := x[((b*s.H+h)*s.W+w)*s.Cin:][:s.Cin]
						dxRow, dxAbs := dx.v[((b*s.H+h)*s.W+w)*s.Cin:][:s.Cin], dx.abs[((b*s.H+h)*s.W+w)*s.Cin:][:s.Cin]
						yo := ((b*ho+i)*wo + j) * s.Cout
						yRow, yAbs, dyRow := y.v[yo:][:s.Cout], y.abs[yo:][:s.Cout], dy[yo:][:s.Cout]
						for c, xv := range xRow {
							ko := ((kh*s.KW+kw)*s.Cin + c) * s.Cout
							kRow, dkRow, dkAbs := k[ko:][:s.Cout], dk.v[ko:][:s.Cout], dk.abs[ko:][:s.Cout]
							xf := float64(xv)
							var dxs, dxa float64
							// The same lengths as kRow, so that the loop needs no bounds checks.
							yRow, yAbs, dyRow := yRow[:len(kRow)], yAbs[:len(kRow)], dyRow[:len(kRow)]
							dkRow, dkAbs = dkRow[:len(kRow)], dkAbs[:len(kRow)]
							for o, kv := range kRow {
								kf, dyf := float64(kv), float64(dyRow[o])
								p, q, g := xf*kf, dyf*kf, xf*dyf
								yRow[o] += p
								yAbs[o] += math.Abs(p)
								dxs += q
								dxa += math.Abs(q)
								dkRow[o] += g
								dkAbs[o] += math.Abs(g)
							}
							dxRow[c] += dxs
							dxAbs[c] += dxa
						}
					}
				}
			}
		}
	}
	return y, dx, dk
}

// convTerms returns the number of products each output of the forward
// convolution, the input gradient and the kernel gradient of s adds up (at
// most; padding and strides leave some out).
func convTerms(s ConvShape) (ny, ndx, ndk int) {
	ho, wo := s.OutSize()
	return s.KH * s.KW * s.Cin, s.KH * s.KW * s.Cout, s.Batch * ho * wo
}

// convWinograd reports which of the forward convolution, the input gradient
// and the kernel gradient of s ws runs in the Winograd form.
func convWinograd(ws *Workspace, s ConvShape) (y, dx, dk bool) {
	st := ws.st
	if !st.directOK(s) {
		return false, false, false
	}
	ho, wo := s.OutSize()
	// The input gradient runs directly only where no padding exceeds the kernel.
	flipOK := s.PadTop < s.KH && s.PadBottom < s.KH && s.PadLeft < s.KW && s.PadRight < s.KW
	return st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout), flipOK && st.winogradOK(s.KH, s.KW, s.H, s.W, s.Cout, s.Cin),
		st.winogradKernelGradOK(s)
}

// runConvForms runs the forward, input-gradient and kernel-gradient
// convolutions of s on ws. The outputs start as random values, so elements a
// form fails to write show up.
func runConvForms(t *testing.T, r *rand.Rand, ws *Workspace, s ConvShape, x, k, dy []float32) (y, dx, dk []float32) {
	t.Helper()
	nx, nk, ny := s.Sizes()
	y, dx, dk = randSlice(r, ny), randSlice(r, nx), randSlice(r, nk)
	if err := ws.Conv2D(s, x, k, y); err != nil {
		t.Fatal(err)
	}
	if err := ws.Conv2DInputGrad(s, dy, k, dx); err != nil {
		t.Fatal(err)
	}
	if err := ws.Conv2DKernelGrad(s, x, dy, dk); err != nil {
		t.Fatal(err)
	}
	return y, dx, dk
}

// checkConvForms runs the three forms of s on ws with random data and
// compares them with naiveConv; it returns the data and the results.
func checkConvForms(t *testing.T, r *rand.Rand, ws *Workspace, s ConvShape, name string) (x, k, dy, y, dx, dk []float32) {
	t.Helper()
	nx, nk, ny := s.Sizes()
	x, k, dy = randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
	wy, wdx, wdk := naiveConv(s, x, k, dy)
	y, dx, dk = runConvForms(t, r, ws, s, x, k, dy)
	compareConvForms(t, ws, s, name, [3][]float32{y, dx, dk}, [3]ref{wy, wdx, wdk})
	return x, k, dy, y, dx, dk
}

// compareConvForms compares the results of the three forms of s, run on ws,
// with their references.
func compareConvForms(t *testing.T, ws *Workspace, s ConvShape, name string, got [3][]float32, want [3]ref) {
	t.Helper()
	ny, ndx, ndk := convTerms(s)
	wy, wdx, wdk := convWinograd(ws, s)
	compare(t, name+" y", got[0], want[0], ny, wy)
	compare(t, name+" dx", got[1], want[1], ndx, wdx)
	compare(t, name+" dk", got[2], want[2], ndk, wdk)
}

func TestConv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	shapes := []ConvShape{
		{Batch: 1, H: 5, W: 5, Cin: 1, KH: 3, KW: 3, Cout: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 8, W: 7, Cin: 3, KH: 3, KW: 3, Cout: 5, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 3, H: 9, W: 10, Cin: 4, KH: 3, KW: 3, Cout: 6, StrideH: 2, StrideW: 2, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 6, W: 6, Cin: 7, KH: 1, KW: 1, Cout: 9},
		{Batch: 1, H: 7, W: 5, Cin: 2, KH: 2, KW: 3, Cout: 3, StrideH: 3, StrideW: 1, PadTop: 0, PadBottom: 2, PadLeft: 2, PadRight: 0},
		{Batch: 2, H: 16, W: 16, Cin: 16, KH: 3, KW: 3, Cout: 32, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 1, H: 4, W: 4, Cin: 3, KH: 4, KW: 4, Cout: 2},
		{Batch: 2, H: 48, W: 40, Cin: 4, KH: 3, KW: 3, Cout: 8, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 9, W: 8, Cin: 3, KH: 3, KW: 3, Cout: 4, DilationH: 2, DilationW: 2, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 2},
		{Batch: 2, H: 5, W: 6, Cin: 3, KH: 3, KW: 2, Cout: 4, InputDilationH: 2, InputDilationW: 3, PadTop: 2, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 1, H: 7, W: 7, Cin: 2, KH: 3, KW: 3, Cout: 3, StrideH: 2, StrideW: 3, DilationH: 2, DilationW: 1, InputDilationH: 1, InputDilationW: 2, PadTop: 1, PadLeft: 3, PadRight: 1},
		{Batch: 4, H: 32, W: 32, Cin: 8, KH: 3, KW: 3, Cout: 16, StrideH: 2, StrideW: 2, PadTop: 0, PadBottom: 1, PadLeft: 0, PadRight: 1},
	}
	forEachCase(t, convCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2, 3} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			for _, s := range shapes {
				checkConvForms(t, r, ws, s, fmt.Sprintf("p%d/%+v", par, s))
			}
			ws.Close()
		}
	})
}

func TestConvErrors(t *testing.T) {
	ws := NewWorkspace(Options{})
	defer ws.Close()
	s := ConvShape{Batch: 1, H: 4, W: 4, Cin: 2, KH: 3, KW: 3, Cout: 2}
	nx, nk, ny := s.Sizes()
	x, k, y := make([]float32, nx), make([]float32, nk), make([]float32, ny)
	if err := ws.Conv2D(s, x[:nx-1], k, y); err == nil {
		t.Error("short x accepted")
	}
	bad := s
	bad.KH = 7
	if err := ws.Conv2D(bad, x, k, y); err == nil {
		t.Error("kernel larger than input accepted")
	}
	bad = s
	bad.Cin = 0
	if err := ws.Conv2DInputGrad(bad, y, k, x); err == nil {
		t.Error("Cin=0 accepted")
	}
	if err := ws.Conv2DKernelGrad(s, x, y[:1], k); err == nil {
		t.Error("short dy accepted")
	}
}

func TestConvRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	forEachCase(t, convCases(), func(t *testing.T, o Options) {
		o.Parallelism = 2
		ws := NewWorkspace(o)
		defer ws.Close()
		valid := 0
		for it := 0; it < 150; it++ {
			s := ConvShape{Batch: 1 + r.IntN(3), H: 1 + r.IntN(9), W: 1 + r.IntN(9), Cin: 1 + r.IntN(5),
				KH: 1 + r.IntN(4), KW: 1 + r.IntN(4), Cout: 1 + r.IntN(6),
				StrideH: r.IntN(4), StrideW: r.IntN(4), DilationH: r.IntN(3), DilationW: r.IntN(3),
				InputDilationH: r.IntN(3), InputDilationW: r.IntN(3),
				PadTop: r.IntN(3), PadBottom: r.IntN(3), PadLeft: r.IntN(3), PadRight: r.IntN(3)}
			if s.check(1<<30, 1<<30, 1<<30) != nil {
				if err := ws.Conv2D(s, nil, nil, nil); err == nil {
					t.Fatalf("%+v: invalid shape accepted", s)
				}
				continue
			}
			valid++
			checkConvForms(t, r, ws, s, fmt.Sprintf("%+v", s))
		}
		t.Logf("%d of 150 random shapes valid", valid)
		if valid < 50 {
			t.Errorf("only %d of 150 random shapes were valid", valid)
		}
	})
}

// TestConvSteadyStateAllocs checks that repeated convolutions do not
// allocate, with every kernel, in the direct and the Winograd forms.
func TestConvSteadyStateAllocs(t *testing.T) {
	shapes := []ConvShape{
		{Batch: 2, H: 16, W: 16, Cin: 8, KH: 3, KW: 3, Cout: 16, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 16, W: 16, Cin: 16, KH: 3, KW: 3, Cout: 32, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	forEachCase(t, convCases(), func(t *testing.T, o Options) {
		for _, s := range shapes {
			nx, nk, ny := s.Sizes()
			x, k, y := make([]float32, nx), make([]float32, nk), make([]float32, ny)
			for _, par := range []int{1, 2} {
				o.Parallelism = par
				ws := NewWorkspace(o)
				for name, f := range map[string]func() error{
					"forward":    func() error { return ws.Conv2D(s, x, k, y) },
					"inputgrad":  func() error { return ws.Conv2DInputGrad(s, y, k, x) },
					"kernelgrad": func() error { return ws.Conv2DKernelGrad(s, x, y, k) },
				} {
					if err := f(); err != nil {
						t.Fatal(err)
					}
					if allocs := testing.AllocsPerRun(5, func() { _ = f() }); allocs != 0 {
						t.Errorf("%+v %s, parallelism %d: %v allocations per call", s, name, par, allocs)
					}
				}
				ws.Close()
			}
		}
	})
}

// TestConvDirect checks the direct convolutions (direct.go) on the shapes that
// exercise their edges: partial pixel groups (W not a multiple of 8), partial
// channel strips (Cout, Cin not multiples of 32 or 8), 1×1 kernels with and
// without padding, asymmetric padding, and several strips and image groups.
func TestConvDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	pad1 := func(s ConvShape) ConvShape {
		s.PadTop, s.PadBottom, s.PadLeft, s.PadRight = 1, 1, 1, 1
		return s
	}
	shapes := []ConvShape{
		pad1(ConvShape{Batch: 2, H: 8, W: 8, Cin: 3, KH: 3, KW: 3, Cout: 32}),
		pad1(ConvShape{Batch: 3, H: 5, W: 11, Cin: 9, KH: 3, KW: 3, Cout: 37}),
		pad1(ConvShape{Batch: 2, H: 16, W: 16, Cin: 32, KH: 3, KW: 3, Cout: 3}),
		pad1(ConvShape{Batch: 3, H: 5, W: 7, Cin: 16, KH: 3, KW: 3, Cout: 1}),
		{Batch: 2, H: 3, W: 5, Cin: 48, KH: 1, KW: 1, Cout: 4},
		pad1(ConvShape{Batch: 1, H: 4, W: 4, Cin: 64, KH: 3, KW: 3, Cout: 96}),
		{Batch: 2, H: 8, W: 16, Cin: 16, KH: 1, KW: 1, Cout: 64},
		{Batch: 2, H: 7, W: 5, Cin: 5, KH: 1, KW: 1, Cout: 7},
		{Batch: 1, H: 6, W: 9, Cin: 4, KH: 2, KW: 3, Cout: 33, PadTop: 0, PadBottom: 1, PadLeft: 2, PadRight: 0},
		pad1(ConvShape{Batch: 24, H: 32, W: 32, Cin: 8, KH: 3, KW: 3, Cout: 8}),
	}
	forEachCase(t, directCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2, 3} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			for _, s := range shapes {
				if !ws.st.directOK(s) || ws.st.dk.name != o.Kernel {
					t.Fatalf("%+v: not run as a direct convolution with the %s tiles", s, o.Kernel)
				}
				checkConvForms(t, r, ws, s, fmt.Sprintf("p%d/%+v", par, s))
			}
			ws.Close()
		}
	})
}

// TestConvWinograd checks the Winograd F(2×2, 3×3) forms (winograd.go) of the
// forward and input-gradient convolutions, and on AVX-512 of the kernel
// gradient, against the float64 reference and against the direct tiles,
// on shapes that use them: several blocks of tiles with a partial last one,
// no padding, asymmetric padding, and channel counts that are multiples of
// 16 but not of the tile width.
func TestConvWinograd(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	shapes := []ConvShape{
		{Batch: 3, H: 32, W: 32, Cin: 32, KH: 3, KW: 3, Cout: 48, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 10, W: 12, Cin: 16, KH: 3, KW: 3, Cout: 16},
		{Batch: 1, H: 6, W: 8, Cin: 16, KH: 3, KW: 3, Cout: 32, PadTop: 2, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 8, W: 8, Cin: 256, KH: 3, KW: 3, Cout: 128, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	forEachCase(t, directCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2, 3} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			ro := o
			ro.NoWinograd = true
			ref := NewWorkspace(ro)
			for _, s := range shapes {
				y, dx, dk := convWinograd(ws, s)
				if ws.st.dk.name != o.Kernel || !y || !dx || !dk {
					t.Fatalf("%+v: not run in the Winograd form with the %s tiles (forward %v, input gradient %v, kernel gradient %v)",
						s, o.Kernel, y, dx, dk)
				}
				name := fmt.Sprintf("p%d/%+v", par, s)
				x, k, dy, y1, dx1, dk1 := checkConvForms(t, r, ws, s, name)
				// Against the direct tiles, element by element.
				y2, dx2, dk2 := runConvForms(t, r, ref, s, x, k, dy)
				for _, c := range []struct {
					what string
					a, b []float32
				}{{"y", y1, y2}, {"dx", dx1, dx2}, {"dk", dk1, dk2}} {
					var maxDiff, maxAbs float64
					for i := range c.a {
						maxDiff = max(maxDiff, math.Abs(float64(c.a[i]-c.b[i])))
						maxAbs = max(maxAbs, math.Abs(float64(c.b[i])))
					}
					if maxDiff > 2e-5*maxAbs {
						t.Errorf("%s %s: Winograd and direct differ by %g (largest value %g)", name, c.what, maxDiff, maxAbs)
					}
				}
			}
			ws.Close()
			ref.Close()
		}
	})
}

// TestConvSameResultWithAnyWorkerCount checks that the convolutions give
// bit-identical results with 1, 2 or 3 goroutines (training resumes and
// repeated runs must match exactly), with every kernel, and with the parts run
// by Options.RunParts (here one after the other, last part first: any order is
// allowed) instead of the Workspace's own goroutines.
func TestConvSameResultWithAnyWorkerCount(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	shapes := []ConvShape{
		{Batch: 4, H: 16, W: 16, Cin: 32, KH: 3, KW: 3, Cout: 32, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 3, H: 9, W: 11, Cin: 5, KH: 3, KW: 3, Cout: 7, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 8, W: 8, Cin: 64, KH: 1, KW: 1, Cout: 48},
		{Batch: 16, H: 16, W: 16, Cin: 16, KH: 3, KW: 3, Cout: 8, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	runs := []struct {
		par      int
		runParts bool
	}{{1, false}, {2, false}, {3, false}, {2, true}, {3, true}}
	forEachCase(t, convCases(), func(t *testing.T, o Options) {
		for _, s := range shapes {
			nx, nk, ny := s.Sizes()
			x, k, dy := randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
			var first [3][]float32
			for _, run := range runs {
				o.Parallelism = run.par
				calls := 0
				o.RunParts = nil
				if run.runParts {
					o.RunParts = func(parts int, part func(int)) {
						calls++
						for i := parts - 1; i >= 0; i-- {
							part(i)
						}
					}
				}
				ws := NewWorkspace(o)
				var got [3][]float32
				got[0], got[1], got[2] = runConvForms(t, r, ws, s, x, k, dy)
				ws.Close()
				if run.par == 1 {
					first = got
					continue
				}
				if run.runParts && calls == 0 && s.Batch*s.H*s.W*s.Cin*s.Cout*s.KH*s.KW >= serialMACs {
					t.Errorf("%+v: %d goroutines: RunParts never called", s, run.par)
				}
				for i, name := range []string{"y", "dx", "dk"} {
					for j := range got[i] {
						if got[i][j] != first[i][j] {
							t.Errorf("%+v %s: %+v gives %v at %d, 1 goroutine gives %v", s, name, run, got[i][j], j, first[i][j])
							break
						}
					}
				}
			}
		}
	})
}

// TestConvFastFormsRandomShapes draws stride-1 convolutions with channel counts
// that reach the direct, Winograd and narrow-output forms (multiples of 16,
// odd counts, 1-4 outputs), odd and even sizes and random paddings, and checks
// every form of each instruction set's tiles against the float64 reference.
func TestConvFastFormsRandomShapes(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 60
	}
	forEachCase(t, directCases(), func(t *testing.T, o Options) {
		r := rand.New(rand.NewPCG(51, 52))
		chans := []int{1, 3, 4, 5, 17, 16, 16, 32, 32, 48}
		o.Parallelism = 2
		ws := NewWorkspace(o)
		defer ws.Close()
		tried, winograd := 0, 0
		for it := 0; it < n; it++ {
			k := 1 + 2*r.IntN(2) // 1 or 3
			s := ConvShape{Batch: 1 + r.IntN(3), H: 2 + r.IntN(10), W: 2 + r.IntN(10),
				Cin: chans[r.IntN(len(chans))], KH: k, KW: k, Cout: chans[r.IntN(len(chans))],
				PadTop: r.IntN(k), PadBottom: r.IntN(k), PadLeft: r.IntN(k), PadRight: r.IntN(k)}
			if it%4 == 0 {
				// A shape for the Winograd form: 3×3, channels multiples of 16, even
				// output (paddings of the same parity on both sides).
				pad := func() (int, int) {
					lo := r.IntN(3)
					return lo, lo%2 + 2*r.IntN(2-lo%2)
				}
				s = ConvShape{Batch: 1 + r.IntN(3), H: 2 * (1 + r.IntN(5)), W: 2 * (1 + r.IntN(5)),
					Cin: 16 * (1 + r.IntN(3)), KH: 3, KW: 3, Cout: 16 * (1 + r.IntN(3))}
				s.PadTop, s.PadBottom = pad()
				s.PadLeft, s.PadRight = pad()
			}
			if s.check(1<<30, 1<<30, 1<<30) != nil {
				continue
			}
			tried++
			if ho, wo := s.OutSize(); ws.st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout) {
				winograd++
			}
			checkConvForms(t, r, ws, s, fmt.Sprintf("%+v", s))
		}
		if tried < n/2 {
			t.Errorf("only %d of %d random shapes were valid", tried, n)
		}
		if winograd < 3 {
			t.Errorf("only %d of %d random shapes used the Winograd form", winograd, tried)
		}
		t.Logf("%d shapes, %d in the Winograd form", tried, winograd)
	})
}

// TestConvUNetShapes checks the three forms of the U-Net's convolutions at
// training size (batch 16, 32×32 and 16×16 images, 32-128 channels, the
// 3-channel stem and head, 1×1 skips) against the float64 reference, with
// every kernel. At batch 16 the direct kernel gradient sums several groups
// of images, the Winograd one several blocks of tiles and the im2col one
// several chunks: the paths that training runs on every CPU, which small
// shapes do not reach. It also checks that the forms it means to test ran.
func TestConvUNetShapes(t *testing.T) {
	type shape struct {
		name string
		s    ConvShape
	}
	shapes := []shape{
		{"stem-3to32", conv3(16, 32, 3, 32)},
		{"l1-32to32", conv3(16, 32, 32, 32)},
		{"head-32to3", conv3(16, 32, 32, 3)},
		{"l1-1x1-64to32", ConvShape{Batch: 16, H: 32, W: 32, Cin: 64, KH: 1, KW: 1, Cout: 32}},
		{"l2-32to64", conv3(16, 16, 32, 64)},
		{"l2-64to64", conv3(16, 16, 64, 64)},
		{"l3-128to128", conv3(16, 8, 128, 128)},
	}
	if testing.Short() {
		shapes = shapes[:4]
	}
	type data struct {
		x, k, dy []float32
		want     [3]ref
	}
	refs := make([]data, len(shapes))
	for i, sh := range shapes {
		r := rand.New(rand.NewPCG(61, uint64(i)))
		nx, nk, ny := sh.s.Sizes()
		d := data{x: randSlice(r, nx), k: randSlice(r, nk), dy: randSlice(r, ny)}
		d.want[0], d.want[1], d.want[2] = naiveConv(sh.s, d.x, d.k, d.dy)
		refs[i] = d
	}
	r := rand.New(rand.NewPCG(62, 63))
	forEachCase(t, convCases(), func(t *testing.T, o Options) {
		o.Parallelism = 2
		ws := NewWorkspace(o)
		defer ws.Close()
		maxGroups, maxSlots, narrow, winoKGrad := 0, 0, false, false
		for i, sh := range shapes {
			s, d := sh.s, refs[i]
			ws.st.kgrad, ws.st.conv = kgradJob{}, convJob{} // to see which kernel-gradient form ran
			y, dx, dk := runConvForms(t, r, ws, s, d.x, d.k, d.dy)
			compareConvForms(t, ws, s, sh.name, [3][]float32{y, dx, dk}, d.want)
			var how string
			switch {
			case ws.st.kgrad.batch > 0:
				groups := (s.Batch + ws.st.kgrad.group - 1) / ws.st.kgrad.group
				maxGroups = max(maxGroups, groups)
				how = fmt.Sprintf("direct, %d image groups", groups)
			case ws.st.conv.kernelGrad:
				maxSlots = max(maxSlots, ws.st.conv.slots)
				how = fmt.Sprintf("im2col, %d partial sums", ws.st.conv.slots)
			default:
				winoKGrad = true
				how = "Winograd"
			}
			if ws.st.directOK(s) && ws.st.dk.avx512 && s.Cout <= narrowCout && s.Cin%16 == 0 {
				narrow = true
			}
			t.Logf("%s: kernel gradient %s", sh.name, how)
		}
		// The forms each case is there for must have run.
		st := ws.st
		switch {
		case st.dk == nil && maxSlots < 2:
			t.Errorf("no im2col kernel gradient summed more than one partial sum")
		case st.dk != nil && maxGroups < 2:
			t.Errorf("no direct kernel gradient summed more than one group of images")
		case st.dk != nil && st.dk.avx512 && !narrow:
			t.Errorf("the narrow head (convDot4x4) did not run")
		case st.dk != nil && st.dk.avx512 && !st.noWinograd && !winoKGrad:
			t.Errorf("the Winograd kernel gradient did not run")
		}
	})
}
