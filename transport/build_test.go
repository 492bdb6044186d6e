package transport_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestConstrainedBuilds checks with `go list` what each build tag set links:
// linnet_notls must leave crypto/tls out entirely, linnet_nows must leave
// out the WebSocket files, the two together must leave out net/url, and no
// build of the library may link net/http.
func TestConstrainedBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	list := func(tags, format string, deps bool) []string {
		args := []string{"list", "-tags", tags, "-f", format}
		if deps {
			args = append(args, "-deps")
		}
		out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -tags %q: %v\n%s", tags, err, out)
		}
		return strings.Fields(string(out))
	}
	for _, c := range []struct {
		tags           string
		tls, ws, https bool
	}{
		{"", true, true, false},
		{"linnet_notls", false, true, false},
		{"linnet_nows", true, false, false},
		{"linnet_nows,linnet_notls", false, false, false},
	} {
		deps := list(c.tags, "{{.ImportPath}}", true)
		files := list(c.tags, "{{join .GoFiles \" \"}}", false)
		if got := slices.Contains(deps, "crypto/tls"); got != c.tls {
			t.Errorf("tags %q: crypto/tls linked = %v, want %v", c.tags, got, c.tls)
		}
		if slices.Contains(deps, "net/http") {
			t.Errorf("tags %q: net/http is linked", c.tags)
		}
		// uri.go parses URIs without net/url, which only the WebSocket
		// files and crypto/x509 bring in (issue 5: the build without
		// either must fit in 2.6 MB).
		if got := slices.Contains(deps, "net/url"); got && !c.ws && !c.tls {
			t.Errorf("tags %q: net/url is linked", c.tags)
		}
		hasWS := slices.ContainsFunc(files, func(f string) bool { return f == "ws.go" || f == "wsconn.go" || f == "proxy.go" })
		if hasWS != c.ws {
			t.Errorf("tags %q: WebSocket files compiled = %v, want %v (files %v)", c.tags, hasWS, c.ws, files)
		}
		if got := slices.Contains(files, "wss.go"); got != (c.tls && c.ws) {
			t.Errorf("tags %q: wss.go compiled = %v", c.tags, got)
		}
	}
}
