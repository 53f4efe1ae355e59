package web

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fm-image/fm-image/sdk/sdktest"
)

// guardRoutes are requests to each kind of route, with the status each
// gets once past the guard.
var guardRoutes = []struct {
	method, path, body string
	status             int
}{
	{"GET", "/", "", http.StatusOK},
	{"GET", "/app.js", "", http.StatusOK},
	{"GET", "/api/models", "", http.StatusOK},
	{"GET", "/api/config", "", http.StatusOK},
	{"POST", "/api/generate", `{"model":"m16","steps":1,"n":1}`, http.StatusOK},
	{"GET", "/api/train/events?model=m16", "", http.StatusNotFound}, // no run: the route's own answer
}

// send makes a request to ts with the given Host header (empty: the
// server's address) and extra headers, through client (nil: ts's).
func send(t *testing.T, ts *httptest.Server, client *http.Client, method, path, body, host string, header http.Header) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	if client == nil {
		client = ts.Client()
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// wantRefused checks that resp is a refusal with status whose message
// contains msg: JSON for the API, plain text for the pages.
func wantRefused(t *testing.T, resp *http.Response, status int, msg string) {
	t.Helper()
	if strings.HasPrefix(resp.Request.URL.Path, "/api/") {
		wantError(t, resp, status, msg)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(b), msg) {
		t.Fatalf("status %d, Content-Type %q, body %q; want %d, text/plain and %q", resp.StatusCode, resp.Header.Get("Content-Type"), b, status, msg)
	}
}

func TestHostCheck(t *testing.T) {
	f := newFixture(t)
	_, ts := newTestServer(t, &sdktest.Generator{}, f, Config{})
	_, allowing := newTestServer(t, &sdktest.Generator{}, f, Config{AllowedHosts: []string{"GpuBox.lan", "192.168.1.5", "[fe80::1]"}})
	port := ts.URL[strings.LastIndexByte(ts.URL, ':')+1:]
	tests := []struct {
		name, host string
		ts         *httptest.Server
		ok         bool
	}{
		{"server address", "", ts, true},
		{"127.0.0.1", "127.0.0.1:" + port, ts, true},
		{"localhost", "localhost:" + port, ts, true},
		{"LOCALHOST", "LOCALHOST:" + port, ts, true},
		{"localhost without port", "localhost", ts, true},
		{"::1", "[::1]:" + port, ts, true},
		{"other loopback", "127.0.0.2:8080", ts, true},
		{"mapped loopback", "[::ffff:127.0.0.1]:" + port, ts, true},
		{"evil", "evil.example.com", ts, false},
		{"evil with port", "evil.example.com:" + port, ts, false},
		{"loopback prefix", "127.0.0.1.evil.com", ts, false},
		{"localhost prefix", "localhost.evil.com:" + port, ts, false},
		{"localhost suffix", "evil-localhost:" + port, ts, false},
		{"LAN address", "192.168.1.5:" + port, ts, false},
		{"wildcard", "0.0.0.0:" + port, ts, false},
		{"IPv4 in brackets", "[127.0.0.1]:" + port, ts, false},
		{"IPv6 without brackets", "::1", ts, false},
		{"bad port", "localhost:http", ts, false},
		{"allowed name", "gpubox.LAN:" + port, allowing, true},
		{"allowed address", "192.168.1.5", allowing, true},
		{"allowed IPv6", "[fe80::1]:" + port, allowing, true},
		{"allowed name as prefix", "gpubox.lan.evil.com", allowing, false},
		{"evil, allowing others", "evil.example.com:" + port, allowing, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rt := range guardRoutes {
				t.Run(rt.method+" "+rt.path, func(t *testing.T) {
					resp := send(t, tt.ts, nil, rt.method, rt.path, rt.body, tt.host, nil)
					if !tt.ok {
						wantRefused(t, resp, http.StatusForbidden, "refused Host "+`"`+tt.host+`"`)
						return
					}
					if resp.StatusCode != rt.status {
						b, _ := io.ReadAll(resp.Body)
						t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, rt.status, b)
					}
				})
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		resp := send(t, ts, nil, "GET", "/api/models", "", "evil.example.com:"+port, nil)
		wantRefused(t, resp, http.StatusForbidden, "open the URL it printed at start (on this machine: http://localhost:"+port+"/)")
		if csp := resp.Header.Get("Content-Security-Policy"); csp == "" {
			t.Fatal("a refusal without the security headers")
		}
	})
}

func TestGuardWithoutListener(t *testing.T) {
	f := newFixture(t)
	newServer := func(cfg Config) http.Handler {
		cfg.ModelsDir, cfg.DataDir = f.models, f.data
		s, err := New(&sdktest.Generator{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.Handler()
	}
	open, withToken := newServer(Config{}), newServer(Config{Token: "0123456789abcdef"})
	tests := []struct {
		name, host, remote, auth string
		h                        http.Handler
		status                   int
		msg                      string
	}{
		{"no Host", "", "127.0.0.1:1234", "", open, http.StatusForbidden, "no Host header"},
		{"from loopback", "localhost", "127.0.0.1:1234", "", open, http.StatusOK, ""},
		{"from IPv6 loopback", "localhost", "[::1]:1234", "", open, http.StatusOK, ""},
		{"from another machine", "localhost", "192.0.2.1:1234", "", open, http.StatusForbidden, "has no token"},
		{"from a unix socket", "localhost", "@", "", open, http.StatusForbidden, "has no token"},
		{"from another machine with the token", "localhost", "192.0.2.1:1234", "Bearer 0123456789abcdef", withToken, http.StatusOK, ""},
		{"from another machine without it", "localhost", "192.0.2.1:1234", "", withToken, http.StatusUnauthorized, "requires its token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/config", nil)
			req.Host, req.RemoteAddr = tt.host, tt.remote
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			resp := rec.Result()
			resp.Request = req
			if tt.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, rec.Body)
				}
				return
			}
			wantRefused(t, resp, tt.status, tt.msg)
		})
	}
}

func TestToken(t *testing.T) {
	token := NewToken()
	_, ts := newTestServer(t, &sdktest.Generator{}, newFixture(t), Config{Token: token})
	port := ts.URL[strings.LastIndexByte(ts.URL, ':')+1:]
	cookie := "fm-image-token-" + port
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name   string
		query  string
		header http.Header
		host   string
		status int // 0: the route's own
		msg    string
	}{
		{"no token", "", nil, "", http.StatusUnauthorized, "requires its token: open the URL it printed at start"},
		{"wrong bearer", "", hdr("Authorization", "Bearer "+token+"x"), "", http.StatusForbidden, "wrong token in the Authorization header"},
		{"empty bearer", "", hdr("Authorization", "Bearer"), "", http.StatusForbidden, "wrong token"},
		{"basic auth", "", hdr("Authorization", "Basic "+token), "", http.StatusUnauthorized, "send Authorization: Bearer TOKEN"},
		{"wrong cookie", "", hdr("Cookie", cookie+"=0123456789abcdef"), "", http.StatusForbidden, "wrong token in the cookie"},
		{"cookie of another port", "", hdr("Cookie", "fm-image-token-1="+token), "", http.StatusUnauthorized, "requires its token"},
		{"cookie without port", "", hdr("Cookie", "fm-image-token="+token), "", http.StatusUnauthorized, "requires its token"},
		{"prefix of the token", "", hdr("Authorization", "Bearer "+token[:len(token)-1]), "", http.StatusForbidden, "wrong token"},
		{"cookie", "", hdr("Cookie", cookie+"="+token), "", 0, ""},
		{"bearer", "", hdr("Authorization", "Bearer "+token), "", 0, ""},
		{"lower-case bearer", "", hdr("Authorization", "bearer "+token), "", 0, ""},
		{"bearer beats a stale cookie", "", hdr("Authorization", "Bearer "+token, "Cookie", cookie+"=stale-token-0123456"), "", 0, ""},
		{"token but evil Host", "", hdr("Authorization", "Bearer "+token), "evil.example.com:" + port, http.StatusForbidden, "refused Host"},
		{"wrong token in the URL", "token=0123456789abcdef", hdr("Cookie", cookie+"="+token), "", http.StatusForbidden, "wrong token in the URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rt := range guardRoutes {
				path := rt.path
				if tt.query != "" {
					if rt.method != "GET" {
						continue // a POST's query is no credential
					}
					path += map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + tt.query
				}
				t.Run(rt.method+" "+rt.path, func(t *testing.T) {
					resp := send(t, ts, noRedirect, rt.method, path, rt.body, tt.host, tt.header)
					if tt.status != 0 {
						wantRefused(t, resp, tt.status, tt.msg)
						if tt.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" && tt.header == nil {
							t.Fatal("401 without WWW-Authenticate")
						}
						return
					}
					if resp.StatusCode != rt.status {
						b, _ := io.ReadAll(resp.Body)
						t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, rt.status, b)
					}
				})
			}
		})
	}

	t.Run("token in the URL", func(t *testing.T) {
		redirects := []struct{ path, location string }{
			{"/?token=" + token, "/"},
			{"/api/models?token=" + token, "/api/models"},
			{"/?a=1&token=" + token + "&b=%2F", "/?a=1&b=%2F"},
			{"/index.html?token=" + token + "&token=" + token, "/index.html"},
			{"//evil.example.com/?token=" + token, "/"},
		}
		for _, rd := range redirects {
			t.Run(rd.path, func(t *testing.T) {
				resp := send(t, ts, noRedirect, "GET", rd.path, "", "", nil)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != rd.location {
					t.Fatalf("status %d, Location %q; want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), rd.location)
				}
				var c *http.Cookie
				for _, rc := range resp.Cookies() {
					if rc.Name == cookie {
						c = rc
					}
				}
				if c == nil || c.Value != token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
					t.Fatalf("cookies %v: want %s=TOKEN; Path=/; HttpOnly; SameSite=Strict", resp.Cookies(), cookie)
				}
			})
		}
		t.Run("POST", func(t *testing.T) {
			resp := send(t, ts, noRedirect, "POST", "/api/generate?token="+token, guardRoutes[4].body, "", nil)
			wantRefused(t, resp, http.StatusUnauthorized, "requires its token")
		})
	})

	t.Run("as a browser", func(t *testing.T) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		browser := &http.Client{Jar: jar}
		resp := send(t, ts, browser, "GET", "/?token="+token, "", "", nil)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "" {
			t.Fatalf("status %d at %s, want 200 at the URL without the token", resp.StatusCode, resp.Request.URL)
		}
		for _, rt := range guardRoutes {
			if resp := send(t, ts, browser, rt.method, rt.path, rt.body, "", nil); resp.StatusCode != rt.status {
				t.Fatalf("%s %s: status %d, want %d", rt.method, rt.path, resp.StatusCode, rt.status)
			}
		}
		u, _ := url.Parse(ts.URL)
		if len(jar.Cookies(u)) != 1 {
			t.Fatalf("cookies %v, want one", jar.Cookies(u))
		}
	})
}

func TestGuardConfig(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		cfg  Config
		err  string // "": valid
	}{
		{"names and addresses", Config{AllowedHosts: []string{"gpubox", "GPU-box.lan", "10.0.0.2", "[2001:db8::1]", "::1"}}, ""},
		{"token", Config{Token: "abcdefghij-._~0123456789"}, ""},
		{"generated token", Config{Token: NewToken()}, ""},
		{"host with port", Config{AllowedHosts: []string{"gpubox:8080"}}, `"gpubox:8080" is not a host name or IP address`},
		{"URL", Config{AllowedHosts: []string{"http://gpubox"}}, "not a host name"},
		{"empty host", Config{AllowedHosts: []string{""}}, "not a host name"},
		{"empty label", Config{AllowedHosts: []string{"gpubox..lan"}}, "not a host name"},
		{"leading hyphen", Config{AllowedHosts: []string{"-gpubox"}}, "not a host name"},
		{"wildcard name", Config{AllowedHosts: []string{"*.lan"}}, "not a host name"},
		{"IPv4 wildcard", Config{AllowedHosts: []string{"0.0.0.0"}}, "wildcard address"},
		{"IPv6 wildcard", Config{AllowedHosts: []string{"[::]"}}, "wildcard address"},
		{"short token", Config{Token: "secret"}, "at least 16 characters long, got 6"},
		{"token with space", Config{Token: "0123456789 abcdef"}, `not ' '`},
		{"token with semicolon", Config{Token: "0123456789;abcdef"}, `not ';'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ModelsDir, tt.cfg.DataDir = f.models, f.data
			_, err := New(&sdktest.Generator{}, tt.cfg)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
	canonical := map[string]string{"GpuBox.LAN": "gpubox.lan", "[2001:DB8::1]": "2001:db8::1", "::ffff:10.0.0.2": "10.0.0.2", "fe80::1%eth0": "fe80::1"}
	for in, want := range canonical {
		if got, err := CheckHost(in); got != want || err != nil {
			t.Errorf("CheckHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if a, b := NewToken(), NewToken(); a == b || len(a) != 43 || CheckToken(a) != nil {
		t.Errorf("NewToken gave %q and %q", a, b)
	}
}
