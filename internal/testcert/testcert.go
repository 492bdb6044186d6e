// Package testcert generates throw-away X.509 certificates for tests.
//
// # Usage
//
//	certs := testcert.New(t)
//	srv := certs.ServerTLSConfig()            // for a Go TLS server or mochi
//	cli := certs.ClientTLSConfig()            // trusts the CA, presents the client cert
//	_ = certs.CAFile                          // PEM files for mosquitto or LoadTLSConfig
//
// New makes a fresh CA and, signed by it, a server certificate valid for
// 127.0.0.1, ::1 and localhost, a client certificate, an expired server
// certificate and a server certificate for the wrong host
// (wrong.host.invalid). Keys are ECDSA P-256 so that generation is fast. Every
// certificate and key is also written as a PEM file to t.TempDir().
//
// # Concurrency
//
// A Set is immutable after New returns; its methods may be called from any
// goroutine. The tls.Config values they return are fresh each call.
//
// # Errors
//
// New fails the test (t.Fatal) if anything cannot be generated or written;
// there is nothing for the caller to check.
//
// # Limitations
//
// Test use only: the keys are written unencrypted to a temporary directory.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// WrongHost is the only name in the wrong-host server certificate.
const WrongHost = "wrong.host.invalid"

// Pair is one certificate with its key, in memory and as PEM files.
type Pair struct {
	Cert     tls.Certificate
	Leaf     *x509.Certificate
	CertFile string // PEM certificate
	KeyFile  string // PEM PKCS#8 private key
}

// Set is a CA and the certificates it signed.
type Set struct {
	Dir    string            // directory holding every PEM file
	CAFile string            // PEM of the CA certificate
	CA     *x509.Certificate // the CA certificate
	Pool   *x509.CertPool    // a pool holding only the CA

	Server    Pair // for 127.0.0.1, ::1 and localhost; server auth
	Client    Pair // client auth, common name "linnet-test-client"
	Expired   Pair // like Server but expired an hour ago
	WrongHost Pair // valid, but only for WrongHost
}

// New generates a Set in t.TempDir().
func New(t testing.TB) *Set {
	t.Helper()
	dir := t.TempDir()
	s := &Set{Dir: dir, Pool: x509.NewCertPool()}

	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "linnet test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("testcert: creating CA: %v", err)
	}
	if s.CA, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatalf("testcert: parsing CA: %v", err)
	}
	s.Pool.AddCert(s.CA)
	s.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	issue := func(name string, tmpl *x509.Certificate) Pair {
		key := newKey(t)
		tmpl.SerialNumber = serial(t)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, s.CA, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("testcert: creating %s: %v", name, err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("testcert: parsing %s: %v", name, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("testcert: marshalling %s key: %v", name, err)
		}
		return Pair{
			Cert:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
			Leaf:     leaf,
			CertFile: writePEM(t, dir, name+".pem", "CERTIFICATE", der),
			KeyFile:  writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", keyDER),
		}
	}
	server := func(cn string, notBefore, notAfter time.Time, dns []string, ips []net.IP) *x509.Certificate {
		return &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn},
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:    dns,
			IPAddresses: ips,
		}
	}
	loop := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	s.Server = issue("server", server("localhost", now.Add(-time.Hour), now.Add(24*time.Hour), []string{"localhost"}, loop))
	s.Expired = issue("expired", server("localhost", now.Add(-48*time.Hour), now.Add(-time.Hour), []string{"localhost"}, loop))
	s.WrongHost = issue("wronghost", server(WrongHost, now.Add(-time.Hour), now.Add(24*time.Hour), []string{WrongHost}, nil))
	s.Client = issue("client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "linnet-test-client"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return s
}

// ServerTLSConfig returns a server configuration presenting the Server
// certificate. It does not ask for client certificates; set ClientAuth and
// ClientCAs (s.Pool) for mutual TLS.
func (s *Set) ServerTLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.Server.Cert}, MinVersion: tls.VersionTLS12}
}

// MutualServerTLSConfig returns a server configuration that presents the
// Server certificate and requires a client certificate signed by the CA.
func (s *Set) MutualServerTLSConfig() *tls.Config {
	c := s.ServerTLSConfig()
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.ClientCAs = s.Pool
	return c
}

// ClientTLSConfig returns a client configuration that trusts the CA and
// presents the Client certificate.
func (s *Set) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.Pool, Certificates: []tls.Certificate{s.Client.Cert}, MinVersion: tls.VersionTLS12}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testcert: generating key: %v", err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("testcert: serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("testcert: writing %s: %v", path, err)
	}
	return path
}
