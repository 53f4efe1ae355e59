package kernels

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// The CPUTime tests measure speed in thread CPU time rather than wall time, which
// stays meaningful on a machine shared with other jobs. They run only when
// GEMM_CPUTIME=1 is set.
func skipUnlessCPUTime(t *testing.T) {
	if os.Getenv("GEMM_CPUTIME") != "1" {
		t.Skip("set GEMM_CPUTIME=1 to run")
	}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUTimeKernel(t *testing.T) {
	skipUnlessCPUTime(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, k := range availableKernels() {
		kc := k.kc
		pa := make([]float32, kc*k.aStride)
		pb := make([]float32, kc*k.bStride)
		c := make([]float32, k.mr*k.nr)
		n := 200000
		if k.name == "portable" {
			n = 20000
		}
		t0 := threadCPU()
		for i := 0; i < n; i++ {
			k.micro(kc, pa, pb, c, k.nr, k.mr, k.nr, 0)
		}
		d := threadCPU() - t0
		t.Logf("%s: %.1f GFLOP/s (thread CPU time)", k.name, 2*float64(k.mr*k.nr*kc*n)/d.Seconds()/1e9)
	}
	// packing A
	for _, k := range availableKernels() {
		kc := k.kc
		a := make([]float32, 4*288)
		dst := make([]float32, kc*k.aStride)
		n := 200000
		t0 := threadCPU()
		for i := 0; i < n; i++ {
			k.packA(dst, a, 288, NoTrans, 0, 4, 0, kc, 1)
		}
		d := threadCPU() - t0
		t.Logf("%s packA: %.2f ns/value", k.name, float64(d.Nanoseconds())/float64(n*kc*4))
		t0 = threadCPU()
		for i := 0; i < n; i++ {
			k.packA(dst, a, 4, Trans, 0, 4, 0, kc, 1)
		}
		d = threadCPU() - t0
		t.Logf("%s packA trans: %.2f ns/value", k.name, float64(d.Nanoseconds())/float64(n*kc*4))
	}
}

func TestCPUTimeGemm(t *testing.T) {
	skipUnlessCPUTime(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, sh := range benchShapes {
		m, k, n := sh[0], sh[1], sh[2]
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for _, name := range Kernels() {
			o := Options{Parallelism: 1, Kernel: name, ForcePortable: name == "portable"}
			ws := NewWorkspace(o)
			ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
			reps := 5
			if o.ForcePortable {
				reps = 1
			}
			t0 := threadCPU()
			for i := 0; i < reps; i++ {
				ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
			}
			d := threadCPU() - t0
			t.Logf("%v %s: %.1f GFLOP/s (thread CPU)", sh, ws.Kernel(), 2*float64(m*n*k*reps)/d.Seconds()/1e9)
		}
	}
}

func TestCPUTimeConv(t *testing.T) {
	skipUnlessCPUTime(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := ConvShape{Batch: 16, H: 32, W: 32, Cin: 32, KH: 3, KW: 3, Cout: 32,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1}
	nx, nk, ny := s.Sizes()
	x, k, y := make([]float32, nx), make([]float32, nk), make([]float32, ny)
	dx, dk := make([]float32, nx), make([]float32, nk)
	flops := 2 * float64(ny) * float64(s.KH*s.KW*s.Cin)
	ws := NewWorkspace(Options{Parallelism: 1})
	for _, op := range []string{"forward", "inputgrad", "kernelgrad"} {
		f := func() {
			switch op {
			case "forward":
				ws.Conv2D(s, x, k, y)
			case "inputgrad":
				ws.Conv2DInputGrad(s, y, k, dx)
			default:
				ws.Conv2DKernelGrad(s, x, y, dk)
			}
		}
		f()
		t0 := threadCPU()
		for i := 0; i < 5; i++ {
			f()
		}
		d := threadCPU() - t0
		t.Logf("conv %s %s: %.1f GFLOP/s (thread CPU)", op, ws.Kernel(), 5*flops/d.Seconds()/1e9)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUTimeParallel reports, for two goroutines, GFLOP per process-CPU-second
// times two: the two-core rate the machine would give if it were not shared
// (an estimate: time spent waiting idle is not counted).
func TestCPUTimeParallel(t *testing.T) {
	skipUnlessCPUTime(t)
	for _, sh := range benchShapes {
		m, k, n := sh[0], sh[1], sh[2]
		a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		ws := NewWorkspace(Options{Parallelism: 2})
		ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
		const reps = 10
		t0, w0 := processCPU(), time.Now()
		for i := 0; i < reps; i++ {
			ws.Sgemm(NoTrans, NoTrans, m, n, k, 1, a, k, b, n, 0, c, n)
		}
		d, wall := processCPU()-t0, time.Since(w0)
		fl := 2 * float64(m*n*k*reps)
		t.Logf("%v %s p2: %.1f GFLOP/s per 2 CPU-seconds, %.1f GFLOP/s wall", sh, ws.Kernel(), 2*fl/d.Seconds()/1e9, fl/wall.Seconds()/1e9)
		ws.Close()
	}
}
