//go:build linnet_nows

package transport

// This build (tag linnet_nows) has no WebSocket: the ws and wss schemes are
// not registered and the WebSocket options do not exist.

type wsOptions struct{}

func addWS(map[string]Module) {}
