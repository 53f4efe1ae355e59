package kernels

import "testing"

// BenchmarkMicroKernel measures the micro-kernel alone on L1-resident packed data.
func BenchmarkMicroKernel(b *testing.B) {
	for _, k := range []kernel{simdKernel(), portableKernel()} {
		b.Run(k.name, func(b *testing.B) {
			const kc = 128
			pa := make([]float32, kc*k.aStride)
			pb := make([]float32, kc*nr)
			for i := range pa {
				pa[i] = float32(i%7) * 0.01
			}
			for i := range pb {
				pb[i] = float32(i%5) * 0.01
			}
			c := make([]float32, mr*nr)
			for b.Loop() {
				k.micro(kc, pa, pb, c, nr, mr, nr, 0)
			}
			b.ReportMetric(2*mr*nr*kc*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
