package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv returns y, and for the given dy the gradients dx and dk, in float64.
func naiveConv(s ConvShape, x, k, dy []float32) (y, dx, dk []float64) {
	ho, wo := s.OutSize()
	ah, aw := s.axes()
	nx, nk, ny := s.Sizes()
	y, dx, dk = make([]float64, ny), make([]float64, nx), make([]float64, nk)
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
						for c := 0; c < s.Cin; c++ {
							xi := ((b*s.H+h)*s.W+w)*s.Cin + c
							for o := 0; o < s.Cout; o++ {
								yi := ((b*ho+i)*wo+j)*s.Cout + o
								ki := ((kh*s.KW+kw)*s.Cin+c)*s.Cout + o
								y[yi] += float64(x[xi]) * float64(k[ki])
								dx[xi] += float64(dy[yi]) * float64(k[ki])
								dk[ki] += float64(x[xi]) * float64(dy[yi])
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dk
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
	compare(t, name+" y", y, wy, s.KH*s.KW*s.Cin)
	compare(t, name+" dx", dx, wdx, s.KH*s.KW*s.Cout)
	compare(t, name+" dk", dk, wdk, ny)
	return x, k, dy, y, dx, dk
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
	for _, o := range kernelsToTest(t) {
		for _, par := range []int{1, 2, 3} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			for _, s := range shapes {
				name := fmt.Sprintf("%s/p%d/%+v", ws.Kernel(), par, s)
				checkConvForms(t, r, ws, s, name)
			}
			ws.Close()
		}
	}
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
	for _, o := range kernelsToTest(t) {
		o.Parallelism = 2
		ws := NewWorkspace(o)
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
			nx, nk, ny := s.Sizes()
			name := fmt.Sprintf("%s/%+v", ws.Kernel(), s)
			x, k, dy := randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
			wy, wdx, wdk := naiveConv(s, x, k, dy)
			y, dx, dk := runConvForms(t, r, ws, s, x, k, dy)
			compare(t, name+" y", y, wy, nk)
			compare(t, name+" dx", dx, wdx, nk)
			compare(t, name+" dk", dk, wdk, ny)
		}
		t.Logf("%s: %d of 150 random shapes valid", ws.Kernel(), valid)
		if valid < 50 {
			t.Errorf("only %d of 150 random shapes were valid", valid)
		}
		ws.Close()
	}
}

func TestConvSteadyStateAllocs(t *testing.T) {
	s := ConvShape{Batch: 2, H: 16, W: 16, Cin: 8, KH: 3, KW: 3, Cout: 16, StrideH: 1, StrideW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	nx, nk, ny := s.Sizes()
	x, k, y := make([]float32, nx), make([]float32, nk), make([]float32, ny)
	for _, par := range []int{1, 2} {
		ws := NewWorkspace(Options{Parallelism: par})
		for name, f := range map[string]func() error{
			"forward":    func() error { return ws.Conv2D(s, x, k, y) },
			"inputgrad":  func() error { return ws.Conv2DInputGrad(s, y, k, x) },
			"kernelgrad": func() error { return ws.Conv2DKernelGrad(s, x, y, k) },
		} {
			if err := f(); err != nil {
				t.Fatal(err)
			}
			if allocs := testing.AllocsPerRun(5, func() { _ = f() }); allocs != 0 {
				t.Errorf("%s, parallelism %d: %v allocations per call", name, par, allocs)
			}
		}
		ws.Close()
	}
}

// TestConvDirect checks the direct convolutions (direct.go) on the shapes that
// exercise their edges: partial pixel groups (W not a multiple of 8), partial
// channel strips (Cout, Cin not multiples of 32 or 8), 1×1 kernels with and
// without padding, asymmetric padding, and several strips and image groups.
func TestConvDirect(t *testing.T) {
	var kernels []string
	if hasDirectAVX512() {
		kernels = append(kernels, directAVX512.name)
	}
	if hasDirectAVX2() {
		kernels = append(kernels, directAVX2.name)
	}
	if len(kernels) == 0 {
		t.Skip("neither AVX-512 nor AVX2 on this machine: the direct convolutions are not used")
	}
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
	for _, kn := range kernels {
		for _, par := range []int{1, 2, 3} {
			ws := NewWorkspace(Options{Parallelism: par, Kernel: kn})
			for _, s := range shapes {
				if !ws.st.directOK(s) || ws.st.dk.name != kn {
					t.Fatalf("%+v: not run as a direct convolution with the %s tiles", s, kn)
				}
				name := fmt.Sprintf("direct-%s/p%d/%+v", kn, par, s)
				checkConvForms(t, r, ws, s, name)
			}
			ws.Close()
		}
	}
}

// TestConvWinograd checks the Winograd F(2×2, 3×3) forms (winograd.go) of the
// forward and input-gradient convolutions against the float64 reference and
// against the direct tiles (the kernel gradient, which stays direct, is
// checked along), on shapes that use them:
// several blocks of tiles with a partial last one, no padding, asymmetric
// padding, and channel counts that are multiples of 16 but not of the tile width.
func TestConvWinograd(t *testing.T) {
	var kernels []string
	if hasDirectAVX512() {
		kernels = append(kernels, directAVX512.name)
	}
	if hasDirectAVX2() {
		kernels = append(kernels, directAVX2.name)
	}
	if len(kernels) == 0 {
		t.Skip("neither AVX-512 nor AVX2 on this machine: the Winograd form is not used")
	}
	r := rand.New(rand.NewPCG(31, 32))
	shapes := []ConvShape{
		{Batch: 3, H: 32, W: 32, Cin: 32, KH: 3, KW: 3, Cout: 48, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 10, W: 12, Cin: 16, KH: 3, KW: 3, Cout: 16},
		{Batch: 1, H: 6, W: 8, Cin: 16, KH: 3, KW: 3, Cout: 32, PadTop: 2, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 8, W: 8, Cin: 256, KH: 3, KW: 3, Cout: 128, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
	}
	for _, kn := range kernels {
		for _, par := range []int{1, 2, 3} {
			ws := NewWorkspace(Options{Parallelism: par, Kernel: kn})
			ref := NewWorkspace(Options{Parallelism: par, Kernel: kn, NoWinograd: true})
			for _, s := range shapes {
				ho, wo := s.OutSize()
				if ws.st.dk.name != kn || !ws.st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout) ||
					!ws.st.winogradOK(s.KH, s.KW, s.H, s.W, s.Cout, s.Cin) {
					t.Fatalf("%+v: not run in the Winograd form with the %s tiles", s, kn)
				}
				name := fmt.Sprintf("winograd-%s/p%d/%+v", kn, par, s)
				x, k, dy, y, dx, dk := checkConvForms(t, r, ws, s, name)
				// Against the direct tiles, element by element.
				y2, dx2, dk2 := runConvForms(t, r, ref, s, x, k, dy)
				for _, c := range []struct {
					what string
					a, b []float32
				}{{"y", y, y2}, {"dx", dx, dx2}, {"dk", dk, dk2}} {
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
	}
}

// TestConvSameResultWithAnyWorkerCount checks that the convolutions give
// bit-identical results with 1, 2 or 3 goroutines (training resumes and
// repeated runs must match exactly).
func TestConvSameResultWithAnyWorkerCount(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	shapes := []ConvShape{
		{Batch: 4, H: 16, W: 16, Cin: 32, KH: 3, KW: 3, Cout: 32, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 3, H: 9, W: 11, Cin: 5, KH: 3, KW: 3, Cout: 7, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1},
		{Batch: 2, H: 8, W: 8, Cin: 64, KH: 1, KW: 1, Cout: 48},
	}
	for _, s := range shapes {
		nx, nk, ny := s.Sizes()
		x, k, dy := randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
		var first [3][]float32
		for _, par := range []int{1, 2, 3} {
			ws := NewWorkspace(Options{Parallelism: par})
			var got [3][]float32
			got[0], got[1], got[2] = runConvForms(t, r, ws, s, x, k, dy)
			ws.Close()
			if par == 1 {
				first = got
				continue
			}
			for i, name := range []string{"y", "dx", "dk"} {
				for j := range got[i] {
					if got[i][j] != first[i][j] {
						t.Errorf("%+v %s: %d goroutines give %v at %d, 1 gives %v", s, name, par, got[i][j], j, first[i][j])
						break
					}
				}
			}
		}
	}
}

// TestConvFastFormsRandomShapes draws stride-1 convolutions with channel counts
// that reach the direct, Winograd and narrow-output forms (multiples of 16,
// odd counts, 1-4 outputs), odd and even sizes and random paddings, and checks
// every form against the float64 reference.
func TestConvFastFormsRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	chans := []int{1, 3, 4, 5, 17, 16, 16, 32, 32, 48}
	n := 200
	if testing.Short() {
		n = 60
	}
	ws := NewWorkspace(Options{Parallelism: 2})
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
		checkConvForms(t, r, ws, s, fmt.Sprintf("%s/%+v", ConvKernels(), s))
	}
	if tried < n/2 {
		t.Errorf("only %d of %d random shapes were valid", tried, n)
	}
	if ws.st.dk != nil && winograd < 3 {
		t.Errorf("only %d of %d random shapes used the Winograd form", winograd, tried)
	}
	t.Logf("%d shapes, %d in the Winograd form", tried, winograd)
}
