package fastcpu

// cpuPause executes PAUSE: a spin-wait hint that also lets a hypervisor notice a spinning
// virtual CPU (pause-loop exiting) and run another one on the physical CPU.
//
//go:noescape
func cpuPause()
