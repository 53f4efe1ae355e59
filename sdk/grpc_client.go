package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// MaxImageBytes bounds the size of one PNG accepted from the plugin.
const MaxImageBytes = 256 << 20

// GRPCClient implements Generator by calling a plugin over gRPC (host
// side). Requests are validated before they are sent; RPC errors come back
// as readable Go errors (see RemoteError and ErrPluginExited).
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
	if err := req.Validate(); err != nil {
		return err
	}
	stream, err := c.client.Train(ctx, &fmimagepb.TrainRequest{
		DataDir: req.DataDir, ModelDir: req.ModelDir, Arch: req.Arch, Size: int32(req.Size),
		Steps: int64(req.Steps), Batch: int32(req.Batch), Lr: req.LR, Seed: req.Seed,
		Resume: req.Resume, CheckpointEvery: int64(req.CheckpointEvery),
		Holdout: req.Holdout, Labels: req.Labels,
	})
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
			progress(TrainProgress{
				Step: int(ev.GetStep()), TotalSteps: int(ev.GetTotalSteps()), Loss: ev.GetLoss(),
				ImagesPerSec: ev.GetImagesPerSec(), ETA: time.Duration(ev.GetEtaNanos()),
				Checkpoint: ev.GetCheckpoint(), Message: ev.GetMessage(),
			})
		}
	}
}

// Generate implements Generator. It reassembles the chunked PNGs and
// returns exactly req.N images ordered by Index.
func (c *GRPCClient) Generate(ctx context.Context, req GenerateRequest, progress func(GenerateProgress)) ([]Image, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	stream, err := c.client.Generate(ctx, &fmimagepb.GenerateRequest{
		ModelDir: req.ModelDir, N: int32(req.N), Steps: int32(req.Steps), Seed: req.Seed, Sampler: req.Sampler,
		Label: req.Label, Guidance: req.Guidance, InitPng: req.InitPNG, Strength: req.Strength,
		Interpolate: req.Interpolate, InterpolateSeed: req.InterpolateSeed,
		PreviewEvery: int32(req.PreviewEvery),
	})
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
				progress(GenerateProgress{
					Step: int(e.Progress.GetStep()), TotalSteps: int(e.Progress.GetTotalSteps()),
					Previews: previewsFromPB(e.Progress.GetPreviews(), req.N),
				})
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

// previewsFromPB converts the previews of a progress event, skipping any
// with an index outside the batch of n images or no data.
func previewsFromPB(in []*fmimagepb.Preview, n int) []Image {
	if len(in) == 0 {
		return nil
	}
	out := make([]Image, 0, len(in))
	for _, p := range in {
		if idx := int(p.GetIndex()); idx >= 0 && idx < n && len(p.GetPng()) > 0 {
			out = append(out, Image{Index: idx, Width: int(p.GetWidth()), Height: int(p.GetHeight()), PNG: p.GetPng()})
		}
	}
	return out
}

// Info implements Generator.
func (c *GRPCClient) Info(ctx context.Context, modelDir string) (ModelInfo, error) {
	if err := ValidateModelDir(modelDir); err != nil {
		return ModelInfo{}, err
	}
	mi, err := c.client.Info(ctx, &fmimagepb.InfoRequest{ModelDir: modelDir})
	if err != nil {
		return ModelInfo{}, c.rpcErr(ctx, err)
	}
	return ModelInfo{
		ModelDir: mi.GetModelDir(), Arch: mi.GetArch(), Width: int(mi.GetWidth()), Height: int(mi.GetHeight()),
		Step: int(mi.GetStep()), TotalSteps: int(mi.GetTotalSteps()), DatasetSize: int(mi.GetDatasetSize()),
		Backend: mi.GetBackend(), Params: mi.GetParams(), ConfigJSON: mi.GetConfigJson(), Labels: mi.GetLabels(),
	}, nil
}

var _ Inverter = (*GRPCClient)(nil)

// Invert implements Inverter.
func (c *GRPCClient) Invert(ctx context.Context, req InvertRequest) (InvertResult, error) {
	if err := req.Validate(); err != nil {
		return InvertResult{}, err
	}
	resp, err := c.client.Invert(ctx, &fmimagepb.InvertRequest{
		ModelDir: req.ModelDir, ImagePng: req.ImagePNG, Steps: int32(req.Steps), Sampler: req.Sampler,
	})
	if err != nil {
		return InvertResult{}, c.rpcErr(ctx, err)
	}
	return InvertResult{
		Width: int(resp.GetWidth()), Height: int(resp.GetHeight()), Noise: resp.GetNoise(), NoiseStd: resp.GetNoiseStd(),
		Reconstruction: resp.GetReconstruction(), RoundTripMAE: resp.GetRoundTripMae(),
	}, nil
}

// Drain waits until the plugin has no call running (for example a Train
// that is writing its checkpoint after a cancel) or ctx ends. It returns the
// number of calls still running.
func (c *GRPCClient) Drain(ctx context.Context) (int, error) {
	resp, err := c.client.Drain(ctx, &fmimagepb.DrainRequest{})
	if err != nil {
		return 0, c.rpcErr(ctx, err)
	}
	return int(resp.GetInFlight()), nil
}
