//go:build !linnet_notls

package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/internal/testcert"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestTLSMochi exchanges CONNECT and CONNACK with the embedded broker over
// every TLS scheme, with a configuration loaded from PEM files.
func TestTLSMochi(t *testing.T) {
	b := testbroker.StartMochi(t, testbroker.MochiConfig{})
	cfg, err := transport.LoadTLSConfig(b.Certs.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"ssl", "tls", "mqtts", "tcps"} {
		t.Run(scheme, func(t *testing.T) {
			c, err := transport.Dial(ctxT(t), b.URI(scheme), transport.WithTLSConfig(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			testbroker.Handshake(t, c, "lnt-"+scheme)
		})
	}
	// With a host name, the name is sent (SNI) and verified.
	_, port, _ := net.SplitHostPort(b.TLSAddr)
	c, err := transport.Dial(ctxT(t), "ssl://localhost:"+port, transport.WithTLSConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cs := c.(interface{ ConnectionState() tls.ConnectionState }).ConnectionState(); cs.ServerName != "localhost" {
		t.Errorf("ServerName = %q, want the URI host", cs.ServerName)
	}
	if cfg.ServerName != "" {
		t.Errorf("Dial changed the caller's tls.Config")
	}
}

// TestMutualTLSMochi checks a client certificate accepted by the server,
// and the rejection of a missing one: with TLS 1.2 during the handshake,
// with TLS 1.3 on the first read after it. Both are ErrClientCertRejected.
func TestMutualTLSMochi(t *testing.T) {
	certs := testcert.New(t)
	withCert, err := transport.LoadTLSConfig(certs.CAFile, certs.Client.CertFile, certs.Client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	noCert := &tls.Config{RootCAs: certs.Pool}

	t.Run("accepted", func(t *testing.T) {
		b := testbroker.StartMochi(t, testbroker.MochiConfig{Certs: certs, ClientAuth: tls.RequireAndVerifyClientCert})
		c, err := transport.Dial(ctxT(t), b.URI("ssl"), transport.WithTLSConfig(withCert))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		testbroker.Handshake(t, c, "lnt-mtls")
	})
	t.Run("TLS1.2", func(t *testing.T) {
		b := testbroker.StartMochi(t, testbroker.MochiConfig{Certs: certs, ClientAuth: tls.RequireAndVerifyClientCert, MaxTLSVersion: tls.VersionTLS12})
		_, err := transport.Dial(ctxT(t), b.URI("ssl"), transport.WithTLSConfig(noCert))
		wantTLS(t, err, transport.ErrClientCertRejected)
	})
	t.Run("TLS1.3 late", func(t *testing.T) {
		b := testbroker.StartMochi(t, testbroker.MochiConfig{Certs: certs, ClientAuth: tls.RequireAndVerifyClientCert})
		c, err := transport.Dial(ctxT(t), b.URI("ssl"), transport.WithTLSConfig(noCert))
		if err != nil {
			t.Fatalf("TLS 1.3 handshake failed early: %v", err)
		}
		defer c.Close()
		_, _ = c.Write(testbroker.ConnectPacket("lnt-late"))
		_, err = io.ReadFull(c, make([]byte, 4))
		wantTLS(t, err, transport.ErrClientCertRejected)
	})
}

func wantTLS(t *testing.T, err, kind error) {
	t.Helper()
	var te *transport.TLSError
	if !errors.As(err, &te) || !errors.Is(err, kind) || !errors.Is(err, transport.ErrTLS) {
		t.Fatalf("error = %v, want a *TLSError of kind %v", err, kind)
	}
}

// tlsServer runs a TLS server on 127.0.0.1 that completes the handshake and
// holds each connection until the client closes it.
func tlsServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c) // handshake, then wait for the client to leave
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String()
}

// TestTLSVerificationErrors checks that each kind of bad server
// certificate is reported as what it is.
func TestTLSVerificationErrors(t *testing.T) {
	certs := testcert.New(t)
	trusting := &tls.Config{RootCAs: certs.Pool}
	serve := func(p testcert.Pair) string {
		return tlsServer(t, &tls.Config{Certificates: []tls.Certificate{p.Cert}})
	}
	cases := []struct {
		name string
		addr string
		cfg  *tls.Config
		kind error
		as   any
	}{
		{"unknown authority", serve(certs.Server), nil, transport.ErrUnknownAuthority, &x509.UnknownAuthorityError{}},
		{"wrong host", serve(certs.WrongHost), trusting, transport.ErrHostnameMismatch, &x509.HostnameError{}},
		{"expired", serve(certs.Expired), trusting, transport.ErrCertificateExpired, &x509.CertificateInvalidError{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []transport.Option
			if c.cfg != nil {
				opts = append(opts, transport.WithTLSConfig(c.cfg))
			}
			_, err := transport.Dial(ctxT(t), "ssl://"+c.addr, opts...)
			wantTLS(t, err, c.kind)
			if !errors.As(err, c.as) {
				t.Errorf("error %v does not unwrap to %T", err, c.as)
			}
		})
	}
	// Not a TLS server at all: still a *TLSError, of the general kind.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	_, err = transport.Dial(ctxT(t), "tls://"+l.Addr().String(), transport.WithTLSConfig(trusting))
	wantTLS(t, err, transport.ErrTLS)
}

// TestTLSHandshakeTimeout checks that ctx bounds the TLS handshake with a
// server that never answers.
func TestTLSHandshakeTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	_, err = transport.Dial(t.Context(), "ssl://"+l.Addr().String(), transport.WithConnectTimeout(50e6))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Dial = %v, want a timeout", err)
	}
	if c := <-accepted; c != nil {
		c.Close()
	}
}

// TestTLSMosquitto exchanges CONNECT and CONNACK with mosquitto over TLS,
// with and without a required client certificate.
func TestTLSMosquitto(t *testing.T) {
	certs := testcert.New(t)
	withCert, err := transport.LoadTLSConfig(certs.CAFile, certs.Client.CertFile, certs.Client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("server auth", func(t *testing.T) {
		m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true, Certs: certs})
		c, err := transport.Dial(ctxT(t), m.TLSURI(), transport.WithTLSConfig(&tls.Config{RootCAs: certs.Pool}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		testbroker.Handshake(t, c, "lnt-mosq-tls")
	})
	t.Run("require_certificate", func(t *testing.T) {
		m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true, RequireCertificate: true, Certs: certs})
		c, err := transport.Dial(ctxT(t), m.TLSURI(), transport.WithTLSConfig(withCert))
		if err != nil {
			t.Fatal(err)
		}
		testbroker.Handshake(t, c, "lnt-mosq-mtls")
		c.Close()

		// Without a certificate, TLS 1.3 completes the client's handshake;
		// the rejection comes with the first read.
		c, err = transport.Dial(ctxT(t), m.TLSURI(), transport.WithTLSConfig(&tls.Config{RootCAs: certs.Pool}))
		if err == nil {
			defer c.Close()
			_, _ = c.Write(testbroker.ConnectPacket("lnt-mosq-nocert"))
			_, err = io.ReadFull(c, make([]byte, 4))
		}
		wantTLS(t, err, transport.ErrClientCertRejected)
	})
}

// TestLoadTLSConfig checks the errors of the file helper.
func TestLoadTLSConfig(t *testing.T) {
	certs := testcert.New(t)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := transport.LoadTLSConfig(empty, "", ""); !errors.Is(err, transport.ErrNoCertificates) {
		t.Errorf("CA without certificates: %v", err)
	}
	if _, err := transport.LoadTLSConfig(filepath.Join(t.TempDir(), "missing.pem"), "", ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing CA file: %v", err)
	}
	if _, err := transport.LoadTLSConfig("", certs.Client.CertFile, ""); err == nil {
		t.Errorf("certificate without key accepted")
	}
	if _, err := transport.LoadTLSConfig("", certs.Client.CertFile, certs.Server.KeyFile); err == nil {
		t.Errorf("mismatched key accepted")
	}
	cfg, err := transport.LoadTLSConfig("", "", "")
	if err != nil || cfg.RootCAs != nil || cfg.InsecureSkipVerify {
		t.Errorf("empty LoadTLSConfig = %+v, %v; want system roots, verification on", cfg, err)
	}
}
