package kernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchKernels returns the kernel settings to compare: every available kernel
// forced, and the automatic choice ("auto") where there is more than one SIMD
// kernel.
func benchKernels() []benchKernel {
	var ks []benchKernel
	for _, name := range Kernels() {
		ks = append(ks, benchKernel{name, Options{Kernel: name, ForcePortable: name == "portable"}})
	}
	if len(ks) > 2 {
		ks = append(ks, benchKernel{"auto", Options{}})
	}
	if hasDirectAVX512() || hasDirectAVX2() {
		ks = append(ks, benchKernel{"auto-im2col", Options{NoDirectConv: true}})
	}
	return ks
}

type benchKernel struct {
	name string
	opts Options
}

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
	kernels := benchKernels()
	for _, sh := range benchShapes {
		m, k, n := sh[0], sh[1], sh[2]
		r := rand.New(rand.NewPCG(uint64(m), uint64(n)))
		a, bm, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, bk := range kernels {
			for _, par := range []int{1, 2} {
				o := bk.opts
				o.Parallelism = par
				ws := NewWorkspace(o)
				b.Run(fmt.Sprintf("%dx%dx%d/%s/p%d", m, k, n, bk.name, par), func(b *testing.B) {
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

// BenchmarkConv reports GFLOP/s of the convolution helpers on a U-Net-like
// layer: 16 images of 32×32×32, 3×3 kernel to 32 channels, padding 1 (the GEMM
// is 16384×288×32).
func BenchmarkConv(b *testing.B) {
	s := ConvShape{Batch: 16, H: 32, W: 32, Cin: 32, KH: 3, KW: 3, Cout: 32,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	nx, nk, ny := s.Sizes()
	r := rand.New(rand.NewPCG(1, 1))
	x, k, y := randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
	dx, dk := make([]float32, nx), make([]float32, nk)
	flops := 2 * float64(ny) * float64(s.KH*s.KW*s.Cin)
	kernels := benchKernels()
	for _, bk := range kernels {
		for _, par := range []int{1, 2} {
			o := bk.opts
			o.Parallelism = par
			ws := NewWorkspace(o)
			for _, op := range []string{"forward", "inputgrad", "kernelgrad"} {
				b.Run(fmt.Sprintf("%s/%s/p%d", op, bk.name, par), func(b *testing.B) {
					benchConvForm(b, ws, op, s, x, k, y, dx, dk, flops)
				})
			}
			ws.Close()
		}
	}
}

// unetConvShapes are ref-unet-32's convolutions at batch 16 on 32×32 images
// (name: level, Cin→Cout, kernel).
var unetConvShapes = []struct {
	name string
	s    ConvShape
}{
	{"stem-3to32", conv3(16, 32, 3, 32)},
	{"l1-32to32", conv3(16, 32, 32, 32)},
	{"l1-64to32", conv3(16, 32, 64, 32)},
	{"head-32to3", conv3(16, 32, 32, 3)},
	{"l2-32to64", conv3(16, 16, 32, 64)},
	{"l2-64to64", conv3(16, 16, 64, 64)},
	{"l2-128to64", conv3(16, 16, 128, 64)},
	{"l3-64to128", conv3(16, 8, 64, 128)},
	{"l3-128to128", conv3(16, 8, 128, 128)},
	{"l3-256to128", conv3(16, 8, 256, 128)},
	{"l1-1x1-64to32", ConvShape{Batch: 16, H: 32, W: 32, Cin: 64, KH: 1, KW: 1, Cout: 32}},
	{"l3-1x1-256to128", ConvShape{Batch: 16, H: 8, W: 8, Cin: 256, KH: 1, KW: 1, Cout: 128}},
}

func conv3(batch, hw, cin, cout int) ConvShape {
	return ConvShape{Batch: batch, H: hw, W: hw, Cin: cin, KH: 3, KW: 3, Cout: cout,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
}

// BenchmarkConvUNet reports GFLOP/s of each convolution form on ref-unet-32's
// layers, on two goroutines, with the automatic kernel choice ("-direct": with
// the Winograd form turned off). GFLOP/s counts the direct form's
// multiply-adds, so the Winograd form shows as a higher rate.
//
//	GOEXPERIMENT=simd go test ./internal/fastcpu/kernels -run XXX -bench ConvUNet
func BenchmarkConvUNet(b *testing.B) {
	auto := NewWorkspace(Options{Parallelism: 2})
	defer auto.Close()
	direct := NewWorkspace(Options{Parallelism: 2, NoWinograd: true})
	defer direct.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range unetConvShapes {
		s := c.s
		nx, nk, ny := s.Sizes()
		x, k, y := randSlice(r, nx), randSlice(r, nk), randSlice(r, ny)
		dx, dk := make([]float32, nx), make([]float32, nk)
		flops := 2 * float64(ny) * float64(s.KH*s.KW*s.Cin)
		for _, op := range []string{"forward", "inputgrad", "kernelgrad", "forward-direct", "inputgrad-direct", "kernelgrad-direct"} {
			ws := auto
			if strings.HasSuffix(op, "-direct") {
				ws = direct
				ho, wo := s.OutSize()
				if !auto.st.winogradOK(s.KH, s.KW, ho, wo, s.Cin, s.Cout) ||
					(op == "kernelgrad-direct" && !auto.st.winogradKernelGradOK(s)) {
					continue // the same as without the suffix
				}
			}
			b.Run(c.name+"/"+op, func(b *testing.B) {
				benchConvForm(b, ws, strings.TrimSuffix(op, "-direct"), s, x, k, y, dx, dk, flops)
			})
		}
	}
}

// benchConvForm times one convolution form ("forward", "inputgrad" or
// "kernelgrad") of s on ws, with y doubling as the output gradient, and
// reports GFLOP/s for flops per call.
func benchConvForm(b *testing.B, ws *Workspace, form string, s ConvShape, x, k, y, dx, dk []float32, flops float64) {
	for b.Loop() {
		var err error
		switch form {
		case "forward":
			err = ws.Conv2D(s, x, k, y)
		case "inputgrad":
			err = ws.Conv2DInputGrad(s, y, k, dx)
		default:
			err = ws.Conv2DKernelGrad(s, x, y, dk)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
