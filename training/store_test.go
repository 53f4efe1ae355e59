package training_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fm-image/fm-image/training"
)

// checkpointStore keeps the checkpoints a run saves in memory, encoded as
// they would be on disk, so that tests exercise the file format.
type checkpointStore struct {
	saved [][]byte
}

// Save implements training.RunOptions.Save.
func (s *checkpointStore) Save(c *training.Checkpoint) (string, error) {
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		return "", err
	}
	s.saved = append(s.saved, buf.Bytes())
	return fmt.Sprintf("memory:%d", len(s.saved)), nil
}

// Last decodes the newest checkpoint saved.
func (s *checkpointStore) Last(t testing.TB) *training.Checkpoint {
	t.Helper()
	if len(s.saved) == 0 {
		t.Fatal("no checkpoint was saved")
	}
	c, err := training.DecodeCheckpoint(s.saved[len(s.saved)-1])
	if err != nil {
		t.Fatal(err)
	}
	return c
}
