package host

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM,
// which makes the running command cancel its plugin call and wait for the
// plugin to finish up (e.g. write a checkpoint). A second signal kills the
// plugin at once and exits the process with ExitInterrupted. Call stop when
// done to restore default signal handling.
func SignalContext(parent context.Context, stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\nfm-image: stopping; waiting for the plugin to finish up (press Ctrl-C again to kill it)")
		cancel()
		select {
		case <-ch:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "fm-image: killing the plugin")
		plugin.CleanupClients()
		os.Exit(ExitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
