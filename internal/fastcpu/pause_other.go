//go:build !amd64

package fastcpu

// cpuPause is a spin-wait hint; a no-op on this architecture.
func cpuPause() {}
