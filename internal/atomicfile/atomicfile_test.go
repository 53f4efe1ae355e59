package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != Mode {
			t.Fatalf("mode %v, %v; want %v", st.Mode().Perm(), err, os.FileMode(Mode))
		}
	}
	assertOnly(t, dir, "f.txt")
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	if err := WriteFile(path, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("dropped"); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	f.Abort() // twice is harmless
	if err := f.Commit(); err == nil || !strings.Contains(err.Error(), "already") {
		t.Fatalf("Commit after Abort: %v", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "kept" {
		t.Fatalf("content %q after an aborted write, want %q", got, "kept")
	}
	assertOnly(t, dir, "f.txt")
}

func TestCreateInMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "f.txt")
	err := WriteFile(path, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile into a missing directory: %v, want an error naming %s", err, path)
	}
}

// assertOnly fails unless dir holds exactly the named files (no temporary files left).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}
