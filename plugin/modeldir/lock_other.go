//go:build !unix

package modeldir

// Lock is the right to train a model directory. On systems without flock(2)
// it guards nothing across processes.
type Lock struct{}

// LockForTraining returns a Lock that does not exclude other processes.
func LockForTraining(string) (*Lock, error) { return &Lock{}, nil }

// Release does nothing.
func (l *Lock) Release() {}
