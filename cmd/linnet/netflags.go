package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/linnet-mqtt/linnet/transport"
)

// registerNet adds the flags that shape the underlying connection: a local
// address to bind, Nagle's algorithm and a SOCKS5 proxy.
func (c *connFlags) registerNet(fs *flag.FlagSet) {
	fs.StringVar(&c.bind, "A", "", "bind the outgoing socket to this local `address` (an IP address or a host name)")
	fs.BoolVar(&c.noDelay, "nodelay", false, "disable Nagle's algorithm (TCP_NODELAY); Go's connections already have it off,\n"+
		"the flag sets it explicitly")
	fs.StringVar(&c.proxy, "proxy", "", "SOCKS5 proxy `URL`: socks5h://[user[:password]@]host[:port] (port 1080 by default);\n"+
		"the proxy resolves the broker's name (socks5:// resolves it here)")
}

// dialer returns the function that opens the underlying connection for
// the -A, --nodelay and --proxy flags, or nil when none is given.
func (c *connFlags) dialer(server string) (transport.DialFunc, error) {
	if c.bind == "" && !c.noDelay && c.proxy == "" {
		return nil, nil
	}
	var d net.Dialer
	if c.bind != "" {
		ip := net.ParseIP(c.bind)
		if ip == nil {
			addrs, err := net.DefaultResolver.LookupIP(context.Background(), "ip", c.bind)
			if err != nil || len(addrs) == 0 {
				return nil, usagef("-A %q: not a local address: %v", c.bind, err)
			}
			ip = addrs[0]
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	var proxy *socksProxy
	if c.proxy != "" {
		if strings.HasPrefix(strings.ToLower(server), "unix:") {
			return nil, usagef("--proxy: a unix socket cannot be reached through a proxy")
		}
		p, err := parseSOCKS(c.proxy)
		if err != nil {
			return nil, err
		}
		proxy = p
	}
	noDelay, bind := c.noDelay, c.bind
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if network == "unix" {
			var plain net.Dialer
			return plain.DialContext(ctx, network, address)
		}
		var conn net.Conn
		var err error
		if proxy != nil {
			conn, err = proxy.dial(ctx, &d, address)
		} else {
			conn, err = d.DialContext(ctx, network, address)
		}
		if err != nil {
			if bind != "" && isBindError(err) {
				return nil, &bindError{addr: bind, err: err}
			}
			return nil, err
		}
		if tc, ok := conn.(*net.TCPConn); ok && noDelay {
			if err := tc.SetNoDelay(true); err != nil {
				conn.Close()
				return nil, err
			}
		}
		return conn, nil
	}, nil
}

// bindError is a -A address the socket could not be bound to.
type bindError struct {
	addr string
	err  error
}

func (e *bindError) Error() string {
	return fmt.Sprintf("-A %s: cannot bind the outgoing socket to it: %v", e.addr, e.err)
}
func (e *bindError) Unwrap() error { return e.err }

// isBindError reports whether a dial failed on the local address: not one
// of this host's, or of another family than the broker's.
func isBindError(err error) bool {
	var ae *net.AddrError
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EADDRINUSE) ||
		errors.As(err, &ae) && strings.Contains(ae.Err, "no suitable address")
}

// socksProxy is a SOCKS5 proxy (RFC 1928) with no authentication or a user
// name and password (RFC 1929), as mosquitto's --proxy supports.
type socksProxy struct {
	addr        string // host:port of the proxy
	user, pass  string
	remoteNames bool // socks5h: the proxy resolves the broker's name
}

func parseSOCKS(raw string) (*socksProxy, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usagef("--proxy %q: %v", raw, err)
	}
	p := &socksProxy{}
	switch strings.ToLower(u.Scheme) {
	case "socks5h":
		p.remoteNames = true
	case "socks5":
	default:
		return nil, usagef("--proxy %q: the scheme is socks5h:// (or socks5://)", raw)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, usagef("--proxy %q: want socks5h://[user[:password]@]host[:port]", raw)
	}
	port := u.Port()
	if port == "" {
		port = "1080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, usagef("--proxy %q: bad port", raw)
	}
	p.addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		p.user = u.User.Username()
		p.pass, _ = u.User.Password()
		if len(p.user) > 255 || len(p.pass) > 255 {
			return nil, usagef("--proxy: a SOCKS5 user name and password are at most 255 bytes each")
		}
	}
	return p, nil
}
