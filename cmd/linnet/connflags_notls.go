//go:build linnet_notls

package main

import "github.com/linnet-mqtt/linnet/transport"

// tlsOption fails in a build without TLS (the linnet_notls tag).
func (c *connFlags) tlsOption() (transport.Option, error) {
	return nil, usagef("TLS: this linnet was built with the linnet_notls tag and has no TLS")
}
