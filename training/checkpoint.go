package training

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
)

// CheckpointVersion is the version of the checkpoint file format written by
// this package. Files of another version are refused with a clear error.
const CheckpointVersion = 1

// checkpointMagic starts every checkpoint file.
var checkpointMagic = [8]byte{'F', 'M', 'I', 'M', 'G', 'C', 'K', '1'}

// maxCheckpointHeader bounds the JSON header, so a corrupt length cannot ask
// for gigabytes.
const maxCheckpointHeader = 64 << 20

// Tensor is one saved variable: its full GoMLX name (scope and name, e.g.
// "/model/stem/kernel"), its dtype name (e.g. "Float32"), its dimensions, and
// its values as little-endian bytes in row-major order.
type Tensor struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Dims  []int  `json:"dims"`
	Data  []byte `json:"-"`
}

// Checkpoint is everything needed to resume a training run or to sample from
// its model: the model's configuration (opaque JSON owned by the model
// package), the training configuration, how far training went, and every
// variable (weights, EMA weights, optimiser moments, the graph's RNG state).
//
// All the trainer's host-side randomness (batches, noise, times) is derived
// from (Train.Seed, Step), so Step together with the "#rngState" variable is
// the run's complete random state.
type Checkpoint struct {
	Version     int             `json:"version"`
	Step        int             `json:"step"`
	Model       json.RawMessage `json:"model"`
	Train       TrainConfig     `json:"train"`
	DatasetSize int             `json:"dataset_size"`
	// Classes are the class names of a class-conditional model, in label order.
	Classes []string `json:"classes,omitempty"`
	// LossHistory holds (step, smoothed loss) pairs for plotting.
	LossHistory [][2]float64 `json:"loss_history,omitempty"`
	// TrainedOn describes the backend and device that made this checkpoint
	// (the GoMLX backend's description). Checkpoints do not depend on it: a
	// model trained on one backend samples on any other.
	TrainedOn string   `json:"trained_on,omitempty"`
	Tensors   []Tensor `json:"tensors"`
}

// Find returns the tensor with the given name, or nil.
func (c *Checkpoint) Find(name string) *Tensor {
	for i := range c.Tensors {
		if c.Tensors[i].Name == name {
			return &c.Tensors[i]
		}
	}
	return nil
}

// tensorEntry is a Tensor's description in the file header.
type tensorEntry struct {
	Tensor
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

type fileHeader struct {
	Checkpoint
	Entries []tensorEntry `json:"entries"`
}

// Encode writes c to w in the checkpoint file format:
//
//	magic "FMIMGCK1" | uint64 header length | JSON header | tensor data | uint32 CRC-32 (IEEE) of all preceding bytes
//
// The header records CheckpointVersion, whatever c.Version says.
func (c *Checkpoint) Encode(w io.Writer) error {
	h := fileHeader{Checkpoint: *c}
	h.Version = CheckpointVersion
	h.Tensors = nil
	var off int64
	for _, t := range c.Tensors {
		h.Entries = append(h.Entries, tensorEntry{Tensor: t, Offset: off, Length: int64(len(t.Data))})
		off += int64(len(t.Data))
	}
	header, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode checkpoint header: %w", err)
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	for _, part := range [][]byte{checkpointMagic[:], lenBuf[:], header} {
		if _, err := bw.Write(part); err != nil {
			return fmt.Errorf("write checkpoint: %w", err)
		}
	}
	for _, t := range c.Tensors {
		if _, err := bw.Write(t.Data); err != nil {
			return fmt.Errorf("write checkpoint tensor %s: %w", t.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
	if _, err := w.Write(sum[:]); err != nil {
		return fmt.Errorf("write checkpoint checksum: %w", err)
	}
	return nil
}

// DecodeCheckpoint reads a checkpoint written by [Checkpoint.Encode]. A
// truncated or corrupted file, or one of another format version, is an error.
func DecodeCheckpoint(data []byte) (*Checkpoint, error) {
	if len(data) < len(checkpointMagic)+8+4 || !bytes.Equal(data[:8], checkpointMagic[:]) {
		return nil, errors.New("not an fm-image checkpoint (bad magic number)")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, errors.New("checkpoint is corrupt or truncated (checksum mismatch)")
	}
	hlen := binary.LittleEndian.Uint64(body[8:16])
	if hlen > maxCheckpointHeader || hlen > uint64(len(body)-16) {
		return nil, fmt.Errorf("checkpoint header length %d is out of range", hlen)
	}
	var h fileHeader
	if err := json.Unmarshal(body[16:16+hlen], &h); err != nil {
		return nil, fmt.Errorf("decode checkpoint header: %w", err)
	}
	if h.Version != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint format version %d is not supported (this build reads version %d)", h.Version, CheckpointVersion)
	}
	payload := body[16+hlen:]
	c := h.Checkpoint
	c.Tensors = make([]Tensor, 0, len(h.Entries))
	for _, e := range h.Entries {
		if e.Offset < 0 || e.Length < 0 || e.Offset+e.Length > int64(len(payload)) {
			return nil, fmt.Errorf("checkpoint tensor %s lies outside the file", e.Name)
		}
		t := e.Tensor
		t.Data = slices.Clone(payload[e.Offset : e.Offset+e.Length])
		c.Tensors = append(c.Tensors, t)
	}
	return &c, nil
}

// PeekCheckpointStep reads the step recorded in the header of a checkpoint
// file without checking the rest, so that a damaged file can still say how
// far its run had gone. ok is false when even the header is unreadable.
func PeekCheckpointStep(data []byte) (step int, ok bool) {
	if len(data) < len(checkpointMagic)+8 || !bytes.Equal(data[:8], checkpointMagic[:]) {
		return 0, false
	}
	hlen := binary.LittleEndian.Uint64(data[8:16])
	if hlen > maxCheckpointHeader || hlen > uint64(len(data)-16) {
		return 0, false
	}
	var h struct {
		Step *int `json:"step"`
	}
	if json.Unmarshal(data[16:16+hlen], &h) != nil || h.Step == nil {
		return 0, false
	}
	return *h.Step, true
}
