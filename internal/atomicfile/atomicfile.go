// Package atomicfile writes files so that readers see either the old content
// or the new, never a partial file: data goes to a temporary file in the
// destination's directory, which is synced and then renamed over the
// destination, and the directory is synced so the rename survives a crash.
//
// Every file fm-image writes for later reading (model descriptions,
// checkpoints, hold-out lists, generated images, grids, plots) goes through
// this package.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Mode is the permission of the files written (set with chmod, so the umask does not apply).
const Mode = 0o644

// File is a file being written in place of Path. Write to it (it is an
// *os.File), then Commit to move it into place, or Abort to drop it.
type File struct {
	*os.File
	// Path is the destination.
	Path string
	done bool
}

// Create starts writing a new version of path: a temporary file beside it.
func Create(path string) (*File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &File{File: tmp, Path: path}, nil
}

// Commit syncs and closes the temporary file and renames it to Path. On
// failure the temporary file is removed and Path is left as it was.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("write %s: already committed or aborted", f.Path)
	}
	f.done = true
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), Mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), f.Path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	SyncDir(filepath.Dir(f.Path))
	return nil
}

// Abort closes and removes the temporary file; Path is left as it was. It
// does nothing after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// SyncDir makes renames inside dir durable (best effort: not every
// filesystem supports syncing a directory).
func SyncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
