package sdk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// ChunkSize is the largest PNG slice sent in one ImageChunk message, well
// under gRPC's default 4 MiB message limit.
const ChunkSize = 1 << 20

// GRPCServer serves a Generator over gRPC (plugin side). It validates every
// request itself, maps errors to gRPC status codes and tracks the calls in
// flight so that a shutdown can wait for them (see Wait).
type GRPCServer struct {
	fmimagepb.UnimplementedGeneratorServer

	impl   Generator
	logger hclog.Logger

	mu       sync.Mutex
	inFlight int
	idle     chan struct{} // closed while inFlight == 0

	// base is the parent of every call's context; CancelAll cancels it.
	base      context.Context
	cancelAll context.CancelFunc
}

// NewGRPCServer returns a server adapter for impl. logger may be nil.
func NewGRPCServer(impl Generator, logger hclog.Logger) *GRPCServer {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	idle := make(chan struct{})
	close(idle)
	base, cancel := context.WithCancel(context.Background())
	return &GRPCServer{impl: impl, logger: logger, idle: idle, base: base, cancelAll: cancel}
}

// CancelAll cancels the context of every running and future call, as if
// each host had cancelled its own: a running Train saves a checkpoint and
// returns. The plugin calls it when it is asked to terminate.
func (s *GRPCServer) CancelAll() { s.cancelAll() }

// callContext returns the context of a call: cancelled when the host cancels
// (ctx) or when CancelAll is called.
func (s *GRPCServer) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.base, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *GRPCServer) begin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight == 0 {
		s.idle = make(chan struct{})
	}
	s.inFlight++
}

func (s *GRPCServer) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.inFlight == 0 {
		close(s.idle)
	}
}

// Wait blocks until no call is running or ctx ends, and returns the number
// of calls still running (0 when idle).
func (s *GRPCServer) Wait(ctx context.Context) int {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.inFlight
	}
}

// Drain implements the Drain RPC: it waits for running calls to finish.
func (s *GRPCServer) Drain(ctx context.Context, _ *fmimagepb.DrainRequest) (*fmimagepb.DrainResponse, error) {
	return drainResponseToPB(s.Wait(ctx)), nil
}

// streamSender serialises Sends (progress callbacks may come from any
// goroutine) and remembers the first failure, after which it drops events:
// a host that went away must not fail the work (a cancelled Train still
// writes its checkpoint).
type streamSender[T any] struct {
	mu   sync.Mutex
	send func(T) error
	err  error
}

func (s *streamSender[T]) Send(m T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.err = s.send(m)
	return s.err
}

// Train implements the Train RPC.
func (s *GRPCServer) Train(in *fmimagepb.TrainRequest, stream fmimagepb.Generator_TrainServer) error {
	s.begin()
	defer s.end()
	req := trainRequestFromPB(in)
	if err := req.Validate(); err != nil {
		return toStatus(err)
	}
	ctx, cancel := s.callContext(stream.Context())
	defer cancel()
	s.logger.Info("train started", "data", req.DataDir, "model", req.ModelDir, "steps", req.Steps, "resume", req.Resume)
	out := &streamSender[*fmimagepb.TrainEvent]{send: stream.Send}
	err := s.impl.Train(ctx, req, func(p TrainProgress) {
		if err := out.Send(trainProgressToPB(p)); err != nil {
			s.logger.Debug("train progress dropped", "error", err)
		}
	})
	if err != nil {
		s.logger.Info("train ended", "error", err)
		return toStatus(fmt.Errorf("train: %w", err))
	}
	s.logger.Info("train finished", "model", req.ModelDir)
	return nil
}

// Generate implements the Generate RPC: progress events first, then every
// image split into ChunkSize pieces.
func (s *GRPCServer) Generate(in *fmimagepb.GenerateRequest, stream fmimagepb.Generator_GenerateServer) error {
	s.begin()
	defer s.end()
	req := generateRequestFromPB(in)
	if err := req.Validate(); err != nil {
		return toStatus(err)
	}
	ctx, cancel := s.callContext(stream.Context())
	defer cancel()
	start := time.Now()
	out := &streamSender[*fmimagepb.GenerateEvent]{send: stream.Send}
	images, err := s.impl.Generate(ctx, req, func(p GenerateProgress) {
		p.Previews = s.capPreviews(p.Previews)
		if err := out.Send(generateProgressToPB(p)); err != nil {
			s.logger.Debug("generate progress dropped", "error", err)
		}
	})
	if err != nil {
		return toStatus(fmt.Errorf("generate: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return toStatus(err)
	}
	for _, img := range images {
		for off := 0; ; {
			end := min(off+ChunkSize, len(img.PNG))
			if err := out.Send(imageChunkToPB(img, off, img.PNG[off:end], end == len(img.PNG))); err != nil {
				return status.Errorf(codes.Unavailable, "send image %d: %v", img.Index, err)
			}
			if end == len(img.PNG) {
				break
			}
			off = end
		}
	}
	s.logger.Info("generate finished", "n", len(images), "steps", req.Steps, "elapsed", time.Since(start))
	return nil
}

// capPreviews keeps at most MaxPreviewImages previews and MaxPreviewBytes of
// PNG in all, so that the message stays well under gRPC's limit whatever the
// implementation sends.
func (s *GRPCServer) capPreviews(previews []Image) []Image {
	total := 0
	for i, p := range previews {
		if i == MaxPreviewImages || total+len(p.PNG) > MaxPreviewBytes {
			s.logger.Debug("generate previews dropped", "sent", i, "of", len(previews))
			return previews[:i]
		}
		total += len(p.PNG)
	}
	return previews
}

// Info implements the Info RPC.
func (s *GRPCServer) Info(ctx context.Context, in *fmimagepb.InfoRequest) (*fmimagepb.ModelInfo, error) {
	s.begin()
	defer s.end()
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	modelDir := infoRequestFromPB(in)
	if err := ValidateModelDir(modelDir); err != nil {
		return nil, toStatus(err)
	}
	mi, err := s.impl.Info(ctx, modelDir)
	if err != nil {
		return nil, toStatus(fmt.Errorf("info: %w", err))
	}
	return modelInfoToPB(mi), nil
}

// Presets implements the Presets RPC.
func (s *GRPCServer) Presets(ctx context.Context, _ *fmimagepb.PresetsRequest) (*fmimagepb.PresetsResponse, error) {
	s.begin()
	defer s.end()
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	ps, err := s.impl.Presets(ctx)
	if err != nil {
		return nil, toStatus(fmt.Errorf("presets: %w", err))
	}
	return presetsToPB(ps), nil
}

// Invert implements the Invert RPC when the served Generator is an Inverter.
func (s *GRPCServer) Invert(ctx context.Context, in *fmimagepb.InvertRequest) (*fmimagepb.InvertResponse, error) {
	s.begin()
	defer s.end()
	ctx, cancel := s.callContext(ctx)
	defer cancel()
	inv, ok := s.impl.(Inverter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this plugin cannot invert images")
	}
	req := invertRequestFromPB(in)
	if err := req.Validate(); err != nil {
		return nil, toStatus(err)
	}
	res, err := inv.Invert(ctx, req)
	if err != nil {
		return nil, toStatus(fmt.Errorf("invert: %w", err))
	}
	return invertResultToPB(res), nil
}
