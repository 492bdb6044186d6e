//go:build linnet_notls

package transport

// This build (tag linnet_notls) has no TLS: crypto/tls is not linked, the
// ssl, tls, mqtts, tcps and wss schemes are not registered and
// WithTLSConfig does not exist.

type tlsOptions struct{}

func addTLS(map[string]Module) {}
