package transport

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// errSyntax in the table below stands for a *URIError that wraps
// ErrInvalidURI and none of the specific sentinels: the URI is not
// well-formed (a bad escape, a bad character, a control byte...).
var errSyntax = errors.New("syntax error (test marker)")

// sentinels are the causes a *URIError can name besides a syntax error.
var sentinels = []error{ErrUnknownScheme, ErrMissingHost, ErrBadPort, ErrUnexpectedPart}

// uriClass returns the sentinel that err wraps, errSyntax for a *URIError
// that wraps none, or err itself when it is not a *URIError.
func uriClass(err error) error {
	var ue *URIError
	if !errors.As(err, &ue) || !errors.Is(err, ErrInvalidURI) {
		return err
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return errSyntax
}

// uriCases are tricky server URIs with what Parse makes of them on the
// default registry. The schemes ws and wss are only checked in builds that
// have them. Each case is also checked against the net/url-based reference
// (oldParse), so the table records what net/url did.
var uriCases = []struct {
	in   string
	want URI    // fields after the scheme's defaults; unused when err is set
	str  string // String()
	err  error  // a sentinel, errSyntax, or nil
}{
	// IPv6 literals, with and without port, with zone ids.
	{in: "tcp://[::1]:1884", want: URI{Scheme: "tcp", Host: "::1", Port: 1884}, str: "tcp://[::1]:1884"},
	{in: "tcp://[::1]", want: URI{Scheme: "tcp", Host: "::1", Port: 1883}, str: "tcp://[::1]:1883"},
	{in: "tcp://[fe80::1%25eth0]:1884", want: URI{Scheme: "tcp", Host: "fe80::1%eth0", Port: 1884}, str: "tcp://[fe80::1%25eth0]:1884"},
	{in: "tcp://[fe80::1%25Ethernet%206]", want: URI{Scheme: "tcp", Host: "fe80::1%Ethernet 6", Port: 1883}, str: "tcp://[fe80::1%25Ethernet%206]:1883"},
	{in: "tcp://[::ffff:1.2.3.4]:1", want: URI{Scheme: "tcp", Host: "::ffff:1.2.3.4", Port: 1}, str: "tcp://[::ffff:1.2.3.4]:1"},
	{in: "tcp://[1.2.3.4]", err: errSyntax},      // brackets only around IPv6
	{in: "tcp://[::1", err: errSyntax},           // missing ']'
	{in: "tcp://x[::1]", err: errSyntax},         // '[' not first
	{in: "tcp://[[::1]]", err: errSyntax},        // two '['
	{in: "tcp://[hello]", err: errSyntax},        // not an address
	{in: "tcp://[fe80::1%eth0]", err: errSyntax}, // zone must be %25
	{in: "tcp://[fe80::1%25]", err: errSyntax},   // empty zone
	{in: "tcp://[fe80::1%25a%00]", err: errSyntax},
	{in: "tcp://[::1]x", err: ErrBadPort},
	{in: "tcp://[::1]:", err: ErrBadPort},
	{in: "tcp://[::1]:abc", err: ErrBadPort},
	{in: "tcp://::1", err: ErrUnexpectedPart},
	{in: "tcp://::1:1883", err: ErrUnexpectedPart},
	{in: "tcp://a:b:1883", err: ErrUnexpectedPart},

	// User information.
	{in: "tcp://user:pass@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "user", Password: "pass", HasPassword: true}, str: "tcp://user:xxxxx@host:1883"},
	{in: "tcp://user:@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "user", HasPassword: true}, str: "tcp://user:xxxxx@host:1883"},
	{in: "tcp://:pw@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Password: "pw", HasPassword: true}, str: "tcp://:xxxxx@host:1883"},
	{in: "tcp://user@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "user"}, str: "tcp://user@host:1883"},
	{in: "tcp://@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883}, str: "tcp://host:1883"},
	{in: "tcp://us%40er:p%3Ass@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "us@er", Password: "p:ss", HasPassword: true}, str: "tcp://us%40er:xxxxx@host:1883"},
	{in: "tcp://us%20er@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "us er"}, str: "tcp://us%20er@host:1883"},
	{in: "tcp://u:p@ss@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "u", Password: "p@ss", HasPassword: true}, str: "tcp://u:xxxxx@host:1883"},
	{in: "tcp://a!$&'()*+,;=-._~b@host", want: URI{Scheme: "tcp", Host: "host", Port: 1883, Username: "a!$&'()*+,;=-._~b"}, str: "tcp://a%21$&%27%28%29%2A+,;=-._~b@host:1883"},
	{in: "tcp://u:p%zz@host", err: errSyntax},
	{in: "tcp://u%@host", err: errSyntax},
	{in: "tcp://u:p w@host", err: errSyntax},
	{in: "tcp://u:pé@host", err: errSyntax},
	{in: "tcp://u/p@host", err: ErrUnexpectedPart}, // the authority ends at '/': host "u", path "/p@host"
	{in: "unix://u@/run/mqtt.sock", err: ErrUnexpectedPart},

	// Hosts.
	{in: "TCP://HOST:1884", want: URI{Scheme: "tcp", Host: "HOST", Port: 1884}, str: "tcp://HOST:1884"},
	{in: "tcp://h%C3%A9st", want: URI{Scheme: "tcp", Host: "h\u00e9st", Port: 1883}, str: "tcp://h%C3%A9st:1883"},
	{in: "tcp://h\u00e9st", want: URI{Scheme: "tcp", Host: "h\u00e9st", Port: 1883}, str: "tcp://h%C3%A9st:1883"},
	{in: "tcp://a%25b", want: URI{Scheme: "tcp", Host: "a%b", Port: 1883}, str: "tcp://a%25b:1883"},
	{in: "tcp://a]b", want: URI{Scheme: "tcp", Host: "a]b", Port: 1883}, str: "tcp://a]b:1883"},    // net/url lets it through
	{in: "tcp://a<b>", want: URI{Scheme: "tcp", Host: "a<b>", Port: 1883}, str: "tcp://a<b>:1883"}, // likewise
	{in: "tcp://a b", err: errSyntax},
	{in: "tcp://a%20b", err: errSyntax}, // hosts may escape only non-ASCII bytes
	{in: "tcp://a%zz", err: errSyntax},
	{in: "tcp://a%", err: errSyntax},
	{in: "tcp://a{b", err: errSyntax},
	{in: "tcp://a\\b", err: errSyntax},
	{in: "tcp://", err: ErrMissingHost},
	{in: "tcp://:1883", err: ErrMissingHost},
	{in: "tcp:", err: ErrMissingHost},
	{in: "tcp:?x", err: ErrMissingHost},

	// Ports.
	{in: "tcp://host:01884", want: URI{Scheme: "tcp", Host: "host", Port: 1884}, str: "tcp://host:1884"},
	{in: "mqtt://host:65535", want: URI{Scheme: "mqtt", Host: "host", Port: 65535}, str: "mqtt://host:65535"},
	{in: "tcp://host:", err: ErrBadPort},
	{in: "tcp://host:0", err: ErrBadPort},
	{in: "tcp://host:65536", err: ErrBadPort},
	{in: "tcp://host:99999999999999999999999", err: ErrBadPort},
	{in: "tcp://host:-1", err: ErrBadPort},
	{in: "tcp://host:1a", err: ErrBadPort},
	{in: "tcp://host: 1", err: ErrBadPort},
	{in: "tcp://a b:x", err: ErrBadPort}, // the port is checked before the host's characters
	{in: "tcp://u:p@host:x", err: ErrBadPort},

	// Scheme and form.
	{in: "", err: ErrMissingHost},
	{in: "host", err: ErrUnknownScheme},
	{in: "/path", err: ErrUnknownScheme},
	{in: "//host:1883", err: ErrUnknownScheme},
	{in: "//host:x", err: ErrBadPort},
	{in: "http://host", err: ErrUnknownScheme},
	{in: "tc_p://host", err: errSyntax}, // '_' cannot be in a scheme: no scheme, and a colon in the first path segment
	{in: ":foo", err: errSyntax},        // missing scheme before ':'
	{in: "1tcp://host", err: errSyntax}, // no scheme, and a colon in the first path segment
	{in: "tcp:host", err: ErrUnexpectedPart},
	{in: "tcp:host:1883", err: ErrUnexpectedPart},
	{in: "localhost:1883", err: ErrUnexpectedPart},

	// Fragments, queries and paths on tcp.
	{in: "tcp://host#", err: ErrUnexpectedPart},
	{in: "tcp://host#frag", err: ErrUnexpectedPart},
	{in: "tcp://host#\x01", err: ErrUnexpectedPart}, // net/url does not check the fragment for control bytes
	{in: "tcp://host#%zz", err: errSyntax},
	{in: "tcp://host?", err: ErrUnexpectedPart},
	{in: "tcp://host?x=1", err: ErrUnexpectedPart},
	{in: "tcp://host/", want: URI{Scheme: "tcp", Host: "host", Port: 1883}, str: "tcp://host:1883"},
	{in: "tcp://host/x", err: ErrUnexpectedPart},
	{in: "tcp://host/%zz", err: errSyntax},

	// unix.
	{in: "unix:///tmp/sock", want: URI{Scheme: "unix", Path: "/tmp/sock"}, str: "unix:///tmp/sock"},
	{in: "unix:/tmp/sock", want: URI{Scheme: "unix", Path: "/tmp/sock"}, str: "unix:///tmp/sock"},
	{in: "unix:///tmp/my%20sock", want: URI{Scheme: "unix", Path: "/tmp/my sock"}, str: "unix:///tmp/my sock"},
	{in: "unix:///tmp/my sock", want: URI{Scheme: "unix", Path: "/tmp/my sock"}, str: "unix:///tmp/my sock"},
	{in: "unix://", err: ErrMissingHost},
	{in: "unix:///", err: ErrMissingHost},
	{in: "unix://host/tmp/sock", err: ErrUnexpectedPart},
	{in: "unix:///tmp/sock?", err: ErrUnexpectedPart},

	// WebSocket paths and queries.
	{in: "ws://host/mqtt?x=1&y=%20", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/mqtt", RawQuery: "x=1&y=%20"}, str: "ws://host:80/mqtt?x=1&y=%20"},
	{in: "ws://host?x", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/mqtt", RawQuery: "x"}, str: "ws://host:80/mqtt?x"},
	{in: "ws://host/a%20b", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/a b"}, str: "ws://host:80/a%20b"},
	{in: "ws://host/a%2Fb", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/a/b"}, str: "ws://host:80/a/b"}, // Path is decoded
	{in: "ws://host/!*'()", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/!*'()"}, str: "ws://host:80/%21%2A%27%28%29"},
	{in: "ws://host/$&+,:;=@", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/$&+,:;=@"}, str: "ws://host:80/$&+,:;=@"},
	{in: "ws://host/p??", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/p"}, str: "ws://host:80/p"},
	{in: "ws://host/?a b", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/", RawQuery: "a b"}, str: "ws://host:80/?a b"},
	{in: "ws://host/?a?b", want: URI{Scheme: "ws", Host: "host", Port: 80, Path: "/", RawQuery: "a?b"}, str: "ws://host:80/?a?b"},
	{in: "WSS://u:pw@[::1]:8443/x/y?z", want: URI{Scheme: "wss", Host: "::1", Port: 8443, Path: "/x/y", RawQuery: "z", Username: "u", Password: "pw", HasPassword: true}, str: "wss://u:xxxxx@[::1]:8443/x/y?z"},
	{in: "ws://host/%", err: errSyntax},
	{in: "ws://host/%2", err: errSyntax},
	{in: "ws://", err: ErrMissingHost},
	{in: "ws:///mqtt", err: ErrMissingHost},

	// Control bytes and spaces.
	{in: "tcp://host\n", err: errSyntax},
	{in: "tcp://ho\x00st", err: errSyntax},
	{in: "tcp://host\x7f", err: errSyntax},
	{in: "tcp://u\x01:p@host", err: errSyntax},
	{in: "ws://host/a\tb", err: errSyntax},
	{in: " tcp://host", err: errSyntax}, // a leading space: no scheme, and a colon in the first path segment
	{in: "tcp://host ", err: errSyntax},
}

// TestParseURITable checks the table against Parse, and against the
// net/url-based reference.
func TestParseURITable(t *testing.T) {
	for _, c := range uriCases {
		if sch, _, _ := strings.Cut(strings.ToLower(c.in), "://"); (sch == "ws" || sch == "wss") && Default.Lookup(sch) == nil {
			continue // not in this build
		}
		for _, impl := range []struct {
			name  string
			parse func(string) (*URI, error)
		}{{"Parse", Parse}, {"oldParse", func(s string) (*URI, error) { return oldParse(Default, s) }}} {
			u, err := impl.parse(c.in)
			if c.err != nil {
				if u != nil || uriClass(err) != c.err {
					t.Errorf("%s(%q) = %+v, %v; want a *URIError for %v", impl.name, c.in, u, err, c.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s(%q): %v", impl.name, c.in, err)
				continue
			}
			c.want.raw = c.in
			if d := cmp.Diff(c.want, *u, cmp.AllowUnexported(URI{})); d != "" {
				t.Errorf("%s(%q) (-want +got):\n%s", impl.name, c.in, d)
			}
			if got := u.String(); got != c.str {
				t.Errorf("%s(%q).String() = %q, want %q", impl.name, c.in, got, c.str)
			}
			if got := oldString(u); got != c.str {
				t.Errorf("%s(%q): oldString = %q, want %q", impl.name, c.in, got, c.str)
			}
		}
	}
}

// The reference implementation: transport/uri.go as it was before it
// dropped net/url (for the 2.6 MB constrained build of issue 5), kept
// verbatim apart from the names. The differential tests hold the
// hand-written parser to it.

// oldParse is Registry.Parse with the net/url-based parseGeneric.
func oldParse(r *Registry, uri string) (*URI, error) {
	u, err := oldParseGeneric(uri)
	if err != nil {
		return nil, err
	}
	m := r.Lookup(u.Scheme)
	if m == nil {
		return nil, oldURIError(uri, "no module for scheme "+strconv.Quote(u.Scheme), ErrUnknownScheme)
	}
	if err := m.Validate(u); err != nil {
		var ue *URIError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, oldURIError(uri, err.Error(), err)
	}
	return u, nil
}

// oldString is URI.String as it was.
func oldString(u *URI) string {
	v := url.URL{Scheme: u.Scheme, Path: u.Path, RawQuery: u.RawQuery}
	if u.Port != 0 {
		v.Host = u.Address()
	}
	switch {
	case u.HasPassword:
		v.User = url.UserPassword(u.Username, "xxxxx")
	case u.Username != "":
		v.User = url.User(u.Username)
	}
	if v.Host == "" && u.Port == 0 {
		return u.Scheme + "://" + u.Path // keep unix:///path readable
	}
	return v.String()
}

// oldParseGeneric is parseGeneric as it was.
func oldParseGeneric(uri string) (*URI, error) {
	if uri == "" {
		return nil, oldURIError(uri, "empty", ErrMissingHost)
	}
	v, err := url.Parse(uri)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URI, which may hold a password
		}
		reason := err.Error()
		var cause error = err
		if strings.Contains(reason, "port") {
			cause = ErrBadPort
		}
		return nil, oldURIError(uri, reason, cause)
	}
	if v.Scheme == "" {
		return nil, oldURIError(uri, "no scheme (want e.g. tcp://host:1883)", ErrUnknownScheme)
	}
	if v.Opaque != "" {
		return nil, oldURIError(uri, "missing \"//\" after the scheme (want e.g. tcp://host:1883)", ErrUnexpectedPart)
	}
	if v.Fragment != "" || strings.HasSuffix(uri, "#") {
		return nil, oldURIError(uri, "a fragment is not allowed", ErrUnexpectedPart)
	}
	u := &URI{Scheme: strings.ToLower(v.Scheme), Path: v.Path, RawQuery: v.RawQuery, raw: uri}
	if v.ForceQuery {
		u.RawQuery = "?" // remember the bare '?', so that schemes without queries reject it
	}
	if v.User != nil {
		u.Username = v.User.Username()
		u.Password, u.HasPassword = v.User.Password()
	}
	u.Host = v.Hostname()
	if strings.Contains(u.Host, ":") && !strings.HasPrefix(v.Host, "[") {
		return nil, oldURIError(uri, "an IPv6 address must be in brackets, e.g. [::1]:1883", ErrUnexpectedPart)
	}
	if p := v.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, oldURIError(uri, "port "+strconv.Quote(p)+" is not in 1-65535", ErrBadPort)
		}
		u.Port = n
	} else if strings.HasSuffix(v.Host, ":") {
		return nil, oldURIError(uri, "empty port after ':'", ErrBadPort)
	}
	return u, nil
}

func oldURIError(uri, reason string, err error) *URIError {
	return &URIError{URI: oldRedact(uri), Reason: reason, Err: err}
}

// oldRedact is redact as it was.
func oldRedact(uri string) string {
	if v, err := url.Parse(uri); err == nil {
		return v.Redacted()
	}
	// Unparseable: hide everything between "://" and the last '@' of the authority.
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return uri[:i+3] + "xxxxx" + rest[at:]
	}
	return uri
}

// TestRedact checks that redact hides the password, whether the URI parses
// or not, and leaves the rest as written.
func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"tcp://u:hunter2@host:0", "tcp://u:xxxxx@host:0"},
		{"tcp://u:hunter2@host:x", "tcp://u:xxxxx@host:x"},
		{"tcp://u:hun@ter2@host", "tcp://u:xxxxx@host"},
		{"tcp://u:hun:ter2@host", "tcp://u:xxxxx@host"},
		{"tcp://u:@host", "tcp://u:xxxxx@host"},
		{"tcp://:hunter2@host", "tcp://:xxxxx@host"},
		{"tcp://u:hunter2@host%zz/p?q#f", "tcp://u:xxxxx@host%zz/p?q#f"},
		{"tcp://u:hunter 2@host", "tcp://u:xxxxx@host"},
		{"TCP://u:hunter2@Host/%41", "TCP://u:xxxxx@Host/%41"}, // net/url wrote tcp://u:xxxxx@Host/A
		{"//u:hunter2@host/a://b", "//u:xxxxx@host/a://b"},
		{"bogus://u:hunter2@host", "bogus://u:xxxxx@host"},
		{"tcp:u:hunter2@host", "tcp:xxxxx@host"}, // net/url's opaque form: it showed the password
		{"u:hunter2@host", "u:xxxxx@host"},
		{"tcp://user@host:0", "tcp://user@host:0"},
		{"tcp://host/p@x:y", "tcp://host/p@x:y"},
		// An '@' after the authority: a password with '/', '?' or '#' may
		// have cut it short, so the part after the first ':' is hidden,
		// also where it was a query, a fragment or a port and path.
		{"tcp://host?u:p@x", "tcp://host?u:xxxxx@x"},
		{"tcp://host#u:p@x", "tcp://host#u:xxxxx@x"},
		{"ws://host:80/p@x", "ws://host:xxxxx@x"},
		{"tcp://user:hun/ter2@broker", "tcp://user:xxxxx@broker"},
		{"tcp://user:hun?ter2@broker", "tcp://user:xxxxx@broker"},
		{"tcp://user:hun#ter2@broker", "tcp://user:xxxxx@broker"},
		{"tcp://user:12/hunter2@broker", "tcp://user:xxxxx@broker"},
		{"tcp:/user:hunter2@broker:1883", "tcp:/xxxxx@broker:1883"},
		{"tcp:user:hunter2@host/?q=a://b", "tcp:xxxxx@host/?q=a://b"},
		{"localhost:1883", "localhost:1883"},
		{"host", "host"},
		{"", ""},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if err := Validate(c.in); err != nil && strings.Contains(err.Error(), "hun") {
			t.Errorf("Validate(%q) = %v: shows the password", c.in, err)
		}
	}
}

// TestEscapeMatchesNetURL checks the escaping of String, byte by byte,
// against net/url's, for the host, the path and the user name.
func TestEscapeMatchesNetURL(t *testing.T) {
	for i := range 256 {
		s := "a" + string([]byte{byte(i)})
		if got, want := string(appendEscaped(nil, s, escPath)), (&url.URL{Path: s}).EscapedPath(); got != want {
			t.Errorf("path %q: escaped %q, net/url %q", s, got, want)
		}
		if got, want := string(appendEscaped(nil, s, escUser)), url.User(s).String(); got != want {
			t.Errorf("user %q: escaped %q, net/url %q", s, got, want)
		}
		if got, want := "//"+string(appendEscaped(nil, s, escHost)), (&url.URL{Host: s}).String(); got != want {
			t.Errorf("host %q: escaped %q, net/url %q", s, got, want)
		}
	}
}

// FuzzParseURI holds the hand-written parser to the net/url-based one it
// replaced (oldParseGeneric, oldParse, oldString above), on any input:
//
//   - parseGeneric and Default.Parse accept exactly what the old ones
//     accepted, with the same fields, and String writes what the old
//     String wrote; parseGeneric is also given the input inside each part
//     of an otherwise valid URI (host, port, user information, IPv6
//     literal and zone, path, query);
//   - what both reject, they reject with the same sentinel (ErrBadPort,
//     ErrUnexpectedPart...) or both with none, but for the two deliberate
//     differences of knownDifference;
//   - String writes what the old String wrote for URIs built by hand with
//     arbitrary fields;
//   - redact gives what net/url's Redacted gave for a URI with user
//     information already in net/url's normal form, and every error's URI
//     is redact of the input.
func FuzzParseURI(f *testing.F) {
	for _, c := range uriCases {
		f.Add(c.in)
	}
	for _, s := range []string{
		"tcp://broker", "tcp://u:hunter2@host:x", "bogus://u:hunter2@host", "tcp:u:p@h",
		"http://a:b:1", "tcp://[port]", "ws://h/*", "ws://h/a%2Fb%zz", "//u:p@h/a://b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// s as a whole, and s in each part of a URI that is otherwise
		// valid, so that the fuzzer reaches the zone or the user
		// information without having to build the rest.
		for _, in := range []string{
			s, "tcp://" + s, "tcp://u:" + s + "@h", "tcp://[fe80::1%25" + s + "]:1",
			"tcp://[" + s + "]", "tcp://h:" + s, "ws://h/" + s, "ws://h/?" + s,
		} {
			u, err := parseGeneric(in)
			ou, oerr := oldParseGeneric(in)
			compareParse(t, "parseGeneric", in, u, err, ou, oerr)
		}
		u, err := Default.Parse(s)
		ou, oerr := oldParse(Default, s)
		compareParse(t, "Parse", s, u, err, ou, oerr)

		port := 1 + len(s)%65535
		for _, u := range []URI{
			{Scheme: s, Host: s, Port: port, Path: s, RawQuery: s, Username: s, Password: s, HasPassword: true},
			{Scheme: "tcp", Host: s, Port: port, Username: s},
			{Scheme: "ws", Host: "h", Port: port, Path: s},
			{Scheme: s, Host: s, Path: s, Username: s},
		} {
			if got, want := u.String(), oldString(&u); got != want {
				t.Errorf("%+v: String() = %q, net/url wrote %q", u, got, want)
			}
		}

		if v, err := url.Parse(s); err == nil && v.User != nil && v.String() == s {
			if got, want := Redact(s), v.Redacted(); got != want {
				t.Errorf("Redact(%q) = %q, net/url's Redacted %q", s, got, want)
			}
		}
	})
}

// compareParse fails t unless the new parser's result (u, err) matches the
// old one's (ou, oerr) for s.
func compareParse(t *testing.T, what, s string, u *URI, err error, ou *URI, oerr error) {
	t.Helper()
	if err != nil {
		var ue *URIError
		if !errors.As(err, &ue) || ue.URI != Redact(s) || !errors.Is(err, ErrInvalidURI) {
			t.Fatalf("%s(%q): error %#v: want a *URIError for the redacted URI", what, s, err)
		}
	}
	switch {
	case err == nil && oerr != nil:
		t.Fatalf("%s(%q) = %+v; net/url rejected it: %v", what, s, *u, oerr)
	case err != nil && oerr == nil:
		t.Fatalf("%s(%q): %v; net/url accepted it: %+v", what, s, err, *ou)
	case err != nil:
		if c, oc := uriClass(err), uriClass(oerr); c != oc && !knownDifference(s, c, oerr) {
			t.Fatalf("%s(%q): %v (%v); net/url: %v (%v)", what, s, err, c, oerr, oc)
		}
	default:
		if d := cmp.Diff(*ou, *u, cmp.AllowUnexported(URI{})); d != "" {
			t.Fatalf("%s(%q) (-net/url +new):\n%s", what, s, d)
		}
		if got, want := u.String(), oldString(ou); got != want {
			t.Fatalf("%s(%q).String() = %q, net/url wrote %q", what, s, got, want)
		}
	}
}

// knownDifference reports whether the new parser's rejection of s with
// class c, where the old one failed with oerr, is one of the deliberate
// differences. Both reject the URI; only the sentinel differs:
//
//   - The old code called every net/url error whose text held "port"
//     ErrBadPort. The text of a bad IPv6 literal quotes the literal, so
//     tcp://[port] was a bad port; the new parser says it is not well-formed.
//   - For http and https only, net/url splits host and port at the first
//     ':' (GODEBUG urlstrictcolons), so http://a:b:1 had a bad port. The new
//     parser splits at the last ':' for every scheme, as net/url does for
//     all others, and reports the ':' left in the host, an unbracketed IPv6
//     address.
func knownDifference(s string, c error, oerr error) bool {
	var oe *URIError
	if !errors.As(oerr, &oe) || oe.Err != ErrBadPort && !errors.Is(oerr, ErrBadPort) {
		return false
	}
	switch {
	case c == errSyntax && strings.HasPrefix(oe.Reason, "invalid host: "):
		return true
	case c == ErrUnexpectedPart && strings.HasPrefix(oe.Reason, "invalid port "):
		scheme, _, _ := strings.Cut(strings.ToLower(s), ":")
		return scheme == "http" || scheme == "https"
	}
	return false
}

func TestRedactExported(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://user:secret@host:1883":   "tcp://user:xxxxx@host:1883",
		"tcp://user@host:1883":          "tcp://user@host:1883",
		"ssl://host:8883":               "ssl://host:8883",
		"tcp://u:pa/ss@host:1883/x":     "tcp://u:xxxxx@host:1883/x",
		"not a uri with :secret@ in it": "not a uri with :xxxxx@ in it",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
