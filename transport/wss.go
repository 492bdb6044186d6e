//go:build !linnet_nows && !linnet_notls

package transport

import (
	"context"
	"net"
)

func addWSS(m map[string]Module) { m["wss"] = wsModule{tls: true} }

func wssTLS(ctx context.Context, conn net.Conn, host string, cfg *Config) (net.Conn, error) {
	return clientTLS(ctx, conn, host, cfg)
}
