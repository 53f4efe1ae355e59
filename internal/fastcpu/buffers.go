package fastcpu

import (
	"reflect"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// supportedDTypes are the dtypes buffers and the generic kernels handle.
var supportedDTypes = []dtypes.DType{
	dtypes.Float32, dtypes.Float64, dtypes.Int8, dtypes.Int16, dtypes.Int32, dtypes.Int64,
	dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64, dtypes.Bool,
}

// Buffer is a fastcpu buffer: a shape and a flat Go slice of the shape's dtype, in row-major
// order. It implements backends.Buffer.
type Buffer struct {
	shape shapes.Shape
	flat  any
	valid bool
}

// makeFlat allocates a zeroed flat slice of n values of dtype.
func makeFlat(dtype dtypes.DType, n int) (any, error) {
	switch dtype {
	case dtypes.Float32:
		return make([]float32, n), nil
	case dtypes.Float64:
		return make([]float64, n), nil
	case dtypes.Int8:
		return make([]int8, n), nil
	case dtypes.Int16:
		return make([]int16, n), nil
	case dtypes.Int32:
		return make([]int32, n), nil
	case dtypes.Int64:
		return make([]int64, n), nil
	case dtypes.Uint8:
		return make([]uint8, n), nil
	case dtypes.Uint16:
		return make([]uint16, n), nil
	case dtypes.Uint32:
		return make([]uint32, n), nil
	case dtypes.Uint64:
		return make([]uint64, n), nil
	case dtypes.Bool:
		return make([]bool, n), nil
	}
	return nil, errors.Errorf("fastcpu: dtype %s not supported", dtype)
}

// flatLen returns the length of a flat slice made by makeFlat.
func flatLen(flat any) int { return reflect.ValueOf(flat).Len() }

// poolKey identifies interchangeable flat slices.
type poolKey struct {
	dtype dtypes.DType
	n     int
}

// bufferPool is a free list of flat slices keyed by dtype and length. It is shared by all
// executables of a Backend and kept across Execute calls, so a training loop reuses its memory.
type bufferPool struct {
	mu   sync.Mutex
	free map[poolKey][]any
}

func newBufferPool() *bufferPool { return &bufferPool{free: make(map[poolKey][]any)} }

// get returns a flat slice of n values of dtype; its contents are arbitrary.
func (p *bufferPool) get(dtype dtypes.DType, n int) (any, error) {
	key := poolKey{dtype, n}
	p.mu.Lock()
	if l := p.free[key]; len(l) > 0 {
		f := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[key] = l[:len(l)-1]
		p.mu.Unlock()
		return f, nil
	}
	p.mu.Unlock()
	return makeFlat(dtype, n)
}

// put returns a flat slice to the free list. The caller must not use it afterwards.
func (p *bufferPool) put(dtype dtypes.DType, flat any) {
	if flat == nil {
		return
	}
	key := poolKey{dtype, flatLen(flat)}
	if key.n == 0 {
		return
	}
	p.mu.Lock()
	p.free[key] = append(p.free[key], flat)
	p.mu.Unlock()
}

// clear drops every free slice.
func (p *bufferPool) clear() {
	p.mu.Lock()
	p.free = make(map[poolKey][]any)
	p.mu.Unlock()
}

// toBuffer checks that buffer is a valid fastcpu Buffer.
func toBuffer(buffer backends.Buffer) (*Buffer, error) {
	buf, ok := buffer.(*Buffer)
	if !ok || buf == nil {
		return nil, errors.Errorf("fastcpu: buffer %T is not a fastcpu buffer", buffer)
	}
	if !buf.valid {
		return nil, errors.New("fastcpu: buffer used after BufferFinalize")
	}
	return buf, nil
}

// BufferFinalize implements backends.DataInterface: the buffer's memory goes back to the free
// list.
//
// Finalizing a buffer twice, or one consumed by a donation to Execute, does nothing.
func (b *Backend) BufferFinalize(buffer backends.Buffer) error {
	if buf, ok := buffer.(*Buffer); ok && buf != nil && !buf.valid {
		return nil
	}
	buf, err := toBuffer(buffer)
	if err != nil {
		return err
	}
	buf.valid = false
	b.pool.put(buf.shape.DType, buf.flat)
	buf.flat = nil
	return nil
}

// BufferShape implements backends.DataInterface.
func (b *Backend) BufferShape(buffer backends.Buffer) (shapes.Shape, error) {
	buf, err := toBuffer(buffer)
	if err != nil {
		return shapes.Invalid(), err
	}
	return buf.shape, nil
}

// BufferDeviceNum implements backends.DataInterface: always device 0.
func (b *Backend) BufferDeviceNum(buffer backends.Buffer) (backends.DeviceNum, error) {
	if _, err := toBuffer(buffer); err != nil {
		return 0, err
	}
	return 0, nil
}

// BufferToFlatData implements backends.DataInterface: it copies the buffer into flat, a slice of
// the buffer's dtype and size.
func (b *Backend) BufferToFlatData(buffer backends.Buffer, flat any) error {
	buf, err := toBuffer(buffer)
	if err != nil {
		return err
	}
	dst, src := reflect.ValueOf(flat), reflect.ValueOf(buf.flat)
	if dst.Kind() != reflect.Slice || dst.Type() != src.Type() || dst.Len() != src.Len() {
		return errors.Errorf("fastcpu: BufferToFlatData: got %T of length %d for a buffer of %s", flat, dst.Len(), buf.shape)
	}
	reflect.Copy(dst, src)
	return nil
}

// BufferFromFlatData implements backends.DataInterface: it copies flat into a new buffer.
func (b *Backend) BufferFromFlatData(deviceNum backends.DeviceNum, flat any, shape shapes.Shape) (backends.Buffer, error) {
	if deviceNum != 0 {
		return nil, errors.Errorf("fastcpu: only device 0 exists, got %d", deviceNum)
	}
	src := reflect.ValueOf(flat)
	if src.Kind() != reflect.Slice || dtypes.FromGoType(src.Type().Elem()) != shape.DType || src.Len() != shape.Size() {
		return nil, errors.Errorf("fastcpu: BufferFromFlatData: %T of length %d does not match shape %s", flat, src.Len(), shape)
	}
	f, err := b.pool.get(shape.DType, shape.Size())
	if err != nil {
		return nil, err
	}
	reflect.Copy(reflect.ValueOf(f), src)
	return &Buffer{shape: shape, flat: f, valid: true}, nil
}

// HasSharedBuffers implements backends.DataInterface: buffers live in Go memory and can be
// shared with tensors.
func (b *Backend) HasSharedBuffers() bool { return true }

// NewSharedBuffer implements backends.DataInterface.
func (b *Backend) NewSharedBuffer(deviceNum backends.DeviceNum, shape shapes.Shape) (backends.Buffer, any, error) {
	if deviceNum != 0 {
		return nil, nil, errors.Errorf("fastcpu: only device 0 exists, got %d", deviceNum)
	}
	f, err := makeFlat(shape.DType, shape.Size())
	if err != nil {
		return nil, nil, err
	}
	return &Buffer{shape: shape, flat: f, valid: true}, f, nil
}

// BufferData implements backends.DataInterface: the buffer's flat slice itself.
func (b *Backend) BufferData(buffer backends.Buffer) (any, error) {
	buf, err := toBuffer(buffer)
	if err != nil {
		return nil, err
	}
	return buf.flat, nil
}

// BufferCopyToDevice implements backends.DataInterface; there is only one device.
func (b *Backend) BufferCopyToDevice(source backends.Buffer, deviceNum backends.DeviceNum) (backends.Buffer, error) {
	return nil, errors.New("fastcpu: single-device backend, BufferCopyToDevice not supported")
}
