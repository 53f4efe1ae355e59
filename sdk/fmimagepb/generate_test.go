package fmimagepb

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeUpToDate regenerates the code from fmimage.proto and
// compares it with the committed files. It is skipped when the exact tool
// versions are not installed, unless FMIMAGE_REQUIRE_PROTOC=1 (as in
// `make proto-check`, which installs them): then it fails.
func TestGeneratedCodeUpToDate(t *testing.T) {
	// The generator versions the committed code was made with (see doc.go).
	wantTools := map[string]string{
		"protoc":             "libprotoc 3.21.12",
		"protoc-gen-go":      "protoc-gen-go v1.36.12",
		"protoc-gen-go-grpc": "protoc-gen-go-grpc 1.6.2",
	}
	path := os.Getenv("PATH")
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		path += string(os.PathListSeparator) + filepath.Join(strings.TrimSpace(string(gopath)), "bin")
	}
	t.Setenv("PATH", path)
	for tool, want := range wantTools {
		out, err := exec.Command(tool, "--version").Output()
		if err != nil || strings.TrimSpace(string(out)) != want {
			msg := fmt.Sprintf("%s: want %q, have %q (%v): the generated code is not checked", tool, want, strings.TrimSpace(string(out)), err)
			if os.Getenv("FMIMAGE_REQUIRE_PROTOC") == "1" {
				t.Fatal("FMIMAGE_REQUIRE_PROTOC=1: " + msg)
			}
			t.Skip(msg)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("protoc", "--go_out="+dir, "--go_opt=paths=source_relative",
		"--go-grpc_out="+dir, "--go-grpc_opt=paths=source_relative", "fmimage.proto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	for _, f := range []string{"fmimage.pb.go", "fmimage_grpc.pb.go"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("%s is stale: run `make proto` (or go generate ./sdk/fmimagepb) and commit", f)
		}
	}
}
