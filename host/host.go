// Package host is the fm-image command line: it parses and validates the
// user's request, finds and starts the plugin (package sdk), and turns the
// plugin's progress and results into progress bars and files.
//
// Everything is reachable through Run, so the whole CLI is testable in
// process; cmd/fm-image only wires it to the operating system.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/spf13/cobra"

	"github.com/fm-image/fm-image/sdk"
)

// Exit statuses returned by Run.
const (
	// ExitOK: the command succeeded.
	ExitOK = 0
	// ExitFailure: the command failed while running (plugin error, I/O).
	ExitFailure = 1
	// ExitUsage: bad arguments or flags; nothing was done.
	ExitUsage = 2
	// ExitInterrupted: stopped by SIGINT/SIGTERM (Ctrl-C).
	ExitInterrupted = 130
)

// Environment variables read by the CLI.
const (
	// EnvPlugin names the plugin binary when --plugin is not given.
	EnvPlugin = "FM_IMAGE_PLUGIN"
	// EnvPluginSHA256 is the expected plugin SHA-256 when --plugin-sha256 is
	// not given.
	EnvPluginSHA256 = "FM_IMAGE_PLUGIN_SHA256"
	// EnvToken is the web server's token when serve's --token is not
	// given (unlike the flag, it is not visible in the process list).
	EnvToken = "FM_IMAGE_TOKEN"
	// PluginBinary is the plugin's file name looked up next to the
	// executable and on PATH.
	PluginBinary = "fm-image-plugin"
)

// Env is what the CLI needs from the operating system. OSEnv returns the
// real one; tests substitute their own.
type Env struct {
	// Stdout receives results (info, written file names).
	Stdout io.Writer
	// Stderr receives progress bars, messages, logs and errors.
	Stderr io.Writer
	// Getenv reads an environment variable.
	Getenv func(string) string
	// Executable returns the path of the running fm-image binary.
	Executable func() (string, error)
	// LookPath searches PATH for a binary.
	LookPath func(string) (string, error)
}

// OSEnv returns the process's real environment.
func OSEnv() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Executable: os.Executable, LookPath: exec.LookPath}
}

func (e Env) withDefaults() Env {
	d := OSEnv()
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Getenv == nil {
		e.Getenv = d.Getenv
	}
	if e.Executable == nil {
		e.Executable = d.Executable
	}
	if e.LookPath == nil {
		e.LookPath = d.LookPath
	}
	return e
}

// usageError marks a problem with the user's input: exit status ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// interruptedError reports a command stopped by a signal: ExitInterrupted.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

// globals are the flags shared by every command.
type globals struct {
	env          Env
	pluginPath   string
	pluginSHA256 string
	backend      string
	verbose      bool
}

// Run executes the fm-image command line args (without the program name)
// and returns the exit status. Cancelling ctx (on SIGINT/SIGTERM) cancels
// the running plugin call; the plugin is always stopped before Run returns.
func Run(ctx context.Context, args []string, env Env) int {
	defer plugin.CleanupClients()
	env = env.withDefaults()
	root := newRootCommand(&globals{env: env})
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "fm-image: %v\n", err)
	var ue usageError
	var ie interruptedError
	switch {
	case errors.As(err, &ie):
		return ExitInterrupted
	case errors.As(err, &ue), errors.Is(err, sdk.ErrInvalidRequest):
		return ExitUsage
	case strings.HasPrefix(err.Error(), "unknown command "):
		// cobra reports unknown subcommands with a plain error.
		return ExitUsage
	}
	return ExitFailure
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "fm-image",
		Short: "Train a small image generator on a folder of images and sample from it",
		Long: `fm-image trains a convolutional U-Net by flow matching on a folder of images
and samples new images from it in a chosen number of integration steps.

The model runs in a separate plugin process (fm-image-plugin). It is found
with --plugin, else $` + EnvPlugin + `, else next to the fm-image executable,
else on PATH. --plugin-sha256 (or $` + EnvPluginSHA256 + `) verifies it.

Exit status: 0 success, 1 failure, 2 invalid arguments, 130 interrupted.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.pluginPath, "plugin", "", "path of the fm-image-plugin binary")
	pf.StringVar(&g.pluginSHA256, "plugin-sha256", "", "expected SHA-256 (hex) of the plugin binary; refuse to run it otherwise")
	pf.StringVar(&g.backend, "backend", "", "compute backend of the plugin: fastcpu (the default), fmcpu, go, or xla:PLUGIN (e.g. xla:cuda, in a plugin built with -tags xla); sets $GOMLX_BACKEND for it")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "show the plugin's log")
	root.AddCommand(newTrainCommand(g), newGenerateCommand(g), newInfoCommand(g), newEvalCommand(g))
	root.AddCommand(newServeCommand(g))
	root.AddCommand(newInvertCommand(g), newInterpolateCommand(g))
	return root
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			if n == 0 {
				return usagef("unexpected argument %q", args[0])
			}
			return usagef("want %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

// open finds, verifies and starts the plugin.
func (g *globals) open() (*sdk.Client, error) {
	path, err := FindPlugin(g.pluginPath, g.env)
	if err != nil {
		return nil, err
	}
	sum := g.pluginSHA256
	if sum == "" {
		sum = g.env.Getenv(EnvPluginSHA256)
	}
	var env []string
	if g.backend != "" {
		env = append(env, "GOMLX_BACKEND="+g.backend)
	}
	c, err := sdk.Open(path, sdk.Options{SHA256: sum, Logger: g.logger(), Managed: true, Env: env})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// logger is the CLI's one logger, on stderr: warnings and errors, or
// everything with -v (the plugin's log lines come through it too).
func (g *globals) logger() hclog.Logger {
	level := hclog.Warn
	if g.verbose {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{Name: "fm-image", Output: g.env.Stderr, Level: level})
}

// FindPlugin returns the plugin binary to run: flagPath if set, else
// $FM_IMAGE_PLUGIN, else fm-image-plugin next to the fm-image executable,
// else fm-image-plugin on PATH.
func FindPlugin(flagPath string, env Env) (string, error) {
	env = env.withDefaults()
	check := func(path, source string) (string, error) {
		st, err := os.Stat(path)
		if err != nil {
			return "", usagef("plugin %s (from %s): %w", path, source, err)
		}
		if st.IsDir() {
			return "", usagef("plugin %s (from %s) is a directory, want the fm-image-plugin binary", path, source)
		}
		return path, nil
	}
	if flagPath != "" {
		return check(flagPath, "--plugin")
	}
	if p := env.Getenv(EnvPlugin); p != "" {
		return check(p, "$"+EnvPlugin)
	}
	if exe, err := env.Executable(); err == nil {
		p := joinDir(exe, PluginBinary)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := env.LookPath(PluginBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("cannot find the %s binary: pass --plugin PATH, set $%s, or install it next to fm-image or on PATH",
		PluginBinary, EnvPlugin)
}
