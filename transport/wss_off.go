//go:build linnet_nows || linnet_notls

package transport

import (
	"context"
	"net"
)

// Without WebSocket or without TLS there is no wss scheme.

func addWSS(map[string]Module) {}

// wssTLS is never called in this build: wss is not registered.
func wssTLS(_ context.Context, conn net.Conn, _ string, _ *Config) (net.Conn, error) {
	_ = conn.Close()
	return nil, ErrUnknownScheme
}
