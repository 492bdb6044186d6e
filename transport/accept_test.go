//go:build !linnet_nows

package transport_test

import (
	"crypto/sha1"
	"encoding/base64"
)

// websocketAccept computes Sec-WebSocket-Accept for the fake servers.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}
