package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// Exit codes of the commands that talk to a broker, beyond those of main.go.
const (
	exitRefused = 4 // the broker said no: a CONNACK refusal (credentials, not authorised) or a SUBACK failure
	exitTimeout = 5 // the -W time limit ran out before the work was done
)

// exitCodesHelp documents the exit codes in the --help of pub and sub.
const exitCodesHelp = `Exit codes:
  0  done
  1  failed: broker unreachable, DNS, TLS, connect timeout, connection lost
  2  bad flags or arguments (including an unreadable CA, certificate or key file)
  4  refused by the broker: bad user name or password, not authorised, or a
     subscription refused (SUBACK failure)
  5  the -W time limit ran out
`

// connFlags are the connection flags shared by pub, sub and bench, spelled
// as mosquitto_pub and mosquitto_sub spell them.
type connFlags struct {
	host, uri, clientID, user, pass string
	port, keepAlive                 int
	persistent                      bool
	version                         string
	cafile, cert, key               string
	insecure, debug                 bool
	logger                          *slog.Logger // with -d, set by options
	connectTimeout                  time.Duration
	willTopic, willPayload          string
	willQoS                         int
	willRetain                      bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.host, "h", "localhost", "broker host")
	fs.IntVar(&c.port, "p", 0, "broker port (default 1883, or 8883 with TLS flags)")
	fs.StringVar(&c.uri, "L", "", "broker `URI` on any scheme: tcp:// mqtt:// ssl:// mqtts:// ws:// wss:// unix://;\n"+
		"user:password@ in the URI stand for -u/-P; for tcp and TLS schemes a path names the topic, as in mosquitto")
	fs.StringVar(&c.clientID, "i", "", "client `id` (default: generated, linnet-...)")
	fs.StringVar(&c.user, "u", "", "user `name`")
	fs.StringVar(&c.pass, "P", "", "`password` (needs -u)")
	fs.IntVar(&c.keepAlive, "k", 60, "keep-alive in `seconds`, 0 turns it off")
	fs.BoolVar(&c.persistent, "c", false, "persistent session: CleanSession=0 (needs -i)")
	fs.StringVar(&c.version, "V", "auto", "protocol `version`: mqttv311, mqttv31, or auto (3.1.1, falling back to 3.1)")
	c.registerTLS(fs)
	fs.BoolVar(&c.debug, "d", false, "print debug messages of the client to standard error")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "how long one connect may take")
	fs.StringVar(&c.willTopic, "will-topic", "", "`topic` of the will, published by the broker if the connection is lost")
	fs.StringVar(&c.willPayload, "will-payload", "", "`payload` of the will")
	fs.IntVar(&c.willQoS, "will-qos", 0, "QoS of the will: 0, 1 or 2")
	fs.BoolVar(&c.willRetain, "will-retain", false, "retain the will")
}

// registerTLS adds the TLS flags, which every command that reaches a broker
// shares.
func (c *connFlags) registerTLS(fs *flag.FlagSet) {
	fs.StringVar(&c.cafile, "cafile", "", "PEM `file` of the CA that signed the broker's certificate; turns TLS on")
	fs.StringVar(&c.cert, "cert", "", "PEM `file` of the client certificate (with --key); turns TLS on")
	fs.StringVar(&c.key, "key", "", "PEM `file` of the client key (with --cert)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not check that the broker's certificate names its host (the chain is still verified)")
}

// appendTLS appends the TLS option to opts when the server's scheme or a
// TLS flag asks for TLS.
func (c *connFlags) appendTLS(opts []transport.Option, server string) ([]transport.Option, error) {
	if !tlsOn(server) && c.cafile == "" && c.cert == "" && c.key == "" && !c.insecure {
		return opts, nil
	}
	opt, err := c.tlsOption()
	if err != nil {
		return opts, err
	}
	return append(opts, opt), nil
}

// defaultTLSPort is transport.DefaultTLSPort, which a linnet_notls build
// does not define.
const defaultTLSPort = 8883

// usageError is a bad flag value: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// options turns the flags into client options. topic is the topic named by
// the path of a -L URI ("" when none).
func (c *connFlags) options(stderr io.Writer) (opts client.Options, topic string, err error) {
	server, topic, user, pass, err := c.server()
	if err != nil {
		return opts, "", err
	}
	opts.Servers = []string{server}
	opts.ClientID = c.clientID
	opts.Username = user
	if pass != "" {
		opts.Password = []byte(pass)
	}
	if opts.Password != nil && opts.Username == "" {
		return opts, "", usagef("a password (-P) needs a user name (-u)")
	}
	if c.persistent && c.clientID == "" {
		return opts, "", usagef("a persistent session (-c) needs a client id (-i)")
	}
	opts.PersistentSession = c.persistent
	switch {
	case c.keepAlive == 0:
		opts.KeepAlive = client.KeepAliveOff
	case c.keepAlive < 0 || c.keepAlive > 65535:
		return opts, "", usagef("-k %d: keep-alive is 0 to 65535 seconds", c.keepAlive)
	default:
		opts.KeepAlive = time.Duration(c.keepAlive) * time.Second
	}
	if c.connectTimeout <= 0 {
		return opts, "", usagef("--connect-timeout must be positive")
	}
	opts.ConnectTimeout = c.connectTimeout
	switch strings.ToLower(c.version) {
	case "auto", "":
		opts.Version = client.VersionAuto
	case "mqttv311", "311", "3.1.1", "4":
		opts.Version = client.Version311
	case "mqttv31", "31", "3.1", "3":
		opts.Version = client.Version31
	default:
		return opts, "", usagef("-V %q: the version is mqttv311, mqttv31 or auto", c.version)
	}
	if c.willTopic != "" {
		q, err := parseQoS("--will-qos", c.willQoS)
		if err != nil {
			return opts, "", err
		}
		opts.Will = &client.Will{Topic: c.willTopic, Payload: []byte(c.willPayload), QoS: q, Retain: c.willRetain}
	} else if c.willPayload != "" || c.willRetain || c.willQoS != 0 {
		return opts, "", usagef("--will-payload, --will-qos and --will-retain need --will-topic")
	}
	if opts.Transport, err = c.appendTLS(opts.Transport, server); err != nil {
		return opts, "", err
	}
	if c.debug {
		c.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts.Logger = libLogger(c.logger)
		opts.Transport = append(opts.Transport, transport.WithLogger(opts.Logger))
	}
	return opts, topic, nil
}

// server returns the server URI, with the topic and credentials taken out
// of a -L URI.
func (c *connFlags) server() (server, topic, user, pass string, err error) {
	user, pass = c.user, c.pass
	if c.uri == "" {
		if c.port < 0 || c.port > 65535 {
			return "", "", "", "", usagef("-p %d: a port is 1 to 65535", c.port)
		}
		scheme, port := "tcp", c.port
		if c.cafile != "" || c.cert != "" || c.key != "" || c.insecure {
			scheme = "ssl"
		}
		if port == 0 {
			port = transport.DefaultTCPPort
			if scheme == "ssl" {
				port = defaultTLSPort
			}
		}
		server = scheme + "://" + net.JoinHostPort(c.host, strconv.Itoa(port))
		if err := transport.Validate(server); err != nil {
			return "", "", "", "", usagef("-h %q: %v", c.host, err)
		}
		return server, "", user, pass, nil
	}
	u, err := url.Parse(c.uri)
	if err != nil {
		return "", "", "", "", usagef("-L %q: %v", c.uri, err)
	}
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && pass == "" {
			pass = p
		}
		u.User = nil
	}
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
		// mosquitto's -L mqtt://host:port/topic: the path is the topic.
		if p := strings.TrimPrefix(u.Path, "/"); p != "" {
			topic = p
		}
		u.Path, u.RawPath = "", ""
	}
	server = u.String()
	if err := transport.Validate(server); err != nil {
		return "", "", "", "", usagef("-L: %v", err)
	}
	return server, topic, user, pass, nil
}

func tlsOn(server string) bool {
	scheme, _, _ := strings.Cut(server, "://")
	switch strings.ToLower(scheme) {
	case "ssl", "tls", "mqtts", "tcps", "wss":
		return true
	}
	return false
}

func parseQoS(flagName string, q int) (packet.QoS, error) {
	if q < 0 || q > 2 {
		return 0, usagef("%s %d: QoS is 0, 1 or 2", flagName, q)
	}
	return packet.QoS(q), nil
}

// failure prints err as one line naming its cause, prefixed with the
// command's name, and returns the exit code for it.
func failure(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "linnet %s: %s\n", cmd, oneLine(describeErr(err)))
	return exitCodeFor(err)
}

func exitCodeFor(err error) int {
	var ue *usageError
	var suback *subackError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.Is(err, transport.ErrInvalidURI), errors.Is(err, client.ErrInvalidOptions),
		errors.Is(err, client.ErrInvalidArgument):
		return exitUsage
	case errors.Is(err, client.ErrRefused), errors.As(err, &suback):
		return exitRefused
	case errors.Is(err, errTimeLimit):
		return exitTimeout
	}
	return exitFailure
}

// errTimeLimit is the -W limit running out.
var errTimeLimit = errors.New("time limit reached")

// subackError is a subscription the broker refused.
type subackError struct{ filter string }

func (e *subackError) Error() string {
	return fmt.Sprintf("refused: the broker refused the subscription to %q (SUBACK 0x80)", e.filter)
}

// describeErr says what went wrong, cause first: "refused: ...", "TLS: ...",
// "DNS: ...", "timeout: ...", "unreachable: ...".
func describeErr(err error) string {
	var (
		ue      *usageError
		ce      *client.ConnectError
		te      *transport.TLSError
		dnsErr  *net.DNSError
		lost    *client.ConnectionLostError
		uriErr  *transport.URIError
		optErr  *client.OptionError
		suback  *subackError
		netErr  net.Error
		opErr   *net.OpError
		dialErr *transport.DialError
	)
	server := ""
	if errors.As(err, &dialErr) {
		server = dialErr.URI
	}
	switch {
	case errors.As(err, &ue), errors.As(err, &suback):
		return err.Error()
	case errors.Is(err, errTimeLimit):
		return "timeout: " + err.Error()
	case errors.As(err, &ce):
		s := "refused: " + ce.Code.String() + " (CONNACK return code " + strconv.Itoa(int(ce.Code)) + ")"
		if ce.Server != "" {
			s += " by " + ce.Server
		}
		switch ce.Code {
		case packet.RefusedBadUserNamePassword, packet.RefusedNotAuthorized:
			s += "; check the user name and password (-u, -P)"
		case packet.RefusedIdentifierRejected:
			s += "; check the client id (-i)"
		}
		return s
	case errors.As(err, &uriErr):
		return "invalid URI: " + strings.TrimPrefix(uriErr.Error(), "transport: invalid server URI ")
	case errors.As(err, &optErr):
		return "invalid option: " + strings.TrimPrefix(optErr.Error(), "mqtt: ")
	case errors.As(err, &te):
		hint := ""
		switch {
		case errors.Is(err, transport.ErrUnknownAuthority):
			hint = "; is --cafile the CA that signed the broker's certificate?"
		case errors.Is(err, transport.ErrHostnameMismatch):
			hint = "; connect by a name in the certificate, or --insecure"
		case errors.Is(err, transport.ErrClientCertRejected):
			hint = "; check --cert and --key"
		}
		what := te.Kind.Error()
		if te.Kind == transport.ErrTLS {
			what = te.Err.Error()
		}
		return "TLS: " + what + at(server) + hint
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: no such host %q", dnsErr.Name)
		}
		return fmt.Sprintf("DNS: cannot resolve %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "unreachable: connection refused" + at(server) + " (is a broker listening there?)"
	case errors.Is(err, syscall.ENOENT) && errors.As(err, &opErr):
		return "unreachable: no such socket" + at(server)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable: no route" + at(server)
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: " + trimPrefixes(err.Error())
	case errors.As(err, &lost):
		return "connection lost: " + trimPrefixes(lost.Err.Error())
	case errors.Is(err, client.ErrNoCONNACK):
		return "no CONNACK: the server closed the connection before accepting it" + at(server)
	}
	return trimPrefixes(err.Error())
}

func at(server string) string {
	if server == "" {
		return ""
	}
	return " at " + server
}

func trimPrefixes(s string) string {
	for _, p := range []string{"mqtt: ", "transport: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// timeLimit returns a channel that fires after the -W limit of seconds
// (nil, never firing, for 0) and the function that stops its timer.
func timeLimit(seconds int) (<-chan time.Time, func()) {
	if seconds <= 0 {
		return nil, func() {}
	}
	t := time.NewTimer(time.Duration(seconds) * time.Second)
	return t.C, func() { t.Stop() }
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// stringList is a repeatable string flag (-t a -t b).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// isTerminal reports whether w is a terminal (for progress lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
