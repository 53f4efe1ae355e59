package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// naive computes the reference result in float64, with the magnitudes of
// what each element adds up (see ref).
func naive(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) ref {
	out := newRef(len(c))
	for i := range c {
		out.v[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			old := float64(c[i*ldc+j])
			if beta == 0 {
				old = 0
			}
			out.v[i*ldc+j] = float64(alpha)*s + float64(beta)*old
			out.abs[i*ldc+j] = math.Abs(float64(alpha))*abs + math.Abs(float64(beta)*old)
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	return x
}

type caseSpec struct {
	tA, tB      Transpose
	m, n, k     int
	alpha, beta float32
	padA, padB  int
	padC        int
	parallelism int
}

func runCase(t *testing.T, r *rand.Rand, ws *Workspace, cs caseSpec) {
	t.Helper()
	ar, ac := cs.m, cs.k
	if cs.tA {
		ar, ac = cs.k, cs.m
	}
	br, bc := cs.k, cs.n
	if cs.tB {
		br, bc = cs.n, cs.k
	}
	lda, ldb, ldc := max(ac, 1)+cs.padA, max(bc, 1)+cs.padB, max(cs.n, 1)+cs.padC
	a := randSlice(r, max(ar*lda, 1))
	b := randSlice(r, max(br*ldb, 1))
	c := randSlice(r, max(cs.m*ldc, 1))
	if cs.beta == 0 && cs.m > 0 && cs.n > 0 {
		c[0] = float32(math.NaN()) // must not propagate when beta == 0
	}
	want := naive(cs.tA, cs.tB, cs.m, cs.n, cs.k, cs.alpha, a, lda, b, ldb, cs.beta, c, ldc)
	if err := ws.Sgemm(cs.tA, cs.tB, cs.m, cs.n, cs.k, cs.alpha, a, lda, b, ldb, cs.beta, c, ldc); err != nil {
		t.Fatalf("%+v: %v", cs, err)
	}
	compare(t, fmt.Sprintf("%+v", cs), c, want, cs.k, false)
}

func TestSgemmRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	forEachCase(t, gemmCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2, 3} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			t.Run(fmt.Sprintf("p%d", par), func(t *testing.T) {
				n := 300
				if testing.Short() {
					n = 60
				}
				for it := 0; it < n; it++ {
					cs := caseSpec{
						tA: r.IntN(2) == 1, tB: r.IntN(2) == 1,
						m: 1 + r.IntN(67), n: 1 + r.IntN(67), k: 1 + r.IntN(67),
						alpha: []float32{1, -0.5, 2.25}[r.IntN(3)],
						beta:  []float32{0, 1, 0.75}[r.IntN(3)],
					}
					if r.IntN(3) == 0 {
						cs.padA, cs.padB, cs.padC = r.IntN(5), r.IntN(5), r.IntN(5)
					}
					runCase(t, r, ws, cs)
				}
			})
			ws.Close()
		}
	})
}

func TestSgemmEdgeShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forEachCase(t, gemmCases(), func(t *testing.T, o Options) {
		ws := NewWorkspace(o)
		defer ws.Close()
		for _, sz := range [][3]int{{1, 1, 1}, {1, 1, 300}, {300, 1, 1}, {1, 300, 1}, {5, 7, 0},
			{0, 5, 5}, {5, 0, 5}, {4, 16, 1}, {4, 16, 2}, {4, 16, 129}, {8, 32, 257}, {3, 600, 17},
			{600, 3, 17}, {2, 1030, 5}, {129, 1, 129}, {1, 129, 129}} {
			for _, tr := range [][2]Transpose{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0, 0.5}, {-1.5, 1}, {0.5, -2}} {
					runCase(t, r, ws, caseSpec{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2],
						alpha: ab[0], beta: ab[1], padA: 1, padC: 3})
				}
			}
		}
	})
}

func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the large products are not tested")
	}
	r := rand.New(rand.NewPCG(5, 6))
	forEachCase(t, gemmCases(), func(t *testing.T, o Options) {
		o.Parallelism = 2
		ws := NewWorkspace(o)
		defer ws.Close()
		for _, sz := range [][3]int{{257, 300, 520}, {1000, 33, 290}, {31, 1100, 70}, {130, 130, 1030}} {
			for _, tr := range [][2]Transpose{{false, false}, {true, true}, {true, false}, {false, true}} {
				runCase(t, r, ws, caseSpec{tA: tr[0], tB: tr[1], m: sz[0], n: sz[1], k: sz[2],
					alpha: 1, beta: 0.5, padB: 2, padC: 1})
			}
		}
	})
}

func TestSgemmBatched(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forEachCase(t, gemmCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2, 4} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			for _, sz := range [][4]int{{3, 5, 7, 4}, {64, 64, 64, 5}, {200, 40, 100, 2}, {1, 1, 1, 9}, {17, 33, 9, 1}} {
				m, n, k, batch := sz[0], sz[1], sz[2], sz[3]
				for _, tr := range [][2]Transpose{{false, false}, {true, true}} {
					for _, shareB := range []bool{false, true} {
						lda, ldb, ldc := k+1, n, n+2
						if tr[0] {
							lda = m + 1
						}
						if tr[1] {
							ldb = k
						}
						sa := m*lda + 3
						if tr[0] {
							sa = k*lda + 3
						}
						sb := k * ldb
						if tr[1] {
							sb = n * ldb
						}
						if shareB {
							sb = 0
						}
						sc := m*ldc + 1
						a := randSlice(r, sa*batch)
						b := randSlice(r, max(sb*batch, n*k+n*ldb+k*ldb))
						c := randSlice(r, sc*batch)
						want := make([]ref, batch)
						for e := 0; e < batch; e++ {
							want[e] = naive(tr[0], tr[1], m, n, k, 1.5, a[e*sa:], lda, b[e*sb:], ldb, 0.25, c[e*sc:(e+1)*sc], ldc)
						}
						if err := ws.SgemmBatched(tr[0], tr[1], m, n, k, 1.5, a, lda, sa, b, ldb, sb, 0.25, c, ldc, sc, batch); err != nil {
							t.Fatal(err)
						}
						for e := 0; e < batch; e++ {
							compare(t, fmt.Sprintf("batched %v %v e=%d", sz, tr, e), c[e*sc:(e+1)*sc], want[e], k, false)
						}
					}
				}
			}
			ws.Close()
		}
	})
}

func TestSgemmErrors(t *testing.T) {
	ws := NewWorkspace(Options{})
	defer ws.Close()
	a := make([]float32, 12)
	c := make([]float32, 12)
	cases := []struct {
		name string
		err  error
	}{
		{"negative m", ws.Sgemm(NoTrans, NoTrans, -1, 3, 3, 1, a, 3, a, 3, 0, c, 3)},
		{"short A", ws.Sgemm(NoTrans, NoTrans, 5, 3, 3, 1, a, 3, a, 3, 0, c, 3)},
		{"small lda", ws.Sgemm(NoTrans, NoTrans, 2, 3, 3, 1, a, 2, a, 3, 0, c, 3)},
		{"small ldb trans", ws.Sgemm(NoTrans, Trans, 2, 3, 3, 1, a, 3, a, 2, 0, c, 3)},
		{"short C", ws.Sgemm(NoTrans, NoTrans, 4, 4, 1, 1, a, 1, a, 4, 0, c, 4)},
		{"batched C stride 0", ws.SgemmBatched(NoTrans, NoTrans, 2, 2, 2, 1, a, 2, 0, a, 2, 0, 0, c, 2, 0, 2)},
		{"negative stride", ws.SgemmBatched(NoTrans, NoTrans, 2, 2, 2, 1, a, 2, -1, a, 2, 0, 0, c, 2, 4, 2)},
		{"nil workspace", (*Workspace)(nil).Sgemm(NoTrans, NoTrans, 1, 1, 1, 1, a, 1, a, 1, 0, c, 1)},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	ws2 := NewWorkspace(Options{})
	ws2.Close()
	ws2.Close()
	if err := ws2.Sgemm(NoTrans, NoTrans, 1, 1, 1, 1, a, 1, a, 1, 0, c, 1); err != ErrClosed {
		t.Errorf("closed workspace: err = %v", err)
	}
	// Empty products are valid and leave C alone (m or n zero) or scale it (k zero).
	if err := ws.Sgemm(NoTrans, NoTrans, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1); err != nil {
		t.Errorf("empty product: %v", err)
	}
}

func TestKernelNames(t *testing.T) {
	if got := NewWorkspace(Options{ForcePortable: true}).Kernel(); got != "portable" {
		t.Errorf("forced portable kernel is %q", got)
	}
	k := Kernel()
	want := "portable"
	if simdAvailable() {
		want = "avx2-fma"
	}
	if avx512Available() {
		want = "avx512"
	}
	if k != want {
		t.Errorf("Kernel() = %q, want %q", k, want)
	}
	if ks := Kernels(); ks[len(ks)-1] != want {
		t.Errorf("Kernels() = %v, want %q last", ks, want)
	}
	for _, name := range Kernels() {
		if got := NewWorkspace(Options{Kernel: name}).Kernel(); got != name {
			t.Errorf("Options{Kernel: %q} gives %q", name, got)
		}
	}
	t.Logf("Kernel() = %q, Kernels() = %v", k, Kernels())
}

func TestSteadyStateAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	m, n, k := 256, 256, 256
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	forEachCase(t, gemmCases(), func(t *testing.T, o Options) {
		for _, par := range []int{1, 2} {
			o.Parallelism = par
			ws := NewWorkspace(o)
			f := func() {
				if err := ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n); err != nil {
					t.Fatal(err)
				}
			}
			f()
			if allocs := testing.AllocsPerRun(10, f); allocs != 0 {
				t.Errorf("parallelism %d: %v allocations per call", par, allocs)
			}
			ws.Close()
		}
	})
}

func TestConvenienceSgemm(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	b := []float32{5, 6, 7, 8}
	c := make([]float32, 4)
	if err := Sgemm(NoTrans, NoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2); err != nil {
		t.Fatal(err)
	}
	want := []float32{19, 22, 43, 50}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("c = %v, want %v", c, want)
		}
	}
}

func TestDroppedWorkspaceStopsHelpers(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ws := NewWorkspace(Options{Parallelism: 4})
		m := 128
		a := make([]float32, m*m)
		if err := ws.Sgemm(NoTrans, NoTrans, m, m, m, 1, a, m, a, m, 0, make([]float32, m*m), m); err != nil {
			t.Fatal(err)
		}
		if runtime.NumGoroutine() <= before {
			t.Fatal("no helper goroutines were started")
		}
	}()
	for i := 0; i < 50 && runtime.NumGoroutine() > before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after dropping the workspace, %d before", n, before)
	}
}

func TestConcurrentWorkspaces(t *testing.T) {
	const m, n, k = 70, 90, 110
	r := rand.New(rand.NewPCG(15, 16))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := naive(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, make([]float32, m*n), n)
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			ws := NewWorkspace(Options{Parallelism: 2})
			defer ws.Close()
			c := make([]float32, m*n)
			for it := 0; it < 20; it++ {
				if err := ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n); err != nil {
					errs <- err
					return
				}
				for i := range c {
					if d := math.Abs(float64(c[i]) - want.v[i]); d > tolerance(k, want.abs[i], false) {
						errs <- fmt.Errorf("element %d = %g, want %g", i, c[i], want.v[i])
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestConvKernelsDescribesTheChoice(t *testing.T) {
	got := ConvKernels()
	var want string
	switch {
	case hasDirectAVX512():
		want = "direct avx512 8x32 + Winograd F(2x2,3x3)"
	case hasDirectAVX2():
		want = "direct avx2-fma 6x16 + Winograd F(2x2,3x3)"
	default:
		want = "im2col + GEMM"
	}
	if got != want {
		t.Errorf("ConvKernels() = %q, want %q", got, want)
	}
}
