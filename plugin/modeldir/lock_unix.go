//go:build unix

package modeldir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fm-image/fm-image/sdk"
)

// Lock is the exclusive right to train a model directory, held through an
// flock(2) lock on its LockFile: the kernel releases it when the process
// ends, however it ends, so a killed trainer never leaves a stale lock.
type Lock struct {
	f *os.File
}

// LockForTraining takes dir's training lock, creating LockFile if needed.
// When another process (or another call in this one) holds it, the error
// wraps sdk.ErrAlreadyExists and names the holder as it recorded itself.
func LockForTraining(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock model directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("model directory %s is being trained by %s (it holds %s); wait for that run to end or stop it: %w",
				dir, who, path, sdk.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("lock model directory %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	exe, _ := os.Executable()
	who := fmt.Sprintf("process %d (%s on %s, since %s)", os.Getpid(), filepath.Base(exe), host, time.Now().Format(time.DateTime))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(who+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock back. It is safe to call more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
