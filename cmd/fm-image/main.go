// Command fm-image trains a small flow-matching image generator on a folder
// of images and samples from it; see `fm-image --help`. The model runs in
// the fm-image-plugin process; this binary is the host (package host).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fm-image/fm-image/host"
)

func main() {
	// SIGINT/SIGTERM cancel the running plugin call; host.Run then stops
	// the plugin before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := host.Run(ctx, os.Args[1:], host.OSEnv())
	stop()
	os.Exit(code)
}
