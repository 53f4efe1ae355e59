package backend

import (
	"os"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/fm-image/fm-image/internal/fmcpu"
)

func TestSelect(t *testing.T) {
	tests := []struct {
		spec, env string
		wantName  string // Backend.String(); "" when an error is expected
		wantErr   string
	}{
		{spec: "", env: "", wantName: Default},
		{spec: "", env: "fmcpu", wantName: fmcpu.Name},
		{spec: "fastcpu", env: "go", wantName: Default},
		{spec: "", env: "fmcpu-filled", wantName: fmcpu.FilledInName},
		{spec: "", env: "go", wantName: "go"},
		{spec: "fmcpu", env: "go", wantName: fmcpu.Name},
		{spec: "fmcpu:parallelism=1", wantName: fmcpu.Name},
		{spec: "fmcpu:bogus", wantErr: "unknown configuration option"},
		{spec: "tpu", wantErr: `valid backends: "fastcpu" (default), "fmcpu"`},
	}
	for _, tc := range tests {
		t.Run(tc.spec+"|"+tc.env, func(t *testing.T) {
			t.Setenv(backends.ConfigEnvVar, tc.env)
			b, err := Select(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Select(%q): got error %v, want one containing %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select(%q): %v", tc.spec, err)
			}
			defer b.Finalize()
			if b.String() != tc.wantName {
				t.Fatalf("Select(%q) with env %q: got %q, want %q", tc.spec, tc.env, b.String(), tc.wantName)
			}
		})
	}
}

// TestSelectXLA checks xla is refused with build instructions in binaries built without the xla
// tag. With the tag (and no PJRT plugin installed, as on the project's machines) it must fail
// without trying to download one.
func TestSelectXLA(t *testing.T) {
	b, err := Select("xla:cpu")
	if err == nil {
		b.Finalize()
		if !xlaCompiledIn {
			t.Fatal("Select(\"xla:cpu\") succeeded in a binary built without -tags xla")
		}
		return
	}
	t.Logf("Select(\"xla:cpu\"): %v", err)
	if !xlaCompiledIn && !strings.Contains(err.Error(), "-tags xla") {
		t.Fatalf("error %q does not say how to build with xla", err)
	}
	if xlaCompiledIn {
		// Without a PJRT plugin installed: say what to install and where it was looked for.
		t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
		_, err := Select("xla:cuda")
		for _, want := range []string{"pjrt_c_api_cuda_plugin.so", "PJRT_PLUGIN_LIBRARY_PATH", "jax-cuda13-pjrt", "plugins found"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Select(\"xla:cuda\") without a plugin: %v; want an error mentioning %q", err, want)
			}
		}
	}
}

// TestRegistered checks the GoMLX registry knows both backends by name and that GoMLX's own
// default (backends.New without $GOMLX_BACKEND) is Default.
func TestRegistered(t *testing.T) {
	t.Setenv(backends.ConfigEnvVar, "")
	os.Unsetenv(backends.ConfigEnvVar)
	def, err := backends.New()
	if err != nil {
		t.Fatalf("backends.New: %v", err)
	}
	if def.String() != Default {
		t.Errorf("backends.New() gave %q, want %q", def.String(), Default)
	}
	def.Finalize()
	for _, name := range []string{fmcpu.Name, fmcpu.FilledInName} {
		b, err := backends.NewWithConfig(name)
		if err != nil {
			t.Fatalf("NewWithConfig(%q): %v", name, err)
		}
		if b.String() != name {
			t.Errorf("NewWithConfig(%q) gave %q", name, b.String())
		}
		b.Finalize()
	}
}
