//go:build !linnet_notls

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	"github.com/linnet-mqtt/linnet/transport"
)

// tlsOption is the transport option carrying tlsConfig. Code that must
// build with the linnet_notls tag calls this, not tlsConfig.
func (c *connFlags) tlsOption() (transport.Option, error) {
	cfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	return transport.WithTLSConfig(cfg), nil
}

// tlsConfig loads the CA and client certificate files. --insecure keeps
// the chain check and drops only the host name check, as mosquitto's
// --insecure does.
func (c *connFlags) tlsConfig() (*tls.Config, error) {
	if (c.cert == "") != (c.key == "") {
		return nil, usagef("--cert and --key go together")
	}
	cfg, err := transport.LoadTLSConfig(c.cafile, c.cert, c.key)
	if err != nil {
		return nil, usagef("TLS: %v", strings.TrimPrefix(err.Error(), "transport: "))
	}
	if c.insecure {
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, cert := range cs.PeerCertificates[1:] {
				inter.AddCert(cert)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}
