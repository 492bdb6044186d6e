//go:build !linnet_notls

package client

import (
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/transport"
)

// tlsOption returns the transport option trusting the test CA.
func tlsOption(certs *testcert.Set) transport.Option {
	return transport.WithTLSConfig(certs.ClientTLSConfig())
}
