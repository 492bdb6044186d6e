//go:build linnet_notls

package client

import (
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/transport"
)

// tlsOption is nil in a build without TLS; brokers leaves TLS targets out.
func tlsOption(*testcert.Set) transport.Option { return nil }
