package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
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
	token          string
	allowHosts     []string
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
trained into it. Ctrl-C stops the server (training runs write a checkpoint
first).

The server listens on loopback only unless --addr says otherwise. It answers
only requests whose Host names localhost, a loopback address, the host of
--addr (for a wildcard such as 0.0.0.0: this machine's name and addresses, as
they are at start) or an --allow-host, so that other web sites cannot reach it
by making their own names resolve to it (DNS rebinding).

On any other address than loopback, or with --allow-host, it requires a
token: a random one, or --token (or $` + EnvToken + `). It prints a URL
carrying the token; opening it sets a cookie in the browser. Scripts send
"Authorization: Bearer TOKEN". Given --token (or $` + EnvToken + `), a
loopback server requires it too.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), g, sf) },
	}
	f := cmd.Flags()
	f.StringVar(&sf.addr, "addr", DefaultServeAddr, "address to listen on (host:port)")
	f.StringVar(&sf.models, "models", ".", "directory of model directories")
	f.StringVar(&sf.data, "data", ".", "directory under which training folders may be chosen")
	f.IntVar(&sf.maxGenerations, "max-generations", web.DefaultMaxGenerations, "generations run at once (more requests wait)")
	f.StringVar(&sf.token, "token", "", "token every request must carry (default: a random one unless --addr is loopback); other users can see it in the process list, unlike $"+EnvToken)
	f.StringSliceVar(&sf.allowHosts, "allow-host", nil, "another host name or address the server is reached by, e.g. through a proxy; requires the token (repeatable)")
	return cmd
}

// serveAccess is who may reach the server: the Host names it answers to
// besides loopback ones, its token, and how to print its URLs.
type serveAccess struct {
	allowed []string
	token   string
	// remote: the server may be reached from other machines, so it has a
	// token (its note says why).
	remote bool
	note   string
	// shown is the host of the URL printed (empty: the listener's
	// address), also those of the further URLs printed for a wildcard.
	shown string
	also  []string
}

// access works out the serve command's access rules from its flags.
func (sf serveFlags) access(env Env) (serveAccess, error) {
	host, _, err := net.SplitHostPort(sf.addr)
	if err != nil {
		return serveAccess{}, usagef("invalid --addr %q: %v", sf.addr, err)
	}
	var a serveAccess
	a.token = sf.token
	if a.token == "" {
		a.token = env.Getenv(EnvToken)
	}
	if a.token != "" {
		if err := web.CheckToken(a.token); err != nil {
			return a, usagef("invalid --token (or $%s): %v", EnvToken, err)
		}
	}
	for _, h := range sf.allowHosts {
		c, err := web.CheckHost(h)
		if err != nil {
			return a, usagef("invalid --allow-host: %v", err)
		}
		a.allowed = append(a.allowed, c)
	}
	ip := net.ParseIP(host)
	a.remote = true
	a.note = fmt.Sprintf("--addr %s is reachable from other machines", sf.addr)
	switch {
	case host == "localhost" || ip.IsLoopback():
		if len(a.allowed) == 0 {
			a.remote = false
			return a, nil
		}
		// A name besides loopback ones is how a proxy in front of the
		// server reaches it, for users elsewhere.
		a.note = "--allow-host names the server for other machines"
	case host == "" || ip.IsUnspecified():
		a.shown = "127.0.0.1"
		if host == "::" {
			a.shown = "::1"
		}
		// This machine's name and addresses, as a browser elsewhere names
		// it; any other name must be given with --allow-host.
		if name, err := os.Hostname(); err == nil {
			if c, err := web.CheckHost(name); err == nil {
				a.allowed = append(a.allowed, c)
				a.also = append(a.also, c)
			}
		}
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return a, fmt.Errorf("serve: list this machine's addresses: %w", err)
		}
		for _, ad := range addrs {
			ipn, ok := ad.(*net.IPNet)
			if !ok || ipn.IP.IsLoopback() {
				continue
			}
			c, err := web.CheckHost(ipn.IP.String())
			if err != nil {
				continue
			}
			a.allowed = append(a.allowed, c)
			// Link-local addresses need a zone browsers cannot name; a
			// server on 0.0.0.0 is not on IPv6 ones.
			if !ipn.IP.IsLinkLocalUnicast() && (host != "0.0.0.0" || ipn.IP.To4() != nil) {
				a.also = append(a.also, c)
			}
		}
	default:
		c, err := web.CheckHost(host)
		if err != nil {
			return a, usagef("invalid --addr %q: %v", sf.addr, err)
		}
		a.allowed = append(a.allowed, c)
		if ip == nil {
			a.shown = c // the name the user chose, not the address it resolved to
		}
	}
	if a.token == "" {
		a.token = web.NewToken()
	}
	return a, nil
}

// url is the address of the server on host (empty: the listener's), with
// its token.
func (a serveAccess) url(ln net.Listener, host string) string {
	lh, port, _ := net.SplitHostPort(ln.Addr().String())
	if host == "" {
		host = lh
	}
	u := "http://" + net.JoinHostPort(host, port) + "/"
	if a.token != "" {
		u += "?token=" + a.token
	}
	return u
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
	access, err := sf.access(g.env)
	if err != nil {
		return err
	}
	if access.remote {
		fmt.Fprintf(g.env.Stderr, "fm-image: note: %s, so every request needs the token: open the URL below\n", access.note)
	}

	client, err := g.open()
	if err != nil {
		return err
	}
	defer client.Close()
	logger := g.logger().Named("web")
	srv, err := web.New(client, web.Config{
		ModelsDir: sf.models, DataDir: sf.data, MaxGenerations: sf.maxGenerations, Logger: logger,
		AllowedHosts: access.allowed, Token: access.token,
	})
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
	fmt.Fprintf(g.env.Stdout, "serving on %s (Ctrl-C to stop)\n", access.url(ln, access.shown))
	for _, h := range access.also {
		fmt.Fprintf(g.env.Stdout, "  also on %s\n", access.url(ln, h))
	}
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
