//go:build !linnet_notls

package transport_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/linnet-mqtt/linnet/transport"
)

// TestLoadTLSConfigErrorTexts pins the text and the chain of LoadTLSConfig's
// errors: the literals are what the package wrote with fmt before it dropped
// fmt (issue 5).
func TestLoadTLSConfigErrorTexts(t *testing.T) {
	t.Chdir(t.TempDir()) // relative names keep the texts fixed
	const empty, missing = "empty \"ca\".pem", "missing.pem"
	if err := os.WriteFile(empty, []byte("no certificates here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ca, cert, key string
		want          string
		is            error
	}{
		{ca: missing, want: "transport: reading CA file: open missing.pem: no such file or directory", is: fs.ErrNotExist},
		{ca: empty, want: `transport: CA file "empty \"ca\".pem": no PEM certificates found`, is: transport.ErrNoCertificates},
		{cert: missing, key: empty, want: `transport: loading client certificate "missing.pem" and key "empty \"ca\".pem": open missing.pem: no such file or directory`, is: fs.ErrNotExist},
	} {
		_, err := transport.LoadTLSConfig(c.ca, c.cert, c.key)
		if err == nil {
			t.Fatalf("LoadTLSConfig(%q, %q, %q) = nil", c.ca, c.cert, c.key)
		}
		want := c.want
		if got := err.Error(); got != want {
			t.Errorf("%#q, want %#q", got, want)
		}
		if !errors.Is(err, c.is) {
			t.Errorf("%v does not match %v", err, c.is)
		}
	}
}
