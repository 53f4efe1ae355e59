package sdk

import "net"

// PluginAddr is the address a Client's plugin serves on, for tests that talk
// to the plugin around the client.
func PluginAddr(c *Client) net.Addr { return c.pc.ReattachConfig().Addr }
