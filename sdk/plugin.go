package sdk

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/fm-image/fm-image/sdk/fmimagepb"
)

// Handshake identifiers. The cookie is a fixed random value: it only tells a
// plugin binary that it was started by an fm-image host (a UX check, not
// security; use Options.SHA256 for that).
const (
	// MagicCookieKey is the environment variable the host sets for the plugin.
	MagicCookieKey = "FM_IMAGE_PLUGIN_MAGIC_COOKIE"
	// MagicCookieValue is the value of MagicCookieKey.
	MagicCookieValue = "3e68261516dd8dbb775c7d54f620e32a8fdd6698d738550585ffd8e5011aae41"
	// ProtocolVersion is the current host<->plugin protocol version.
	ProtocolVersion = 1
	// PluginName is the name the Generator is dispensed under.
	PluginName = "generator"
)

// Handshake returns the go-plugin handshake shared by host and plugin.
// ProtocolVersion is negotiated through VersionedPlugins.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// VersionedPlugins returns the plugin sets per protocol version. The plugin
// passes its GRPCServer; hosts pass nil.
func VersionedPlugins(server *GRPCServer) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{Adapter: server}},
	}
}

// GRPCPlugin is the plugin.GRPCPlugin carrying Generator. On the plugin side
// it registers Adapter (or a new GRPCServer around Impl); on the host side it
// returns a *GRPCClient.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	// Impl is served when Adapter is nil.
	Impl Generator
	// Adapter is the gRPC server adapter to register (plugin side).
	Adapter *GRPCServer
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := p.Adapter
	if srv == nil {
		if p.Impl == nil {
			return fmt.Errorf("serve %s plugin: no Generator implementation given", PluginName)
		}
		srv = NewGRPCServer(p.Impl, hclog.NewNullLogger())
	}
	fmimagepb.RegisterGeneratorServer(s, srv)
	return nil
}

// GRPCClient implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return NewGRPCClient(fmimagepb.NewGeneratorClient(c), nil), nil
}
