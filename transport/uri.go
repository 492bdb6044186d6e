package transport

import (
	"errors"
	"net"
	"net/netip"
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
// password replaced by "xxxxx". It writes what net/url's URL.String writes
// for the same parts (escaping included), except that a URI without a port
// (unix) is written scheme://path, unescaped.
func (u *URI) String() string {
	if u.Port == 0 {
		return u.Scheme + "://" + u.Path // keep unix:///path readable
	}
	b := make([]byte, 0, len(u.Scheme)+len(u.Username)+len(u.Host)+len(u.Path)+len(u.RawQuery)+24)
	if u.Scheme != "" {
		b = append(b, u.Scheme...)
		b = append(b, ':')
	}
	b = append(b, "//"...)
	if u.HasPassword || u.Username != "" {
		b = appendEscaped(b, u.Username, escUser)
		if u.HasPassword {
			b = append(b, ":xxxxx"...)
		}
		b = append(b, '@')
	}
	b = appendEscaped(b, u.Address(), escHost)
	if u.Path == "*" {
		b = append(b, "/*"...) // as net/url: "*" is never escaped
	} else if u.Path != "" {
		if u.Path[0] != '/' {
			b = append(b, '/')
		}
		b = appendEscaped(b, u.Path, escPath)
	}
	if u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return string(b)
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
//
// It accepts what net/url's Parse accepted here before (the constrained
// build of issue 5 cannot afford net/url), fills in the same fields and
// reports the same error sentinels, checking in the same order so that a
// URI with several faults is reported for the same one. The general form is
//
//	scheme:[//[userinfo@]host[:port]][path][?query][#fragment]
//
// The user information and the path may hold %XX escapes, decoded in the
// URI's fields; a host may escape only non-ASCII bytes and '%'. A host is
// a name, an IPv4 address, or an IPv6 address in brackets with an optional
// zone ("%25" then the zone). The query is kept as written. Any '#' is an
// error.
func parseGeneric(uri string) (*URI, error) {
	if uri == "" {
		return nil, uriError(uri, "empty", ErrMissingHost)
	}
	rest, frag, hasFrag := strings.Cut(uri, "#")
	for i := 0; i < len(rest); i++ {
		if rest[i] < ' ' || rest[i] == 0x7f {
			return nil, syntaxError(uri, "invalid control character in URI")
		}
	}

	// The scheme: a letter, then letters, digits, '+', '-' or '.', up to
	// the first ':'. Anything else means there is no scheme.
	var scheme string
scan:
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				break scan
			}
		case c == ':':
			if i == 0 {
				return nil, syntaxError(uri, "missing scheme before ':'")
			}
			scheme, rest = strings.ToLower(rest[:i]), rest[i+1:]
			break scan
		default:
			break scan
		}
	}

	u := &URI{Scheme: scheme, raw: uri}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		u.RawQuery = rest[i+1:]
		if u.RawQuery == "" {
			u.RawQuery = "?" // remember the bare '?', so that schemes without queries reject it
		}
		rest = rest[:i]
	}

	opaque := false // scheme:rest without "/": nothing more is checked
	if !strings.HasPrefix(rest, "/") {
		if scheme != "" {
			opaque = rest != ""
			rest = ""
		} else if seg, _, _ := strings.Cut(rest, "/"); strings.Contains(seg, ":") {
			return nil, syntaxError(uri, "no scheme, and a colon in the first path segment")
		}
	}
	var hp hostPort
	if strings.HasPrefix(rest, "//") && (scheme != "" || !strings.HasPrefix(rest, "///")) {
		authority := rest[2:]
		rest = ""
		if i := strings.IndexByte(authority, '/'); i >= 0 {
			authority, rest = authority[:i], authority[i:]
		}
		// The last '@' ends the user information: a password may hold '@'.
		at := strings.LastIndexByte(authority, '@')
		userinfo, hostport := authority[:max(at, 0)], authority[at+1:]
		var err error
		if hp, err = parseHost(uri, hostport); err != nil {
			return nil, err
		}
		if at >= 0 {
			if err := u.parseUserinfo(userinfo); err != nil {
				return nil, err
			}
		}
		u.Host = hp.host
	}
	var err error
	if u.Path, err = unescape(uri, rest, escPath); err != nil {
		return nil, err
	}
	if _, err := unescape(uri, frag, escPath); err != nil {
		return nil, err
	}

	switch {
	case scheme == "":
		return nil, uriError(uri, "no scheme (want e.g. tcp://host:1883)", ErrUnknownScheme)
	case opaque:
		return nil, uriError(uri, "missing \"//\" after the scheme (want e.g. tcp://host:1883)", ErrUnexpectedPart)
	case hasFrag:
		return nil, uriError(uri, "a fragment is not allowed", ErrUnexpectedPart)
	case !hp.bracketed && strings.IndexByte(u.Host, ':') >= 0:
		return nil, uriError(uri, "an IPv6 address must be in brackets, e.g. [::1]:1883", ErrUnexpectedPart)
	case hp.colonPort == ":":
		return nil, uriError(uri, "empty port after ':'", ErrBadPort)
	case hp.colonPort != "":
		p := hp.colonPort[1:]
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, uriError(uri, "port "+strconv.Quote(p)+" is not in 1-65535", ErrBadPort)
		}
		u.Port = n
	}
	return u, nil
}

// parseUserinfo sets u.Username, u.Password and u.HasPassword from the
// user information user[:password].
func (u *URI) parseUserinfo(userinfo string) error {
	for i := 0; i < len(userinfo); i++ {
		if c := userinfo[i]; !isUnreserved(c) && strings.IndexByte("!$&'()*+,;=:%@", c) < 0 {
			return syntaxError(u.raw, "invalid character in the user information")
		}
	}
	user, password, hasPassword := strings.Cut(userinfo, ":")
	var err error
	if u.Username, err = unescape(u.raw, user, escUser); err != nil {
		return err
	}
	if u.Password, err = unescape(u.raw, password, escUser); err != nil {
		return err
	}
	u.HasPassword = hasPassword
	return nil
}

// hostPort is the host part of an authority.
type hostPort struct {
	host      string // unescaped, without brackets
	colonPort string // ":" and digits after the host, or ""; the range is checked later
	bracketed bool   // the host was an IP literal in brackets
}

// parseHost parses host[:port] or [ipv6]:port, a part of uri.
func parseHost(uri, s string) (hostPort, error) {
	var hp hostPort
	var err error
	if i := strings.LastIndexByte(s, '['); i > 0 {
		return hp, syntaxError(uri, "invalid IP-literal")
	} else if i == 0 {
		end := strings.LastIndexByte(s, ']')
		if end < 0 {
			return hp, syntaxError(uri, "missing ']' in host")
		}
		if hp.colonPort, err = checkColonPort(uri, s[end+1:]); err != nil {
			return hp, err
		}
		// RFC 6874: "%25" starts the zone, which may escape more freely
		// than the address.
		addr, zone, hasZone := strings.Cut(s[1:end], "%25")
		if hp.host, err = unescape(uri, addr, escHost); err != nil {
			return hp, err
		}
		if hasZone {
			if zone, err = unescape(uri, "%25"+zone, escZone); err != nil {
				return hp, err
			}
			hp.host += zone
		}
		ip, err := netip.ParseAddr(hp.host)
		if err != nil {
			return hp, syntaxError(uri, "invalid host: "+err.Error())
		}
		if ip.Is4() {
			return hp, syntaxError(uri, "invalid IP-literal")
		}
		hp.bracketed = true
		return hp, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if hp.colonPort, err = checkColonPort(uri, s[i:]); err != nil {
			return hp, err
		}
		s = s[:i]
	}
	hp.host, err = unescape(uri, s, escHost)
	return hp, err
}

// checkColonPort checks that what follows the host is empty or ':' and
// digits.
func checkColonPort(uri, s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; i == 0 && c != ':' || i > 0 && (c < '0' || c > '9') {
			return "", uriError(uri, "invalid port "+strconv.Quote(s)+" after host", ErrBadPort)
		}
	}
	return s, nil
}

// The parts of a URI that escape differently, as in net/url.
const (
	escPath = iota // path, fragment: any byte may be written as is or escaped
	escUser        // user name and password: as escPath when parsing
	escHost        // host: only non-ASCII bytes and '%' may be escaped
	escZone        // zone of an IPv6 address: any byte allowed in a host
)

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// shouldEscape reports whether c must be written %XX in the given part of
// a URI: net/url's rules, which String keeps.
func shouldEscape(c byte, mode int) bool {
	if isUnreserved(c) {
		return false
	}
	switch mode {
	case escHost, escZone:
		// The sub-delimiters, ':' before the port, the brackets, and the
		// few others net/url leaves alone in a host.
		return strings.IndexByte("!$&'()*+,;=:[]<>\"", c) < 0
	case escPath:
		return strings.IndexByte("$&+,/:;=@", c) < 0
	default: // escUser
		return strings.IndexByte("$&+,;=", c) < 0
	}
}

func appendEscaped(b []byte, s string, mode int) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; shouldEscape(c, mode) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape decodes the %XX escapes of s, a part of uri, and checks them
// (and, in a host, the characters) as net/url does. The error never
// quotes user information, which may hold a password.
func unescape(uri, s string, mode int) (string, error) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if (mode == escHost || mode == escZone) && c < 0x80 && shouldEscape(c, mode) {
				return "", syntaxError(uri, "invalid character "+strconv.Quote(s[i:i+1])+" in host name")
			}
			continue
		}
		n++
		hi, ok1 := unhex(at(s, i+1))
		lo, ok2 := unhex(at(s, i+2))
		bad := !ok1 || !ok2
		if !bad && s[i+1:i+3] != "25" {
			v := hi<<4 | lo
			switch mode {
			case escHost:
				bad = v < 0x80 // ASCII is written as is, and '%' as %25
			case escZone:
				bad = v != ' ' && shouldEscape(v, escHost)
			}
		}
		if bad {
			if mode == escUser {
				return "", syntaxError(uri, "invalid escape in the user information")
			}
			return "", syntaxError(uri, "invalid URL escape "+strconv.Quote(s[i:min(i+3, len(s))]))
		}
		i += 2
	}
	if n == 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s)-2*n)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			hi, _ := unhex(s[i+1])
			lo, _ := unhex(s[i+2])
			b = append(b, hi<<4|lo)
			i += 2
		} else {
			b = append(b, s[i])
		}
	}
	return string(b), nil
}

// at returns s[i], or 0 past the end.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
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
	shown, hidden, spilled := redactPart(uri)
	if spilled && sharesPair(reason, hidden) {
		// The parser split the URI inside the password (a '/', '?' or
		// '#' in it): its reason would quote a piece of it.
		reason = "not a valid URI; percent-encode any '/', '?', '#' or '@' in the password (the details would show part of it)"
	}
	return &URIError{URI: shown, Reason: reason, Err: err}
}

// syntaxError reports a URI that is not well-formed; its Err is no
// sentinel, only ErrInvalidURI matches.
func syntaxError(uri, reason string) *URIError {
	return uriError(uri, reason, errors.New(reason))
}

// Redact returns uri with any password in its user information replaced by
// "xxxxx", whether uri parses or not, and the rest as written. Use it for
// every server URI that reaches a log, an error or a file name.
func Redact(uri string) string {
	shown, _, _ := redactPart(uri)
	return shown
}

// redactPart returns uri with its password replaced by "xxxxx", the text
// it replaced, and whether that text ran past the authority. The scheme ends at the first ':'; the user information
// is what comes before the last '@' of the authority (after the slashes,
// up to the first '/', '?' or '#'). From it, the user name (up to the first
// ':') is kept when the URI has "//"; without (tcp:user:pass@host) the user
// name cannot be told from the password and all of it is replaced. When
// the authority holds no '@' but the rest of the URI does, a password with
// an unescaped '/', '?' or '#' may have cut the authority short: then
// everything from the first ':' after the host's start to the last '@' is
// hidden. That can hide a port and path with an '@' in it too; a shown
// password would be worse.
func redactPart(uri string) (shown, hidden string, spilled bool) {
	colon := strings.IndexByte(uri, ':')
	start, keepUser := 0, true
	switch {
	case strings.HasPrefix(uri, "//"):
		start = 2
	case colon < 0:
		return uri, "", false
	case strings.HasPrefix(uri[colon+1:], "//"):
		start = colon + 3
	default:
		start, keepUser = colon+1, false
		for start < len(uri) && uri[start] == '/' {
			start++
		}
	}
	rest := uri[start:]
	auth := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		auth = rest[:end]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		if at = strings.LastIndexByte(rest, '@'); at < 0 {
			return uri, "", false
		}
		keepUser, spilled = true, true // the ':' below is the one the password followed
	}
	from := 0
	if keepUser {
		c := strings.IndexByte(rest[:at], ':')
		if c < 0 {
			return uri, "", false // a user name, no password
		}
		from = c + 1
	}
	return uri[:start+from] + "xxxxx" + uri[start+at:], rest[from:at], spilled
}

// sharesPair reports whether s holds two consecutive bytes of secret.
func sharesPair(s, secret string) bool {
	for i := 0; i+2 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+2]) {
			return true
		}
	}
	return len(secret) == 1 && strings.Contains(s, secret)
}
