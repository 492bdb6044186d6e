package transport

import (
	"context"
	"net"
)

// DefaultTCPPort is the port of tcp:// and mqtt:// URIs without one.
const DefaultTCPPort = 1883

// tcpModule opens plain TCP connections.
type tcpModule struct{}

func (tcpModule) Validate(u *URI) error { return ValidateHostPort(u, DefaultTCPPort) }

func (tcpModule) Dial(ctx context.Context, u *URI, cfg *Config) (net.Conn, error) {
	return cfg.DialContext(ctx, "tcp", u.Address())
}
