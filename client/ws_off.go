//go:build linnet_nows

package client

import "github.com/linnet-mqtt/linnet/transport"

// Without WebSocket support there is no upgrade request to add fields to.
func webSocketHeader(map[string][]string) []transport.Option { return nil }
