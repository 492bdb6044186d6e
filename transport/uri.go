package transport

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// URI is a parsed and validated server URI, with the defaults of its scheme
// filled in.
type URI struct {
	Scheme   string // lower case, e.g. "tcp", "wss"
	Host     string // host name or IP literal without brackets; empty for unix
	Port     int    // the port, or the scheme's default; 0 for unix
	Path     string // WebSocket request path (default "/mqtt") or unix socket path
	RawQuery string // WebSocket query, without '?'

	// Username and Password come from the URI's user information, if any.
	// The transport never sends them; the client may use them as MQTT
	// credentials. String never shows the password.
	Username    string
	Password    string
	HasPassword bool

	raw string
}

// Address returns host:port (IPv6 literals in brackets) or, for a unix
// socket, its path.
func (u *URI) Address() string {
	if u.Port == 0 {
		return u.Path
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

// String returns the URI in normal form, with defaults filled in and any
// password replaced by "xxxxx".
func (u *URI) String() string {
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

// Parse parses and validates uri against the default registry.
func Parse(uri string) (*URI, error) { return Default.Parse(uri) }

// Validate reports whether uri can be dialled with the default registry:
// its scheme is registered and the URI has what that scheme needs. It never
// touches the network. The error is a *URIError.
func Validate(uri string) error {
	_, err := Default.Parse(uri)
	return err
}

// Parse parses uri and has the module registered for its scheme validate it
// and fill in defaults. The error is a *URIError.
func (r *Registry) Parse(uri string) (*URI, error) {
	u, err := parseGeneric(uri)
	if err != nil {
		return nil, err
	}
	m := r.Lookup(u.Scheme)
	if m == nil {
		return nil, uriError(uri, "no module for scheme "+strconv.Quote(u.Scheme), ErrUnknownScheme)
	}
	if err := m.Validate(u); err != nil {
		var ue *URIError
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, uriError(uri, err.Error(), err)
	}
	return u, nil
}

// Validate is Parse without the result.
func (r *Registry) Validate(uri string) error {
	_, err := r.Parse(uri)
	return err
}

// parseGeneric does the checks common to every scheme: syntax, scheme,
// fragment, port range, IPv6 brackets.
func parseGeneric(uri string) (*URI, error) {
	if uri == "" {
		return nil, uriError(uri, "empty", ErrMissingHost)
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
		return nil, uriError(uri, reason, cause)
	}
	if v.Scheme == "" {
		return nil, uriError(uri, "no scheme (want e.g. tcp://host:1883)", ErrUnknownScheme)
	}
	if v.Opaque != "" {
		return nil, uriError(uri, "missing \"//\" after the scheme (want e.g. tcp://host:1883)", ErrUnexpectedPart)
	}
	if v.Fragment != "" || strings.HasSuffix(uri, "#") {
		return nil, uriError(uri, "a fragment is not allowed", ErrUnexpectedPart)
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
		return nil, uriError(uri, "an IPv6 address must be in brackets, e.g. [::1]:1883", ErrUnexpectedPart)
	}
	if p := v.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, uriError(uri, "port "+strconv.Quote(p)+" is not in 1-65535", ErrBadPort)
		}
		u.Port = n
	} else if strings.HasSuffix(v.Host, ":") {
		return nil, uriError(uri, "empty port after ':'", ErrBadPort)
	}
	return u, nil
}

// ValidateHostPort is the check for schemes that name a host and a port and
// nothing else (tcp, tls and most custom schemes): a host is required, the
// path must be empty or "/", there must be no query, and defaultPort fills a
// missing port. Custom modules may call it from their Validate method.
func ValidateHostPort(u *URI, defaultPort int) error {
	if u.Host == "" {
		return uriError(u.raw, "missing host", ErrMissingHost)
	}
	if u.Path != "" && u.Path != "/" {
		return uriError(u.raw, "a path is not allowed for "+u.Scheme, ErrUnexpectedPart)
	}
	u.Path = ""
	if u.RawQuery != "" {
		return uriError(u.raw, "a query is not allowed for "+u.Scheme, ErrUnexpectedPart)
	}
	if u.Port == 0 {
		u.Port = defaultPort
	}
	if u.Port == 0 {
		return uriError(u.raw, "missing port", ErrBadPort)
	}
	return nil
}

func uriError(uri, reason string, err error) *URIError {
	return &URIError{URI: redact(uri), Reason: reason, Err: err}
}

// redact hides the password of uri, also when uri does not parse.
func redact(uri string) string {
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
