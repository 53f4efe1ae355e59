package host

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fm-image/fm-image/host/web"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeUsage(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing models", []string{"serve", "--models", f.file}, "--models " + f.file + " does not exist or is not a directory"},
		{"missing data", []string{"serve", "--data", f.dir + "/nope"}, "--data " + f.dir + "/nope does not exist"},
		{"bad addr", []string{"serve", "--addr", "8080"}, `invalid --addr "8080"`},
		{"bad max", []string{"serve", "--max-generations", "0"}, "invalid --max-generations"},
		{"extra arg", []string{"serve", "x"}, `unexpected argument "x"`},
		{"short token", []string{"serve", "--token", "secret"}, "invalid --token (or $FM_IMAGE_TOKEN): a token must be at least 16 characters long"},
		{"token with space", []string{"serve", "--token", "0123456789 abcdef"}, "invalid --token"},
		{"allowed host with port", []string{"serve", "--allow-host", "gpubox:8080"}, `invalid --allow-host: "gpubox:8080" is not a host name`},
		{"allowed wildcard", []string{"serve", "--allow-host", "0.0.0.0"}, "invalid --allow-host: 0.0.0.0 is the wildcard address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, append(tt.args, "--plugin", fakePlugin)...)
			if code != ExitUsage || !bytes.Contains([]byte(stderr), []byte(tt.wantErr)) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, ExitUsage, tt.wantErr)
			}
		})
	}
}

// served is a running `fm-image serve`.
type served struct {
	url            string // as printed, with the token if any
	base, token    string // url without the path and token; the token
	stdout, stderr *syncBuffer
}

// startServe runs `fm-image serve` with args (and the fake plugin and a
// models and data directory) and env's variables until the test ends, when
// it stops it as Ctrl-C would and checks that it exits cleanly.
func startServe(t *testing.T, env map[string]string, args ...string) served {
	t.Helper()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := served{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	e := Env{Stdout: s.stdout, Stderr: s.stderr, Getenv: func(k string) string { return env[k] }}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--models", f.dir, "--data", f.dir, "--plugin", fakePlugin}, args...), e)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != ExitOK {
				t.Errorf("serve exited with %d after a clean stop: %s", code, s.stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	urlRE := regexp.MustCompile(`serving on ((http://[^/ ]+)/(?:\?token=([A-Za-z0-9_-]+))?) \(Ctrl-C to stop\)`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url, s.base, s.token = m[1], m[2], m[3]
			return s
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited with %d: %s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never said where it listens; stdout: %s; stderr: %s", s.stdout.String(), s.stderr.String())
		}
	}
}

// get sends GET url with the given Host header (empty: the URL's) and
// Authorization header (if any), and returns the status and body.
func get(t *testing.T, url, host, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServe starts `fm-image serve` on a free loopback port, asks it for
// its models, checks that it refuses requests naming another host than a
// loopback one (DNS rebinding), and stops it as Ctrl-C would.
func TestServe(t *testing.T) {
	s := startServe(t, nil, "--addr", "127.0.0.1:0")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`).MatchString(s.url) || s.token != "" {
		t.Fatalf("printed URL %q, want a loopback one without a token", s.url)
	}
	if status, body := get(t, s.base+"/api/models", "", ""); status != http.StatusOK {
		t.Fatalf("GET /api/models: status %d: %s", status, body)
	}
	port := s.base[strings.LastIndexByte(s.base, ':')+1:]
	for _, host := range []string{"evil.example.com", "evil.example.com:" + port, "127.0.0.1.evil.com:" + port} {
		status, body := get(t, s.base+"/api/models", host, "")
		if status != http.StatusForbidden || !strings.Contains(body, `refused Host \"`+host+`\"`) {
			t.Fatalf("GET /api/models with Host %s: status %d: %s; want 403 naming the Host", host, status, body)
		}
	}
	if status, _ := get(t, s.base+"/", "localhost:"+port, ""); status != http.StatusOK {
		t.Fatalf("GET / with Host localhost: status %d", status)
	}
	if strings.Contains(s.stderr.String(), "note:") {
		t.Fatalf("a loopback server noted %q", s.stderr.String())
	}
}

// TestServeToken checks that a server reachable from other machines, or
// given a token, prints a URL with it and requires it.
func TestServeToken(t *testing.T) {
	const envToken = "from-the-environment-0123"
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		urlPrefix string // of the URL printed
		token     string // "": a random one
		note      string // on stderr: why a token is needed
		allowed   string // another Host it answers to
	}{
		{"wildcard", nil, []string{"--addr", "0.0.0.0:0"}, "http://127.0.0.1:", "", "--addr 0.0.0.0:0 is reachable from other machines", ""},
		{"wildcard with a token", nil, []string{"--addr", "0.0.0.0:0", "--token", "given-on-the-command-line"}, "http://127.0.0.1:", "given-on-the-command-line", "is reachable from other machines", ""},
		{"loopback with a token from the environment", map[string]string{EnvToken: envToken}, []string{"--addr", "127.0.0.1:0"}, "http://127.0.0.1:", envToken, "", ""},
		{"loopback with another name", nil, []string{"--addr", "127.0.0.1:0", "--allow-host", "GpuBox.lan"}, "http://127.0.0.1:", "", "--allow-host names the server for other machines", "gpubox.lan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServe(t, tt.env, tt.args...)
			t.Logf("stdout: %s", s.stdout)
			if !strings.HasPrefix(s.url, tt.urlPrefix) || s.token == "" || tt.token != "" && s.token != tt.token || tt.token == "" && len(s.token) < 43 {
				t.Fatalf("printed URL %q, want %s...?token=%s", s.url, tt.urlPrefix, tt.token)
			}
			if stderr := s.stderr.String(); tt.note == "" && strings.Contains(stderr, "note:") || tt.note != "" && !strings.Contains(stderr, tt.note+", so every request needs the token") {
				t.Fatalf("stderr %q, want the note %q", s.stderr.String(), tt.note)
			}
			port := s.base[strings.LastIndexByte(s.base, ':')+1:]
			bearer := "Bearer " + s.token
			checks := []struct {
				name, path, host, auth string
				status                 int
			}{
				{"no token", "/api/models", "", "", http.StatusUnauthorized},
				{"wrong token", "/api/models", "", "Bearer not-the-token-0123456789", http.StatusForbidden},
				{"bearer", "/api/models", "", bearer, http.StatusOK},
				{"URL", "/?token=" + s.token, "", "", http.StatusSeeOther},
				{"evil Host", "/api/models", "evil.example.com:" + port, bearer, http.StatusForbidden},
				{"localhost", "/api/models", "localhost:" + port, bearer, http.StatusOK},
			}
			// On a wildcard it answers to the machine's name and addresses
			// it prints URLs with.
			also := regexp.MustCompile(`also on http://([^/]+)/\?token=`+s.token).FindAllStringSubmatch(s.stdout.String(), -1)
			if name, err := os.Hostname(); err == nil && validHostname(name) && strings.HasPrefix(tt.name, "wildcard") && (len(also) == 0 || also[0][1] != strings.ToLower(name)+":"+port) {
				t.Fatalf("stdout %q: want a URL with the machine's name %s", s.stdout, name)
			}
			if tt.allowed != "" {
				also = append(also, []string{"", tt.allowed + ":" + port})
			}
			for _, m := range also {
				checks = append(checks, struct {
					name, path, host, auth string
					status                 int
				}{"also on " + m[1], "/api/models", m[1], bearer, http.StatusOK})
			}
			for _, c := range checks {
				if status, body := get(t, s.base+c.path, c.host, c.auth); status != c.status {
					t.Errorf("%s: GET %s (Host %q): status %d, want %d: %s", c.name, c.path, c.host, status, c.status, body)
				}
			}
		})
	}
}

// validHostname reports whether the server can answer to name.
func validHostname(name string) bool {
	_, err := web.CheckHost(name)
	return err == nil
}
