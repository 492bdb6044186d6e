//go:build !linnet_nows

package client

import "github.com/linnet-mqtt/linnet/transport"

func webSocketHeader(h map[string][]string) []transport.Option {
	return []transport.Option{transport.WithWebSocketHeader(h)}
}
