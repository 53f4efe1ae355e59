package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// MinTokenLength is the shortest Config.Token accepted.
const MinTokenLength = 16

const (
	// tokenParam is the query parameter of the URL that hands a browser
	// the token.
	tokenParam = "token"
	// tokenCookie is the name of the cookie holding the token, followed by
	// "-PORT" when the Host names a port: cookies are kept per host, not
	// per port, and two servers on one machine must not overwrite each
	// other's.
	tokenCookie = "fm-image-token"
)

// NewToken returns a random token for Config.Token: 256 bits from
// crypto/rand, URL-safe base64 (43 characters).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails: it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckToken reports why t cannot be a Config.Token: it must be at least
// MinTokenLength characters of letters, digits and "-._~", which go into
// a URL and a cookie unescaped.
func CheckToken(t string) error {
	if len(t) < MinTokenLength {
		return fmt.Errorf("a token must be at least %d characters long, got %d", MinTokenLength, len(t))
	}
	for _, c := range t {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~", c)) {
			return fmt.Errorf("a token may hold only letters, digits and - . _ ~, not %q", c)
		}
	}
	return nil
}

// CheckHost returns the canonical form of a Config.AllowedHosts entry (a
// host name, lower case, or an IP address, brackets optional, without a
// port), or why it cannot be one.
func CheckHost(name string) (string, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.IsUnspecified() {
			return "", fmt.Errorf("%s is the wildcard address, which no request names: list the machine's addresses instead", name)
		}
		return ip.WithZone("").Unmap().String(), nil
	}
	h = strings.ToLower(h)
	if h == "" || len(h) > 253 {
		return "", fmt.Errorf("%q is not a host name or IP address", name)
	}
	for label := range strings.SplitSeq(h, ".") {
		ok := label != "" && len(label) <= 63 && label[0] != '-' && label[len(label)-1] != '-'
		for _, c := range label {
			ok = ok && ('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_')
		}
		if !ok {
			return "", fmt.Errorf("%q is not a host name or IP address (no port, scheme or path)", name)
		}
	}
	return h, nil
}

// guard holds the rules every request is checked against before it reaches
// a route; see the package documentation.
type guard struct {
	names map[string]bool     // allowed host names, lower case
	addrs map[netip.Addr]bool // allowed addresses, unmapped, no zone
	// tokenSum is the SHA-256 of Config.Token, nil if there is none; tokens
	// are compared by their sums, in constant time.
	tokenSum []byte
}

// newGuard builds the guard of a checked Config.
func newGuard(cfg Config) *guard {
	g := &guard{names: make(map[string]bool), addrs: make(map[netip.Addr]bool)}
	for _, h := range cfg.AllowedHosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			g.addrs[ip] = true
		} else {
			g.names[h] = true
		}
	}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		g.tokenSum = sum[:]
	}
	return g
}

// handler checks the Host, the peer and the token of each request before
// passing it to next.
func (g *guard) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := splitHost(r.Host)
		if err == nil && !g.allows(host) {
			err = errors.New("not a name of this server")
		}
		if err != nil {
			refuse(w, r, http.StatusForbidden, fmt.Sprintf("refused Host %q (%v): this server answers only to localhost, "+
				"the loopback addresses and the hosts it was started with, so that other web sites cannot reach it "+
				"through DNS rebinding; open the URL it printed at start%s, or allow this name when starting it "+
				"(fm-image serve --allow-host NAME)", r.Host, err, localURLHint(r)))
			return
		}
		if g.tokenSum == nil {
			if !loopbackPeer(r) {
				refuse(w, r, http.StatusForbidden, "this server has no token and so answers only to requests from its own machine; start it with a token to reach it from elsewhere")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		cookieName := tokenCookie
		if port != "" {
			cookieName += "-" + port
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if q := r.URL.Query(); q.Has(tokenParam) {
				if !g.matches(q.Get(tokenParam)) {
					refuse(w, r, http.StatusForbidden, "wrong token in the URL: open the URL the server printed at start (was it restarted?)")
					return
				}
				// Hand the token to the browser as a cookie, and take it
				// out of the address bar and history.
				http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q.Get(tokenParam), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				q.Del(tokenParam)
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, redirectPath(r, q.Encode()), http.StatusSeeOther)
				return
			}
		}
		var got, from string
		if auth := r.Header.Get("Authorization"); auth != "" {
			scheme, t, _ := strings.Cut(auth, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				refuse(w, r, http.StatusUnauthorized, "unsupported Authorization scheme: send Authorization: Bearer TOKEN")
				return
			}
			got, from = strings.TrimSpace(t), "Authorization header"
		} else if c, err := r.Cookie(cookieName); err == nil {
			got, from = c.Value, "cookie"
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fm-image"`)
			refuse(w, r, http.StatusUnauthorized, "this server requires its token: open the URL it printed at start "+
				"(http://HOST:PORT/?token=...; if you just did so from a link on another site, reload this page), "+
				"or send the header Authorization: Bearer TOKEN")
			return
		}
		if !g.matches(got) {
			refuse(w, r, http.StatusForbidden, "wrong token in the "+from+": open the URL the server printed at start (was it restarted?)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// matches compares t with the token in constant time.
func (g *guard) matches(t string) bool {
	sum := sha256.Sum256([]byte(t))
	return subtle.ConstantTimeCompare(sum[:], g.tokenSum) == 1
}

// allows reports whether requests may name host (without its port).
func (g *guard) allows(host string) bool {
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.WithZone("").Unmap()
		return ip.IsLoopback() || g.addrs[ip]
	}
	return g.names[host]
}

// splitHost splits a Host header into its host, lower case and without
// the brackets of an IPv6 address, and its port (empty if none).
func splitHost(h string) (host, port string, err error) {
	if h == "" {
		return "", "", errors.New("no Host header")
	}
	bracketed := strings.HasPrefix(h, "[")
	if strings.HasSuffix(h, "]") || !strings.Contains(h, ":") {
		host = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	} else if host, port, err = net.SplitHostPort(h); err != nil {
		return "", "", errors.New("not host:port")
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return "", "", errors.New("bad port")
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil && bracketed != ip.Is6() {
		return "", "", errors.New("IPv6 addresses and only they go in brackets")
	}
	return strings.ToLower(host), port, nil
}

// loopbackPeer reports whether r comes from this machine's loopback.
func loopbackPeer(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// localURLHint names a URL of the server, from the address it listens on,
// if it is known: its loopback one unless it listens on one address only.
func localURLHint(r *http.Request) string {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	ap, err := netip.ParseAddrPort(la.String())
	if err != nil {
		return ""
	}
	if ip := ap.Addr().Unmap(); !ip.IsLoopback() && !ip.IsUnspecified() {
		return fmt.Sprintf(" (http://%s/)", ap)
	}
	return fmt.Sprintf(" (on this machine: http://localhost:%d/)", ap.Port())
}

// redirectPath is r's path with query, as a Location that cannot leave the
// server ("//host" would be another site).
func redirectPath(r *http.Request, query string) string {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		p = "/"
	}
	if query != "" {
		p += "?" + query
	}
	return p
}

// refuse answers a request the guard stops: JSON for the API, plain text
// for the pages.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, status, errors.New(msg))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, status)
}
