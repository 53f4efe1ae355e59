package host

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
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

// TestServe starts `fm-image serve` on a free loopback port, asks it for
// its models, and stops it as Ctrl-C would.
func TestServe(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	env := Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--models", f.dir, "--data", f.dir, "--plugin", fakePlugin}, env)
	}()
	addrRE := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never said where it listens; stderr: %s", stderr.String())
		}
	}
	resp, err := http.Get(url + "/api/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/models: status %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("serve exited with %d after a clean stop: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
