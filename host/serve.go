package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/host/web"
)

// DefaultServeAddr is the serve command's default --addr: loopback only.
const DefaultServeAddr = "127.0.0.1:8080"

// serveShutdownTimeout bounds the wait for requests and training runs
// (their checkpoints) when the server stops.
const serveShutdownTimeout = time.Minute

// serveFlags are the serve command's options.
type serveFlags struct {
	addr           string
	models         string
	data           string
	maxGenerations int
}

func newServeCommand(g *globals) *cobra.Command {
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--models DIR] [--data DIR]",
		Short: "Serve a web page to generate images and train models",
		Long: `Start the plugin once and serve a web page (embedded in this binary) on --addr:
pick a model, sampler, step count and seed and watch the images appear, or
train a new model on a folder under --data and watch its loss and samples.

Models are the sub-directories of --models holding a model; new ones are
trained into it. The server listens on loopback only unless --addr says
otherwise; it has no authentication. Ctrl-C stops it (training runs write a
checkpoint first).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), g, sf) },
	}
	f := cmd.Flags()
	f.StringVar(&sf.addr, "addr", DefaultServeAddr, "address to listen on (host:port)")
	f.StringVar(&sf.models, "models", ".", "directory of model directories")
	f.StringVar(&sf.data, "data", ".", "directory under which training folders may be chosen")
	f.IntVar(&sf.maxGenerations, "max-generations", web.DefaultMaxGenerations, "generations run at once (more requests wait)")
	return cmd
}

func runServe(ctx context.Context, g *globals, sf serveFlags) error {
	for _, d := range []struct{ flag, path string }{{"--models", sf.models}, {"--data", sf.data}} {
		if exists, dir, err := isDir(d.path); err != nil || !exists || !dir {
			return usagef("%s %s does not exist or is not a directory", d.flag, d.path)
		}
	}
	if sf.maxGenerations < 1 {
		return usagef("invalid --max-generations: must be at least 1, got %d", sf.maxGenerations)
	}
	host, _, err := net.SplitHostPort(sf.addr)
	if err != nil {
		return usagef("invalid --addr %q: %v", sf.addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(g.env.Stderr, "fm-image: warning: --addr %s is reachable from other machines and the server has no authentication\n", sf.addr)
	}

	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	logger := g.logger().Named("web")
	srv, err := web.New(client, web.Config{ModelsDir: sf.models, DataDir: sf.data, MaxGenerations: sf.maxGenerations, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	fmt.Fprintf(g.env.Stdout, "serving on http://%s (Ctrl-C to stop)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(g.env.Stderr, "fm-image: stopping the server")
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	// Training runs first: their event streams end when they do.
	werr := srv.Close(sctx)
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		werr = errors.Join(werr, fmt.Errorf("serve: shutdown: %w", err))
	}
	return werr
}
