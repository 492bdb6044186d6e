package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// errSOCKS marks a failure of the SOCKS5 proxy: it refused the
// authentication or the connection, or broke the protocol.
var errSOCKS = errors.New("SOCKS5 proxy")

// socksError is what the proxy said or did wrong.
type socksError struct{ msg string }

func (e *socksError) Error() string { return "SOCKS5 proxy: " + e.msg }
func (e *socksError) Is(target error) bool {
	return target == errSOCKS
}

// proxyDialError is a failure to reach the proxy itself.
type proxyDialError struct {
	addr string
	err  error
}

func (e *proxyDialError) Error() string {
	return "cannot reach the SOCKS5 proxy at " + e.addr + ": " + e.err.Error()
}
func (e *proxyDialError) Unwrap() error { return e.err }

// socksReplies are the reply codes of RFC 1928, section 6.
var socksReplies = map[byte]string{
	1: "general failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// dial opens a connection to address (host:port) through the proxy, with
// d opening the connection to the proxy itself.
func (p *socksProxy) dial(ctx context.Context, d *net.Dialer, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("bad port in %q", address)
	}
	ip := net.ParseIP(host)
	if ip == nil && !p.remoteNames {
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		ip = ips[0]
	}
	if ip == nil && len(host) > 255 {
		return nil, &socksError{msg: "host name longer than 255 bytes"}
	}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, &proxyDialError{addr: p.addr, err: err}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := p.handshake(conn, host, ip, port); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (p *socksProxy) handshake(conn net.Conn, host string, ip net.IP, port int) error {
	method := byte(0) // no authentication
	if p.user != "" {
		method = 2 // user name and password
	}
	if _, err := conn.Write([]byte{5, 1, method}); err != nil {
		return err
	}
	var reply [2]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return &socksError{msg: "no answer to the greeting: " + err.Error()}
	}
	switch {
	case reply[0] != 5:
		return &socksError{msg: fmt.Sprintf("version %d in the answer, not 5", reply[0])}
	case reply[1] == 0xff:
		if p.user == "" {
			return &socksError{msg: "it requires authentication (give user:password@ in --proxy)"}
		}
		return &socksError{msg: "it does not accept user name and password authentication"}
	case reply[1] != method:
		return &socksError{msg: fmt.Sprintf("it chose authentication method %d, not offered", reply[1])}
	}
	if method == 2 {
		msg := []byte{1, byte(len(p.user))}
		msg = append(msg, p.user...)
		msg = append(msg, byte(len(p.pass)))
		msg = append(msg, p.pass...)
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, reply[:]); err != nil {
			return &socksError{msg: "no answer to the authentication: " + err.Error()}
		}
		if reply[1] != 0 {
			return &socksError{msg: "user name or password refused"}
		}
	}
	req := []byte{5, 1, 0} // CONNECT
	switch {
	case ip == nil:
		req = append(req, 3, byte(len(host)))
		req = append(req, host...)
	case ip.To4() != nil:
		req = append(req, 1)
		req = append(req, ip.To4()...)
	default:
		req = append(req, 4)
		req = append(req, ip.To16()...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := conn.Write(req); err != nil {
		return err
	}
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return &socksError{msg: "no answer to CONNECT: " + err.Error()}
	}
	if head[0] != 5 {
		return &socksError{msg: fmt.Sprintf("version %d in the answer, not 5", head[0])}
	}
	if head[1] != 0 {
		why, ok := socksReplies[head[1]]
		if !ok {
			why = fmt.Sprintf("reply code %d", head[1])
		}
		return &socksError{msg: "CONNECT to " + net.JoinHostPort(hostOr(host, ip), strconv.Itoa(port)) + " failed: " + why}
	}
	// Skip the bound address: IPv4, a name or IPv6, then the port.
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		var n [1]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return &socksError{msg: "truncated answer to CONNECT"}
		}
		skip = int(n[0])
	default:
		return &socksError{msg: fmt.Sprintf("address type %d in the answer", head[3])}
	}
	if _, err := io.ReadFull(conn, make([]byte, skip+2)); err != nil {
		return &socksError{msg: "truncated answer to CONNECT"}
	}
	return nil
}

func hostOr(host string, ip net.IP) string {
	if host != "" {
		return host
	}
	return ip.String()
}
