//go:build !linnet_notls

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
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

// tlsConfig loads the CA and client certificate files and applies the TLS
// flags. --insecure keeps the chain check and drops only the host name
// check, as mosquitto's --insecure does.
func (c *connFlags) tlsConfig() (*tls.Config, error) {
	if (c.cert == "") != (c.key == "") {
		return nil, usagef("--cert and --key go together")
	}
	cfg, err := transport.LoadTLSConfig(c.cafile, c.cert, c.key)
	if err != nil {
		return nil, usagef("TLS: %v", strings.TrimPrefix(err.Error(), "transport: "))
	}
	if c.capath != "" || c.osCerts {
		pool := x509.NewCertPool()
		if c.osCerts {
			sys, err := x509.SystemCertPool()
			if err != nil {
				return nil, usagef("--tls-use-os-certs: %v", err)
			}
			pool = sys
		}
		if c.cafile != "" {
			pem, err := os.ReadFile(c.cafile)
			if err != nil {
				return nil, usagef("TLS: %v", err)
			}
			pool.AppendCertsFromPEM(pem) // LoadTLSConfig checked that it holds certificates
		}
		if c.capath != "" {
			if err := addCADir(pool, c.capath); err != nil {
				return nil, err
			}
		}
		cfg.RootCAs = pool
	}
	if c.tlsVersion != "" {
		v, ok := map[string]uint16{"tlsv1.3": tls.VersionTLS13, "tlsv1.2": tls.VersionTLS12, "tlsv1.1": tls.VersionTLS11}[strings.ToLower(c.tlsVersion)]
		if !ok {
			return nil, usagef("--tls-version %q: tlsv1.3, tlsv1.2 or tlsv1.1", c.tlsVersion)
		}
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	if c.ciphers != "" {
		suites, err := parseCiphers(c.ciphers)
		if err != nil {
			return nil, err
		}
		cfg.CipherSuites = suites
	}
	if c.alpn != "" {
		cfg.NextProtos = []string{c.alpn}
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

// addCADir adds the certificates of every PEM file in dir to pool (the
// files of an OpenSSL hashed directory are PEM files too). A directory
// without any certificate is an error.
func addCADir(pool *x509.CertPool, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return usagef("--capath: %v", err)
	}
	found := false
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // a dangling link or an unreadable file: OpenSSL skips it too
		}
		if pool.AppendCertsFromPEM(pem) {
			found = true
		}
	}
	if !found {
		return usagef("--capath %q: no PEM certificate in the directory", dir)
	}
	return nil
}

// openSSLSuites maps OpenSSL cipher names to the TLS 1.2 and older suites
// Go implements.
var openSSLSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
}

// parseCiphers reads a colon- (or comma-) separated list of cipher suite
// names, OpenSSL's or IANA's. OpenSSL's keywords and operators (HIGH,
// !aNULL, +RSA...) have no equivalent and are refused by name.
func parseCiphers(list string) ([]uint16, error) {
	iana := map[string]uint16{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		iana[s.Name] = s.ID
	}
	var ids []uint16
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if id, ok := openSSLSuites[strings.ToUpper(name)]; ok {
			ids = append(ids, id)
			continue
		}
		if id, ok := iana[strings.ToUpper(name)]; ok {
			if id == tls.TLS_AES_128_GCM_SHA256 || id == tls.TLS_AES_256_GCM_SHA384 || id == tls.TLS_CHACHA20_POLY1305_SHA256 {
				return nil, usagef("--ciphers %s: a TLS 1.3 suite, which cannot be chosen (Go enables them all)", name)
			}
			ids = append(ids, id)
			continue
		}
		return nil, usagef("--ciphers %s: not a cipher suite linnet knows (give OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256,\n"+
			"or IANA names; OpenSSL keywords such as HIGH or !aNULL are not supported)", name)
	}
	if len(ids) == 0 {
		return nil, usagef("--ciphers: an empty list")
	}
	return ids, nil
}
