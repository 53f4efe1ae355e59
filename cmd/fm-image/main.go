// Command fm-image trains a small flow-matching image generator on a folder
// of images and samples from it; see `fm-image --help`. The model runs in
// the fm-image-plugin process; this binary is the host (package host).
package main

import (
	"context"
	"os"

	"github.com/fm-image/fm-image/host"
)

func main() {
	// The first SIGINT/SIGTERM cancels the running plugin call (host.Run
	// then stops the plugin before returning); a second one kills it.
	ctx, stop := host.SignalContext(context.Background(), os.Stderr)
	code := host.Run(ctx, os.Args[1:], host.OSEnv())
	stop()
	os.Exit(code)
}
