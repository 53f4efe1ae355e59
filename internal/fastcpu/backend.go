package fastcpu

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/pkg/errors"

	"github.com/fm-image/fm-image/internal/fastcpu/kernels"
)

// Name is the name under which this backend is registered with GoMLX (usable in GOMLX_BACKEND).
const Name = "fastcpu"

func init() {
	backends.Register(Name, New)
}

// Backend is the fastcpu backend: it creates Builders and owns the buffers' free list and the
// GEMM workspaces shared by all executables.
type Backend struct {
	parallelism int
	noFusion    bool
	gemmOpts    kernels.Options // kernel choices of the GEMM workspaces (Parallelism is set per workspace)
	pool        *bufferPool

	profMu  sync.Mutex
	profile map[string][2]time.Duration // per-op wall and CPU time, when enabled by the "profile" option

	wsMu       sync.Mutex
	workspaces []*kernels.Workspace

	team *team // helper goroutines for this package's parallel loops (nil when parallelism is 1)

	finalized bool

	// OnCompile, if set, is called with every Builder just before it compiles (for
	// instrumentation, e.g. Builder.OpCounts). It must not keep the Builder.
	OnCompile func(b *Builder)
}

// Compile-time check.
var _ backends.Backend = (*Backend)(nil)

// New returns a fastcpu backend. config is a comma-separated list of options:
//
//   - "parallelism=N": the number of goroutines heavy ops use (default GOMAXPROCS);
//   - "kernel=NAME": the GEMM and convolution kernels ("avx512", "avx2-fma", "portable"; see
//     kernels.Kernels), to measure what a CPU without AVX-512 would run;
//   - "nodirectconv", "nowinograd": convolutions as im2col + GEMM, or without the Winograd form;
//   - "nofusion": run elementwise ops one by one (for comparisons);
//   - "profile": accumulate the time spent per op type (see Profile).
func New(config string) (backends.Backend, error) {
	b := &Backend{parallelism: runtime.GOMAXPROCS(0), pool: newBufferPool()}
	for _, opt := range strings.Split(config, ",") {
		opt = strings.TrimSpace(opt)
		switch {
		case opt == "":
		case opt == "nofusion":
			b.noFusion = true
		case opt == "profile":
			b.profile = make(map[string][2]time.Duration)
		case strings.HasPrefix(opt, "kernel="):
			name := strings.TrimPrefix(opt, "kernel=")
			if !slices.Contains(kernels.Kernels(), name) {
				return nil, errors.Errorf("fastcpu: bad option %q: kernel must be one of %v on this machine and build", opt, kernels.Kernels())
			}
			b.gemmOpts.Kernel = name
			b.gemmOpts.ForcePortable = name == "portable"
		case opt == "nodirectconv":
			b.gemmOpts.NoDirectConv = true
		case opt == "nowinograd":
			b.gemmOpts.NoWinograd = true
		case strings.HasPrefix(opt, "parallelism="):
			n, err := strconv.Atoi(strings.TrimPrefix(opt, "parallelism="))
			if err != nil || n < 1 {
				return nil, errors.Errorf("fastcpu: bad option %q: parallelism must be a positive integer", opt)
			}
			b.parallelism = n
		default:
			return nil, errors.Errorf("fastcpu: unknown option %q in config %q (valid: parallelism=N, nofusion, profile, kernel=NAME, nodirectconv, nowinograd)", opt, config)
		}
	}
	if b.parallelism > 1 {
		b.team = newTeam(b.parallelism - 1)
	}
	return b, nil
}

// Name implements backends.Backend.
func (b *Backend) Name() string { return Name }

// String implements backends.Backend.
func (b *Backend) String() string { return Name }

// Description implements backends.Backend.
func (b *Backend) Description() string {
	return fmt.Sprintf("fm-image fast CPU backend (GEMM kernel %s, %d goroutines)", kernels.Kernel(), b.parallelism)
}

// NumDevices implements backends.Backend: one device, the CPU.
func (b *Backend) NumDevices() int { return 1 }

// DeviceDescription implements backends.Backend.
func (b *Backend) DeviceDescription(deviceNum backends.DeviceNum) string {
	return fmt.Sprintf("CPU (%d goroutines)", b.parallelism)
}

// Capabilities implements backends.Backend: the ops and dtypes this package implements.
func (b *Backend) Capabilities() backends.Capabilities {
	caps := backends.Capabilities{
		Operations: make(map[backends.OpType]bool, len(implementedOps)),
		DTypes:     make(map[dtypes.DType]bool),
	}
	for op := range implementedOps {
		caps.Operations[op] = true
	}
	for _, dt := range supportedDTypes {
		caps.DTypes[dt] = true
	}
	return caps
}

// Builder implements backends.Backend.
func (b *Backend) Builder(name string) backends.Builder { return newBuilder(b, name) }

// Finalize implements backends.Backend: it releases the free list and the GEMM workspaces.
func (b *Backend) Finalize() {
	b.wsMu.Lock()
	for _, w := range b.workspaces {
		w.Close()
	}
	b.workspaces = nil
	if b.team != nil && !b.finalized {
		b.team.close()
	}
	b.finalized = true
	b.wsMu.Unlock()
	b.pool.clear()
}

// IsFinalized implements backends.Backend.
func (b *Backend) IsFinalized() bool { return b.finalized }

// getWorkspace takes a GEMM workspace from the backend's list (or makes one). A workspace serves
// one Execute at a time.
func (b *Backend) getWorkspace() *kernels.Workspace {
	b.wsMu.Lock()
	defer b.wsMu.Unlock()
	if n := len(b.workspaces); n > 0 {
		w := b.workspaces[n-1]
		b.workspaces = b.workspaces[:n-1]
		return w
	}
	o := b.gemmOpts
	o.Parallelism = b.parallelism
	if b.team != nil {
		o.RunParts = b.team.runParts
	}
	return kernels.NewWorkspace(o)
}

// putWorkspace returns a workspace taken with getWorkspace.
func (b *Backend) putWorkspace(w *kernels.Workspace) {
	b.wsMu.Lock()
	defer b.wsMu.Unlock()
	if b.finalized {
		w.Close()
		return
	}
	b.workspaces = append(b.workspaces, w)
}

// Profile returns the wall-clock and process CPU time spent per op type ("fused" for fused
// elementwise groups; convolutions by kind) since the backend was created with the "profile"
// option (nil without it).
func (b *Backend) Profile() map[string][2]time.Duration {
	b.profMu.Lock()
	defer b.profMu.Unlock()
	if b.profile == nil {
		return nil
	}
	out := make(map[string][2]time.Duration, len(b.profile))
	for k, v := range b.profile {
		out[k] = v
	}
	return out
}

// ResetProfile clears the times Profile reports (for example after warm-up steps).
func (b *Backend) ResetProfile() {
	b.profMu.Lock()
	defer b.profMu.Unlock()
	if b.profile != nil {
		clear(b.profile)
	}
}

// addProfile records time spent in an op type.
func (b *Backend) addProfile(op string, wall, cpu time.Duration) {
	b.profMu.Lock()
	p := b.profile[op]
	p[0] += wall
	p[1] += cpu
	b.profile[op] = p
	b.profMu.Unlock()
}
