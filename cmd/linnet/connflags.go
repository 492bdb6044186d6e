package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
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
	// exitTimeout is the -W time limit running out: 27, as mosquitto_sub
	// exits (MOSQ_ERR_TIMEOUT), so that scripts written for it keep working.
	exitTimeout = 27
)

// exitCodesHelp documents the exit codes in the --help of pub and sub.
const exitCodesHelp = `Exit codes:
  0  done
  1  failed: broker unreachable, DNS, TLS, connect timeout, connection lost
  2  bad flags or arguments (including an unreadable CA, certificate or key
     file, and an input larger than the largest MQTT message)
  4  refused by the broker: bad user name or password, not authorised, or a
     subscription refused (SUBACK failure)
  27 the -W time limit ran out (the code mosquitto_sub uses)
`

// connFlags are the connection flags shared by pub, sub and bench, spelled
// as mosquitto_pub and mosquitto_sub spell them.
type connFlags struct {
	host, uri, clientID, idPrefix string
	user, pass                    string
	port, keepAlive               int
	persistent                    bool
	version                       string
	sessionExpiry                 string
	cafile, capath, cert, key     string
	osCerts                       bool
	tlsVersion, ciphers, alpn     string
	insecure, debug, quiet        bool
	unixPath, proxy, bind         string
	noDelay                       bool
	logger                        *slog.Logger // with -d, set by options
	connectTimeout                time.Duration
	willTopic, willPayload        string
	willQoS                       int
	willRetain                    bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.host, "h", "localhost", "broker host")
	fs.IntVar(&c.port, "p", 0, "broker port (default 1883, or 8883 with TLS flags)")
	fs.StringVar(&c.uri, "L", "", "broker `URI` on any scheme: tcp:// mqtt:// ssl:// mqtts:// ws:// wss:// unix://;\n"+
		"user:password@ in the URI stand for -u/-P; for tcp and TLS schemes a path names the topic, as in mosquitto")
	fs.StringVar(&c.unixPath, "unix", "", "connect through the unix socket at `path` instead of -h/-p")
	fs.StringVar(&c.clientID, "i", "", "client `id` (default: generated, linnet-...)")
	fs.StringVar(&c.idPrefix, "I", "", "client id `prefix`: the id is the prefix followed by the process id")
	fs.StringVar(&c.user, "u", "", "user `name`")
	fs.StringVar(&c.pass, "P", "", "`password` (needs -u)")
	fs.IntVar(&c.keepAlive, "k", 60, "keep-alive in `seconds`, 0 turns it off")
	fs.BoolVar(&c.persistent, "c", false, "persistent session: CleanSession=0 (needs -i)")
	fs.StringVar(&c.version, "V", "auto", "protocol `version`: mqttv311, mqttv31, or auto (3.1.1, falling back to 3.1); mqttv5 is not supported")
	fs.StringVar(&c.sessionExpiry, "x", "", "session expiry `interval`: an MQTT 5 property, refused (linnet speaks 3.1.1 and 3.1)")
	c.registerTLS(fs)
	c.registerNet(fs)
	fs.BoolVar(&c.debug, "d", false, "print a packet trace (as mosquitto -d does) and the client's debug log to standard error")
	fs.BoolVar(&c.quiet, "quiet", false, "do not print error messages (the exit code still tells)")
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
	fs.StringVar(&c.capath, "capath", "", "`directory` of PEM files of trusted CAs (every certificate in every file); turns TLS on")
	fs.BoolVar(&c.osCerts, "tls-use-os-certs", false, "trust the system's CAs too (with --cafile/--capath: as well as them); turns TLS on")
	fs.StringVar(&c.cert, "cert", "", "PEM `file` of the client certificate (with --key); turns TLS on")
	fs.StringVar(&c.key, "key", "", "PEM `file` of the client key (with --cert)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not check that the broker's certificate names its host (the chain is still verified)")
	fs.StringVar(&c.tlsVersion, "tls-version", "", "the one TLS `version` to use: tlsv1.3, tlsv1.2 or tlsv1.1 (default: 1.2 or 1.3)")
	fs.StringVar(&c.ciphers, "ciphers", "", "colon-separated `list` of TLS 1.2 and older cipher suites, by OpenSSL or IANA name\n"+
		"(TLS 1.3 suites cannot be chosen, as with OpenSSL's list)")
	fs.StringVar(&c.alpn, "tls-alpn", "", "ALPN `protocol` to offer in the TLS handshake")
}

// tlsWanted reports whether a flag turns TLS on.
func (c *connFlags) tlsWanted() bool {
	return c.cafile != "" || c.capath != "" || c.osCerts || c.cert != "" || c.key != "" || c.insecure
}

// appendTLS appends the TLS option to opts when the server's scheme or a
// TLS flag asks for TLS.
func (c *connFlags) appendTLS(opts []transport.Option, server string) ([]transport.Option, error) {
	if !tlsOn(server) && !c.tlsWanted() {
		if c.tlsVersion != "" || c.ciphers != "" || c.alpn != "" {
			return opts, usagef("--tls-version, --ciphers and --tls-alpn need TLS: --cafile, --capath, --tls-use-os-certs or an ssl:// URI")
		}
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
	if c.sessionExpiry != "" {
		return opts, "", usagef("-x %s: the session expiry interval is an MQTT 5 property, and linnet speaks MQTT 3.1.1 and 3.1;\n"+
			"without -c the session ends with the connection, with -c it never expires", c.sessionExpiry)
	}
	server, topic, user, pass, err := c.server()
	if err != nil {
		return opts, "", err
	}
	opts.Servers = []string{server}
	switch {
	case c.clientID != "" && c.idPrefix != "":
		return opts, "", usagef("give -i or -I, not both")
	case c.idPrefix != "":
		opts.ClientID = c.idPrefix + strconv.Itoa(os.Getpid())
	default:
		opts.ClientID = c.clientID
	}
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
	case "mqttv5", "5", "v5":
		return opts, "", usagef("-V %s: MQTT 5 is not supported; linnet speaks MQTT 3.1.1 (mqttv311) and 3.1 (mqttv31)", c.version)
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
	dial, err := c.dialer(server)
	if err != nil {
		return opts, "", err
	}
	if dial != nil {
		opts.Transport = append(opts.Transport, transport.WithDialer(dial))
	}
	if c.debug {
		c.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts.Logger = libLogger(c.logger)
		opts.Transport = append(opts.Transport, transport.WithLogger(opts.Logger))
		opts.Registry = traceRegistry(newTracer(stderr))
	}
	return opts, topic, nil
}

// server returns the server URI, with the topic and credentials taken out
// of a -L URI.
func (c *connFlags) server() (server, topic, user, pass string, err error) {
	user, pass = c.user, c.pass
	if c.unixPath != "" {
		if c.uri != "" {
			return "", "", "", "", usagef("give --unix or -L, not both")
		}
		path := c.unixPath
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		server = "unix://" + (&url.URL{Path: path}).EscapedPath()
		if err := transport.Validate(server); err != nil {
			return "", "", "", "", usagef("--unix %q: %v", c.unixPath, err)
		}
		return server, "", user, pass, nil
	}
	if c.uri == "" {
		if c.port < 0 || c.port > 65535 {
			return "", "", "", "", usagef("-p %d: a port is 1 to 65535", c.port)
		}
		scheme, port := "tcp", c.port
		if c.tlsWanted() {
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
