//go:build !linnet_nows

package transport

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// ProxyFromEnvironment chooses the HTTP proxy for a ws or wss URI the way
// net/http's ProxyFromEnvironment chooses one for http and https: from
// HTTP_PROXY (ws) or HTTPS_PROXY (wss), or their lower-case forms, unless
// NO_PROXY (or no_proxy) excludes the host. "localhost" and loopback
// addresses never use a proxy, and HTTP_PROXY is ignored when
// REQUEST_METHOD is set (CGI). It reads the environment on every call.
// Only http:// proxies are supported; Dial rejects other proxy schemes.
func ProxyFromEnvironment(u *URI) (*url.URL, error) {
	var raw string
	switch u.Scheme {
	case "wss":
		raw = getenvAny("HTTPS_PROXY", "https_proxy")
	case "ws":
		if os.Getenv("REQUEST_METHOD") == "" {
			raw = getenvAny("HTTP_PROXY", "http_proxy")
		}
	}
	if raw == "" || !useProxy(u, getenvAny("NO_PROXY", "no_proxy")) {
		return nil, nil
	}
	p, err := url.Parse(raw)
	if err != nil || p.Scheme == "" || p.Host == "" {
		if p2, err2 := url.Parse("http://" + raw); err2 == nil {
			p, err = p2, nil
		}
	}
	if err != nil {
		return nil, errwrap.Wrap("transport: invalid proxy address in the environment", err)
	}
	return p, nil
}

func getenvAny(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// useProxy applies the NO_PROXY rules of net/http: a comma-separated list
// of "*", host names (matching the name and its subdomains; a leading "."
// or "*." matches subdomains only), IP addresses and CIDR ranges, each
// with an optional port.
func useProxy(u *URI, noProxy string) bool {
	host := strings.ToLower(u.Host)
	if host == "localhost" {
		return false
	}
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil && ip.IsLoopback() {
		return false
	}
	port := strconv.Itoa(u.Port)
	for entry := range strings.SplitSeq(strings.ToLower(noProxy), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if entry == "*" {
			return false
		}
		if pfx, err := netip.ParsePrefix(entry); err == nil {
			if ipErr == nil && pfx.Contains(ip.Unmap()) {
				return false
			}
			continue
		}
		ehost, eport := entry, ""
		if h, p, err := net.SplitHostPort(entry); err == nil {
			ehost, eport = h, p
		}
		if eport != "" && eport != port {
			continue
		}
		if eip, err := netip.ParseAddr(strings.Trim(ehost, "[]")); err == nil {
			if ipErr == nil && eip == ip {
				return false
			}
			continue
		}
		ehost = strings.TrimPrefix(ehost, "*")
		if strings.HasPrefix(ehost, ".") {
			if strings.HasSuffix(host, ehost) {
				return false
			}
		} else if host == ehost || strings.HasSuffix(host, "."+ehost) {
			return false
		}
	}
	return true
}

// dialMaybeProxy opens the TCP connection for a WebSocket URI, through an
// HTTP CONNECT tunnel when the proxy function names a proxy.
func dialMaybeProxy(ctx context.Context, u *URI, cfg *Config) (net.Conn, error) {
	choose := ProxyFromEnvironment
	if cfg.ws.proxySet {
		choose = cfg.ws.proxy
	}
	var proxy *url.URL
	if choose != nil {
		var err error
		if proxy, err = choose(u); err != nil {
			return nil, err
		}
	}
	if proxy == nil {
		return cfg.DialContext(ctx, "tcp", u.Address())
	}
	if proxy.Scheme != "http" {
		return nil, errors.New("transport: proxy scheme " + strconv.Quote(proxy.Scheme) + " is not supported, only http")
	}
	addr := proxy.Host
	if proxy.Port() == "" {
		addr = net.JoinHostPort(proxy.Hostname(), "80")
	}
	cfg.logger.DebugContext(ctx, "transport: using HTTP proxy", "proxy", proxy.Redacted(), "target", u.Address())
	conn, err := cfg.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tunnel, err := connectTunnel(ctx, conn, u.Address(), proxy.User)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tunnel, nil
}

// connectTunnel asks the proxy on conn for a tunnel to target.
func connectTunnel(ctx context.Context, conn net.Conn, target string, user *url.Userinfo) (net.Conn, error) {
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if user != nil {
		pass, _ := user.Password()
		req += "Proxy-Authorization: Basic " +
			base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pass)) + "\r\n"
	}
	req += "\r\n"
	stop := closeOnCancel(ctx, conn)
	defer stop()
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(&limitReader{r: conn, n: maxHandshakeResponse}, 1024)
	code, status, hdr, err := readResponseHead(br)
	if err != nil {
		if he, ok := err.(*HandshakeError); ok {
			he.Proxy = true
		}
		return nil, err
	}
	if code < 200 || code > 299 {
		return nil, &HandshakeError{Proxy: true, StatusCode: code, Status: status, Body: bodyExcerpt(br, hdr),
			Reason: "the proxy refused the tunnel"}
	}
	if n := br.Buffered(); n > 0 {
		// The server spoke before the client: keep what the proxy passed on.
		pre, _ := br.Peek(n)
		return &prefixConn{Conn: conn, pre: append([]byte(nil), pre...)}, nil
	}
	return conn, nil
}

// prefixConn returns pre before reading from Conn.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
