package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the U-Net's GEMM shapes, M×K×N.
var benchShapes = [][3]int{
	{16384, 288, 32},
	{4096, 576, 64},
	{1024, 1152, 128},
	{16384, 32, 288},
	{1024, 1024, 1024},
}

// BenchmarkSgemm reports GFLOP/s for each U-Net shape, kernel and goroutine count.
func BenchmarkSgemm(b *testing.B) {
	kernels := []Options{{ForcePortable: true}}
	if simdAvailable() {
		kernels = append([]Options{{}}, kernels...)
	}
	for _, sh := range benchShapes {
		m, k, n := sh[0], sh[1], sh[2]
		r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
		a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, o := range kernels {
			for _, par := range []int{1, 2} {
				o.Parallelism = par
				ws := NewWorkspace(o)
				b.Run(fmt.Sprintf("%dx%dx%d/%s/p%d", m, k, n, ws.Kernel(), par), func(b *testing.B) {
					for b.Loop() {
						if err := ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, bm, n, 0, c, n); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
				ws.Close()
			}
		}
	}
}
