// Package plugin runs an sdk.Generator as an fm-image plugin process: the
// binary the fm-image host starts with hashicorp/go-plugin and talks to over
// gRPC.
//
// A plugin's main is thin:
//
//	logger := plugin.NewLogger("fm-image-plugin")
//	if err := plugin.Serve(engine.New(logger), logger); err != nil {
//		fmt.Fprintln(os.Stderr, err)
//		os.Exit(1)
//	}
//
// Serve never writes to stdout apart from go-plugin's handshake line; logs go
// to stderr as JSON, which the host re-emits through its own logger.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fm-image/fm-image/sdk"
)

// Defaults for Options.
const (
	DefaultParentPollInterval = 500 * time.Millisecond
	DefaultOrphanGrace        = 10 * time.Second
	DefaultShutdownGrace      = 1500 * time.Millisecond
	DefaultMaxRecvMsgSize     = 64 << 20
)

// ExitOrphaned is the exit status of a plugin whose host went away.
const ExitOrphaned = 3

// ExitTerminated is the plugin's exit status after SIGTERM (128 + 15, the
// shell's convention), once running calls have been cancelled and have
// finished (or the grace period has passed).
const ExitTerminated = 143

// ErrNotLaunchedByHost is returned by Serve when the binary was run by hand
// rather than by an fm-image host.
var ErrNotLaunchedByHost = errors.New("this is the fm-image plugin: it is started by the fm-image command " +
	"(or another fm-image host), not run directly; run `fm-image --help` instead")

// Options tune Serve. The zero value gives the defaults.
type Options struct {
	// ParentPollInterval is how often the parent-process watchdog checks
	// that the host is still alive (0 = default, <0 = no watchdog).
	ParentPollInterval time.Duration
	// OrphanGrace is how long an orphaned plugin lets running calls finish
	// (e.g. save a checkpoint) before it exits (0 = default).
	OrphanGrace time.Duration
	// ShutdownGrace is how long Serve waits for running calls after the
	// host asked the plugin to stop (0 = default). go-plugin force-kills
	// the plugin 2 s after asking, so keep it below that; hosts that want
	// work to finish call Drain first (sdk.Client.Close does).
	ShutdownGrace time.Duration
	// MaxRecvMsgSize is the largest gRPC message the plugin accepts
	// (0 = default).
	MaxRecvMsgSize int
}

func (o Options) normalize() (Options, error) {
	if o.ParentPollInterval == 0 {
		o.ParentPollInterval = DefaultParentPollInterval
	}
	if o.OrphanGrace < 0 || o.ShutdownGrace < 0 || o.MaxRecvMsgSize < 0 {
		return o, fmt.Errorf("invalid plugin options %+v: durations and sizes must be >= 0", o)
	}
	if o.OrphanGrace == 0 {
		o.OrphanGrace = DefaultOrphanGrace
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.MaxRecvMsgSize == 0 {
		o.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	return o, nil
}

// NewLogger returns the plugin logger: JSON lines on stderr, which the
// host's go-plugin client parses and re-emits at the right level.
func NewLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Info,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// LaunchedByHost reports whether the process environment carries the
// handshake cookie, i.e. whether an fm-image host started this process.
func LaunchedByHost() bool {
	return os.Getenv(sdk.MagicCookieKey) == sdk.MagicCookieValue
}

// Serve serves impl with the default Options; see ServeWithOptions.
func Serve(impl sdk.Generator, logger hclog.Logger) error {
	return ServeWithOptions(impl, logger, Options{})
}

// ServeWithOptions serves impl over gRPC until the host stops the plugin,
// then waits briefly for running calls and returns nil. When the process
// was not started by a host it returns ErrNotLaunchedByHost at once. While
// serving, a watchdog exits the process (status ExitOrphaned) if the parent
// process goes away, so the plugin never outlives its host.
func ServeWithOptions(impl sdk.Generator, logger hclog.Logger, opts Options) error {
	if !LaunchedByHost() {
		return ErrNotLaunchedByHost
	}
	if impl == nil {
		return errors.New("serve plugin: no Generator given")
	}
	if logger == nil {
		logger = NewLogger("fm-image-plugin")
	}
	opts, err := opts.normalize()
	if err != nil {
		return err
	}
	adapter := sdk.NewGRPCServer(impl, logger)
	// SIGTERM (a service manager, or kill): cancel the running calls so that
	// training writes its checkpoint, give them the orphan grace, then exit.
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		logger.Warn("terminated: cancelling running calls", "grace", opts.OrphanGrace)
		adapter.CancelAll()
		ctx, cancel := context.WithTimeout(context.Background(), opts.OrphanGrace)
		n := adapter.Wait(ctx)
		cancel()
		if n > 0 {
			logger.Warn("exiting with calls still running", "in_flight", n)
		}
		os.Exit(ExitTerminated)
	}()
	if opts.ParentPollInterval > 0 {
		go watchParent(os.Getppid, opts.ParentPollInterval, func() {
			logger.Warn("host process went away; stopping", "grace", opts.OrphanGrace)
			ctx, cancel := context.WithTimeout(context.Background(), opts.OrphanGrace)
			n := adapter.Wait(ctx)
			cancel()
			if n > 0 {
				logger.Warn("exiting with calls still running", "in_flight", n)
			}
			os.Exit(ExitOrphaned)
		})
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake(),
		VersionedPlugins: sdk.VersionedPlugins(adapter),
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			o = append(o, grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize))
			return goplugin.DefaultGRPCServer(o)
		},
		Logger: logger,
	})
	ctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
	defer cancel()
	if n := adapter.Wait(ctx); n > 0 {
		logger.Warn("stopping with calls still running", "in_flight", n)
	}
	return nil
}

// watchParent polls getppid every interval and calls orphaned once, when
// the parent pid is no longer the one seen at the start (the host died and
// the plugin was reparented).
func watchParent(getppid func() int, every time.Duration, orphaned func()) {
	ppid := getppid()
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if getppid() != ppid {
			orphaned()
			return
		}
	}
}
