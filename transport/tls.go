//go:build !linnet_notls

package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"reflect"
	"strconv"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// DefaultTLSPort is the port of ssl://, tls://, mqtts:// and tcps:// URIs
// without one.
const DefaultTLSPort = 8883

type tlsOptions struct {
	config *tls.Config
}

// WithTLSConfig sets the TLS configuration for TLS schemes (ssl, tls, mqtts,
// tcps, wss). Dial clones it; when ServerName is empty it is set to the
// URI's host. Without this option a default configuration is used: the
// system roots, TLS 1.2 or newer.
//
// Certificate verification is on unless the configuration sets
// InsecureSkipVerify. DO NOT set InsecureSkipVerify outside tests: any
// machine in the path can then read and change every message, including
// the credentials of the CONNECT packet. Dial logs a warning each time it
// is set.
//
// This option exists only in builds without the linnet_notls tag.
func WithTLSConfig(c *tls.Config) Option {
	return func(cfg *Config) { cfg.tls.config = c }
}

// TLSConfig returns the configuration given with WithTLSConfig, or nil.
// Custom modules use it to run TLS with the user's settings.
func (c *Config) TLSConfig() *tls.Config { return c.tls.config }

// LoadTLSConfig builds a client TLS configuration from PEM files. caFile,
// if not empty, replaces the system roots with the certificates it holds;
// certFile and keyFile, if not empty (both or neither), are the client's
// certificate and key for servers that require one. Verification stays on.
func LoadTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, errwrap.Wrap("transport: reading CA file", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errwrap.Wrap("transport: CA file "+strconv.Quote(caFile), ErrNoCertificates)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("transport: a client certificate needs both a certificate file and a key file")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, errwrap.Wrap("transport: loading client certificate "+strconv.Quote(certFile)+" and key "+strconv.Quote(keyFile), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func addTLS(m map[string]Module) {
	for _, s := range []string{"ssl", "tls", "mqtts", "tcps"} {
		m[s] = tlsModule{}
	}
}

// tlsModule opens TCP connections and runs a TLS client handshake on them.
type tlsModule struct{}

func (tlsModule) Validate(u *URI) error { return ValidateHostPort(u, DefaultTLSPort) }

func (tlsModule) Dial(ctx context.Context, u *URI, cfg *Config) (net.Conn, error) {
	conn, err := cfg.DialContext(ctx, "tcp", u.Address())
	if err != nil {
		return nil, err
	}
	return clientTLS(ctx, conn, u.Host, cfg)
}

// clientTLS runs the TLS handshake on conn within ctx. It closes conn when
// it fails.
func clientTLS(ctx context.Context, conn net.Conn, host string, cfg *Config) (net.Conn, error) {
	var tc *tls.Config
	if cfg.tls.config != nil {
		tc = cfg.tls.config.Clone()
	} else {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if tc.InsecureSkipVerify {
		cfg.logger.WarnContext(ctx, "transport: TLS certificate verification is DISABLED (InsecureSkipVerify); the connection is not secure", "host", host)
	}
	// Note whether the server asks for a client certificate: with TLS 1.2
	// a rejection may then come as a plain handshake_failure alert.
	requested := false
	userGet := tc.GetClientCertificate
	certs := tc.Certificates
	tc.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		requested = true
		if userGet != nil {
			return userGet(cri)
		}
		for i := range certs { // the choice crypto/tls makes without the callback
			if cri.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		return new(tls.Certificate), nil
	}
	c := tls.Client(conn, tc)
	stop := closeOnCancel(ctx, conn)
	err := c.Handshake()
	stop()
	if err != nil {
		_ = conn.Close()
		return nil, classifyTLS(err, requested)
	}
	return &tlsConn{Conn: c}, nil
}

// classifyTLS turns a crypto/tls error into a *TLSError saying what failed.
// Deadline errors stay as they are: they are about time, not TLS.
func classifyTLS(err error, certRequested bool) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown):
		return &TLSError{Kind: ErrUnknownAuthority, Err: err}
	case errors.As(err, &hostname):
		return &TLSError{Kind: ErrHostnameMismatch, Err: err}
	case errors.As(err, &invalid) && (invalid.Reason == x509.Expired):
		return &TLSError{Kind: ErrCertificateExpired, Err: err}
	case errors.As(err, &invalid), errors.As(err, &verify):
		return &TLSError{Kind: ErrCertificateInvalid, Err: err}
	case clientCertAlert(err, certRequested):
		return &TLSError{Kind: ErrClientCertRejected, Err: err}
	}
	return &TLSError{Kind: ErrTLS, Err: err}
}

// clientCertAlert reports whether err is a TLS alert received from the
// server that rejects the client's certificate (or, for handshake_failure,
// may do so because it asked for one). crypto/tls reports a
// received alert as a *net.OpError with Op "remote error" whose Err is an
// unexported uint8 type holding the alert number (RFC 8446 §6).
func clientCertAlert(err error, certRequested bool) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return false
	}
	switch v.Uint() {
	case 40: // handshake_failure: TLS 1.2 servers send it for a missing certificate
		return certRequested
	case 42, // bad_certificate
		43,  // unsupported_certificate
		44,  // certificate_revoked
		45,  // certificate_expired
		46,  // certificate_unknown
		48,  // unknown_ca
		49,  // access_denied
		116: // certificate_required (TLS 1.3)
		return true
	}
	return false
}

// tlsConn is the connection of the TLS schemes. With TLS 1.3 the server
// checks the client certificate after the client's handshake is done, so a
// rejection arrives as an alert on the first read; tlsConn reports it as a
// *TLSError with Kind ErrClientCertRejected, like a rejection during the
// handshake.
type tlsConn struct {
	*tls.Conn
}

func (c *tlsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && clientCertAlert(err, false) {
		err = &TLSError{Kind: ErrClientCertRejected, Err: err}
	}
	return n, err
}

func (c *tlsConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && clientCertAlert(err, false) {
		err = &TLSError{Kind: ErrClientCertRejected, Err: err}
	}
	return n, err
}
