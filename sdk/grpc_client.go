package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// MaxImageBytes bounds the size of one PNG accepted from the plugin.
const MaxImageBytes = 256 << 20

// GRPCClient implements Generator by calling a plugin over gRPC (host
// side). It sends requests as they are: the plugin's server adapter
// validates them (see GRPCServer), and its errors come back as readable Go
// errors (see RemoteError and ErrPluginExited).
type GRPCClient struct {
	client fmimagepb.GeneratorClient
	exited func() bool
}

var _ Generator = (*GRPCClient)(nil)

// NewGRPCClient wraps a generated gRPC client. exited, if non-nil, reports
// whether the plugin process has gone; it sharpens error messages.
func NewGRPCClient(c fmimagepb.GeneratorClient, exited func() bool) *GRPCClient {
	return &GRPCClient{client: c, exited: exited}
}

func (c *GRPCClient) rpcErr(ctx context.Context, err error) error {
	return fromStatus(ctx, err, c.exited)
}

// Train implements Generator.
func (c *GRPCClient) Train(ctx context.Context, req TrainRequest, progress func(TrainProgress)) error {
	stream, err := c.client.Train(ctx, trainRequestToPB(req))
	if err != nil {
		return c.rpcErr(ctx, err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return c.rpcErr(ctx, err)
		}
		if progress != nil {
			progress(trainProgressFromPB(ev))
		}
	}
}

// Generate implements Generator. It reassembles the chunked PNGs and
// returns exactly req.N images ordered by Index.
func (c *GRPCClient) Generate(ctx context.Context, req GenerateRequest, progress func(GenerateProgress)) ([]Image, error) {
	stream, err := c.client.Generate(ctx, generateRequestToPB(req))
	if err != nil {
		return nil, c.rpcErr(ctx, err)
	}
	done := make(map[int]Image, req.N)
	var cur *Image // image being assembled
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, c.rpcErr(ctx, err)
		}
		switch e := ev.GetEvent().(type) {
		case *fmimagepb.GenerateEvent_Progress:
			if progress != nil {
				progress(generateProgressFromPB(e.Progress, req.N))
			}
		case *fmimagepb.GenerateEvent_Chunk:
			ch := e.Chunk
			idx := int(ch.GetIndex())
			if cur == nil {
				if idx < 0 || idx >= req.N {
					return nil, fmt.Errorf("plugin sent image index %d, want 0..%d", idx, req.N-1)
				}
				if _, dup := done[idx]; dup {
					return nil, fmt.Errorf("plugin sent image %d twice", idx)
				}
				cur = &Image{Index: idx, Width: int(ch.GetWidth()), Height: int(ch.GetHeight())}
			}
			if idx != cur.Index || ch.GetOffset() != int64(len(cur.PNG)) {
				return nil, fmt.Errorf("plugin sent chunk of image %d at offset %d while image %d had %d bytes",
					idx, ch.GetOffset(), cur.Index, len(cur.PNG))
			}
			if len(cur.PNG)+len(ch.GetData()) > MaxImageBytes {
				return nil, fmt.Errorf("plugin sent image %d larger than %d bytes", idx, MaxImageBytes)
			}
			cur.PNG = append(cur.PNG, ch.GetData()...)
			if ch.GetLast() {
				done[idx] = *cur
				cur = nil
			}
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("plugin stream ended inside image %d", cur.Index)
	}
	if len(done) != req.N {
		return nil, fmt.Errorf("plugin returned %d images, want %d", len(done), req.N)
	}
	images := make([]Image, 0, len(done))
	for _, img := range done {
		images = append(images, img)
	}
	sort.Slice(images, func(i, j int) bool { return images[i].Index < images[j].Index })
	return images, nil
}

// Info implements Generator.
func (c *GRPCClient) Info(ctx context.Context, modelDir string) (ModelInfo, error) {
	mi, err := c.client.Info(ctx, infoRequestToPB(modelDir))
	if err != nil {
		return ModelInfo{}, c.rpcErr(ctx, err)
	}
	return modelInfoFromPB(mi), nil
}

// Presets implements Generator.
func (c *GRPCClient) Presets(ctx context.Context) ([]Preset, error) {
	resp, err := c.client.Presets(ctx, &fmimagepb.PresetsRequest{})
	if err != nil {
		return nil, c.rpcErr(ctx, err)
	}
	return presetsFromPB(resp), nil
}

var _ Inverter = (*GRPCClient)(nil)

// Invert implements Inverter.
func (c *GRPCClient) Invert(ctx context.Context, req InvertRequest) (InvertResult, error) {
	resp, err := c.client.Invert(ctx, invertRequestToPB(req))
	if err != nil {
		return InvertResult{}, c.rpcErr(ctx, err)
	}
	return invertResultFromPB(resp), nil
}

// Drain waits until the plugin has no call running (for example a Train
// that is writing its checkpoint after a cancel) or ctx ends. It returns the
// number of calls still running.
func (c *GRPCClient) Drain(ctx context.Context) (int, error) {
	resp, err := c.client.Drain(ctx, &fmimagepb.DrainRequest{})
	if err != nil {
		return 0, c.rpcErr(ctx, err)
	}
	return drainResponseFromPB(resp), nil
}
