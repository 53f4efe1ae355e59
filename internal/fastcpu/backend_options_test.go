package fastcpu_test

import (
	"strings"
	"testing"

	"github.com/fm-image/fm-image/internal/fastcpu"
)

func TestBackendOptions(t *testing.T) {
	for _, tc := range []struct {
		config  string
		wantErr string
	}{
		{"", ""},
		{"kernel=portable,nodirectconv", ""},
		{"nowinograd, parallelism=1", ""},
		{"kernel=bogus", `bad option "kernel=bogus"`},
		{"parallelism=0", "parallelism must be a positive integer"},
		{"turbo", `unknown option "turbo"`},
	} {
		b, err := fastcpu.New(tc.config)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("New(%q): %v", tc.config, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("New(%q) error = %v, want one containing %q", tc.config, err, tc.wantErr)
		}
		if b != nil {
			b.Finalize()
		}
	}
}
