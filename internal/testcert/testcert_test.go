package testcert_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"testing"

	"github.com/linnet-mqtt/linnet/internal/testcert"
)

// TestNew checks that every certificate verifies (or fails) against the CA as
// its name promises and that the PEM files load.
func TestNew(t *testing.T) {
	s := testcert.New(t)
	verify := func(p testcert.Pair, host string, usage x509.ExtKeyUsage) error {
		_, err := p.Leaf.Verify(x509.VerifyOptions{Roots: s.Pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	for _, c := range []struct {
		p     testcert.Pair
		host  string
		usage x509.ExtKeyUsage
	}{
		{s.Server, "127.0.0.1", x509.ExtKeyUsageServerAuth},
		{s.Server, "localhost", x509.ExtKeyUsageServerAuth},
		{s.Client, "", x509.ExtKeyUsageClientAuth},
		{s.WrongHost, testcert.WrongHost, x509.ExtKeyUsageServerAuth},
	} {
		if err := verify(c.p, c.host, c.usage); err != nil {
			t.Errorf("%s for %q: %v", c.p.Leaf.Subject.CommonName, c.host, err)
		}
	}

	var hostErr x509.HostnameError
	if err := verify(s.WrongHost, "127.0.0.1", x509.ExtKeyUsageServerAuth); !errors.As(err, &hostErr) {
		t.Errorf("wrong host verified with %v, want x509.HostnameError", err)
	}
	var invalid x509.CertificateInvalidError
	if err := verify(s.Expired, "127.0.0.1", x509.ExtKeyUsageServerAuth); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("expired verified with %v, want x509.CertificateInvalidError{Reason: Expired}", err)
	}

	for _, p := range []testcert.Pair{s.Server, s.Client, s.Expired, s.WrongHost} {
		if _, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile); err != nil {
			t.Errorf("loading %s: %v", p.CertFile, err)
		}
	}
	ca, err := os.ReadFile(s.CAFile)
	if err != nil || !x509.NewCertPool().AppendCertsFromPEM(ca) {
		t.Fatalf("CA file %s does not load: %v", s.CAFile, err)
	}
}
