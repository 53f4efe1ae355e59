package sdk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Defaults for Options.
const (
	DefaultStartTimeout = time.Minute
	DefaultDrainTimeout = 30 * time.Second
)

// Options configure Open. The zero value is usable.
type Options struct {
	// SHA256 is the expected hex SHA-256 of the plugin binary; when set the
	// binary is verified before it is started (go-plugin SecureConfig).
	SHA256 string
	// Logger receives the host-side go-plugin log and the plugin's own log
	// lines re-emitted at their level. nil = discard.
	Logger hclog.Logger
	// Managed registers the plugin with go-plugin so that
	// plugin.CleanupClients() kills it; programs that set it must defer
	// plugin.CleanupClients() in main.
	Managed bool
	// StartTimeout bounds the plugin's start and handshake
	// (0 = DefaultStartTimeout).
	StartTimeout time.Duration
	// DrainTimeout is how long Close waits for calls still running in the
	// plugin, such as a checkpoint being written after a cancelled Train,
	// before it stops the plugin (0 = DefaultDrainTimeout, <0 = do not wait).
	DrainTimeout time.Duration
	// Env is appended to the host's environment for the plugin process.
	Env []string
}

// normalize validates o and fills in defaults.
func (o Options) normalize() (Options, error) {
	o.SHA256 = strings.ToLower(strings.TrimSpace(o.SHA256))
	if o.SHA256 != "" {
		b, err := hex.DecodeString(o.SHA256)
		if err != nil || len(b) != sha256.Size {
			return o, fmt.Errorf("invalid plugin SHA-256 %q: want %d hex digits", o.SHA256, 2*sha256.Size)
		}
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.StartTimeout < 0 {
		return o, fmt.Errorf("invalid plugin start timeout %v: must be >= 0", o.StartTimeout)
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	return o, nil
}

// Client is a running plugin process seen as a Generator. Close it when
// done; it is safe for concurrent use.
type Client struct {
	*GRPCClient
	pc           *plugin.Client
	drainTimeout time.Duration
}

var _ Generator = (*Client)(nil)

// Open starts the plugin binary at pluginPath (verifying its checksum if
// opts.SHA256 is set), performs the handshake over gRPC with automatic mTLS
// and returns a client for it. The caller must Close it.
func Open(pluginPath string, opts Options) (*Client, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	if pluginPath == "" {
		return nil, errors.New("open plugin: no plugin path given")
	}
	st, err := os.Stat(pluginPath)
	if err != nil {
		return nil, fmt.Errorf("open plugin %s: %w", pluginPath, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("open plugin %s: not an executable file", pluginPath)
	}
	var secure *plugin.SecureConfig
	if opts.SHA256 != "" {
		sum, _ := hex.DecodeString(opts.SHA256) // validated by normalize
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	cmd := exec.Command(pluginPath)
	cmd.Env = append(os.Environ(), opts.Env...)
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: VersionedPlugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		SecureConfig:     secure,
		Logger:           opts.Logger,
		Managed:          opts.Managed,
		AutoMTLS:         true,
		StartTimeout:     opts.StartTimeout,
	})
	rpc, err := pc.Client()
	if err != nil {
		pc.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("open plugin %s: its SHA-256 does not match the expected %s; refusing to run it",
				pluginPath, opts.SHA256)
		}
		return nil, fmt.Errorf("start plugin %s: %w", pluginPath, err)
	}
	if v := pc.NegotiatedVersion(); v != ProtocolVersion {
		pc.Kill()
		return nil, fmt.Errorf("start plugin %s: it speaks protocol %d, want %d", pluginPath, v, ProtocolVersion)
	}
	raw, err := rpc.Dispense(PluginName)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("start plugin %s: dispense %q: %w", pluginPath, PluginName, err)
	}
	gc, ok := raw.(*GRPCClient)
	if !ok {
		pc.Kill()
		return nil, fmt.Errorf("start plugin %s: unexpected client type %T", pluginPath, raw)
	}
	gc.exited = exitedWithin(pc, 500*time.Millisecond)
	return &Client{GRPCClient: gc, pc: pc, drainTimeout: opts.DrainTimeout}, nil
}

// exitedWithin reports whether the plugin process has exited, giving it up
// to grace to be noticed: a broken connection is usually seen a moment
// before the process's exit is.
func exitedWithin(pc *plugin.Client, grace time.Duration) func() bool {
	return func() bool {
		deadline := time.Now().Add(grace)
		for !pc.Exited() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
}

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Close waits up to Options.DrainTimeout for calls still running in the
// plugin (a cancelled Train saving its checkpoint), then stops the plugin
// process (graceful shutdown, forced after 2 s). It is safe to call twice.
func (c *Client) Close() error {
	var err error
	if c.drainTimeout > 0 && !c.pc.Exited() {
		ctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
		n, derr := c.GRPCClient.Drain(ctx)
		cancel()
		switch {
		case errors.Is(derr, context.DeadlineExceeded):
			err = fmt.Errorf("close plugin: calls still running after %v; stopping it anyway", c.drainTimeout)
		case derr != nil && !errors.Is(derr, ErrPluginExited):
			err = fmt.Errorf("close plugin: wait for running calls: %w", derr)
		case n > 0:
			err = fmt.Errorf("close plugin: %d call(s) still running after %v; stopping it anyway", n, c.drainTimeout)
		}
	}
	c.pc.Kill()
	return err
}
