package client

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/linnet-mqtt/linnet/transport"
)

// Defaults that the zero value of an Options field stands for.
const (
	DefaultKeepAlive      = 60 * time.Second
	DefaultPingTimeout    = 10 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultMaxInFlight    = 20
	DefaultMaxPacketSize  = 16 << 20 // inbound packets, fixed header included
	DefaultMessageQueue   = 64
	DefaultBackoffMin     = 1 * time.Second
	DefaultBackoffMax     = 2 * time.Minute
	DefaultBackoffJitter  = 0.2
	// ClientIDPrefix starts a generated client id.
	ClientIDPrefix = "linnet-"
)

// KeepAliveOff in Options.KeepAlive turns keep-alive off (CONNECT keep-alive
// 0): the client sends no PINGREQ and the server never times it out.
const KeepAliveOff time.Duration = -1

// Version selects the protocol version of CONNECT.
type Version byte

const (
	// VersionAuto (the zero value) tries MQTT 3.1.1 first and falls back to
	// MQTT 3.1 on the same server when the server answers CONNACK 0x01 or
	// closes the connection without a CONNACK, as Paho does. The version
	// that worked is remembered for later connects of the client.
	VersionAuto Version = 0
	// Version311 pins MQTT 3.1.1 (protocol "MQTT", level 4).
	Version311 Version = 4
	// Version31 pins MQTT 3.1 (protocol "MQIsdp", level 3).
	Version31 Version = 3
)

func (v Version) String() string {
	switch v {
	case VersionAuto:
		return "auto"
	case Version311:
		return "3.1.1"
	case Version31:
		return "3.1"
	}
	return "Version(" + strconv.Itoa(int(v)) + ")"
}

// Will is the message the server publishes when the client goes away
// without DISCONNECT (§3.1.2.5).
type Will struct {
	Topic   string
	Payload []byte
	QoS     packet.QoS
	Retain  bool
}

// Backoff is the delay between reconnect attempts: Min doubled at each
// attempt, capped at Max, minus a random part of at most Jitter (0 to 1) of
// it. Zero fields mean DefaultBackoffMin, DefaultBackoffMax and
// DefaultBackoffJitter; a negative Jitter means none.
type Backoff struct {
	Min, Max time.Duration
	Jitter   float64
	// Rand returns a number in [0, 1); nil means math/rand/v2. Tests set
	// it to make delays exact.
	Rand func() float64
}

// ConnectInfo tells the OnConnect callback about a connection that is up.
type ConnectInfo struct {
	Server         string  // the server URI that accepted
	SessionPresent bool    // CONNACK session present: the server resumed a session
	Reconnect      bool    // an automatic reconnect rather than Connect
	Version        Version // the protocol version that worked
}

// Delivery tells the OnDeliveryComplete callback that an outbound QoS 1 or
// 2 message reached its final ack (QoS 0: was written).
type Delivery struct {
	Topic     string
	QoS       packet.QoS
	MessageID uint16
}

// Options configures a Client. The zero value of every field means the
// documented default, so Options{Servers: []string{"tcp://127.0.0.1:1883"}}
// is a complete configuration. New copies the struct (and its slices and
// maps): changing it afterwards has no effect on the client.
type Options struct {
	// Servers are tried in order on every connect (Paho's serverURIs):
	// tcp://, mqtt://, ssl://, tls://, mqtts://, tcps://, ws://, wss://,
	// unix://, or a scheme registered with the transport package. The
	// user information of a URI (tcp://user:pass@host) is the user name
	// and password for that server when Username and Credentials are not
	// set. A URI's password never appears in String, errors, logs,
	// callbacks or the file store's directory names (transport.Redact).
	Servers []string

	// ClientID identifies the session. Empty means a random id starting
	// with ClientIDPrefix, which needs a clean session [MQTT-3.1.3-7].
	ClientID string
	// Username and Password go in every CONNECT unless Credentials is set.
	// A password needs a user name [MQTT-3.1.2-22]. The password never
	// appears in logs or errors.
	Username string
	Password []byte
	// Credentials, when set, is called before every connect attempt with
	// the server URI and returns the user name and password to use; an
	// error fails that attempt. It runs on the client's loop goroutine.
	Credentials func(ctx context.Context, server string) (username string, password []byte, err error)

	// PersistentSession sends CleanSession=0, so that the server and the
	// client keep the session (subscriptions, QoS 1 and 2 messages in
	// flight) across connections. False (the default) is CleanSession=1.
	PersistentSession bool

	// KeepAlive is the longest time without a packet to the server before
	// a PINGREQ [MQTT-3.1.2-23]. Zero means DefaultKeepAlive, KeepAliveOff
	// turns it off. It is sent in whole seconds, at most 65535.
	KeepAlive time.Duration
	// PingTimeout is how long to wait for any packet from the server after
	// a PINGREQ before the connection is declared dead with a
	// *ConnectionLostError wrapping a *session.TimeoutError (a net.Error
	// with Timeout() true). Zero means DefaultPingTimeout. PINGREQs keep
	// going out every KeepAlive meanwhile, whatever PingTimeout is.
	PingTimeout time.Duration
	// ConnectTimeout bounds one connect attempt to one server: the dial,
	// the TLS and WebSocket handshakes and the wait for CONNACK. Zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// WriteTimeout bounds each write to the network. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Will, when set, is published by the server if the connection ends
	// without DISCONNECT.
	Will *Will

	// Version is VersionAuto (3.1.1 with fallback to 3.1), Version311 or
	// Version31.
	Version Version

	// WebSocketHeader adds header fields to the WebSocket upgrade request
	// of ws:// and wss:// servers.
	WebSocketHeader map[string][]string
	// Transport holds options for transport.Dial: the TLS configuration
	// (transport.WithTLSConfig), a dialer, a proxy function, a maximum
	// WebSocket frame size. TLS is set this way rather than as a field so
	// that a build with the linnet_notls tag links no TLS code.
	Transport []transport.Option
	// Registry, when set, is the scheme registry used to validate Servers
	// and to dial; nil means transport.Default.
	Registry *transport.Registry

	// MaxInFlight bounds the outbound QoS 1 and 2 messages waiting for
	// their final ack; more wait in order in a queue, each for as long as
	// its caller's context allows. Zero means DefaultMaxInFlight; at most
	// 65535.
	//
	// Keep it at or below the broker's own limit on messages in flight
	// from one client. mosquitto's max_inflight_messages (20 by default)
	// counts incoming QoS 2 messages waiting for PUBREL; past it, mosquitto
	// 2.0 answers a QoS 1 PUBLISH with a PUBACK and a QoS 2 PUBLISH with a
	// PUBREC, and drops the message, and MQTT 3.1.1 gives the client no way
	// to tell (see TestManualAckMosquitto, TestDefaultWindowMosquitto). The
	// default is that limit, so that a client with default options loses
	// no messages to the in-flight limit of a broker with default options;
	// raise it for brokers that allow more (a larger window is faster: the
	// benchmarks use 1000).
	MaxInFlight int
	// OfflineBuffer is how many publishes the client holds while it has no
	// connection (after a loss with AutoReconnect, or before the first
	// connect), to send in order after the next CONNACK. Zero means no
	// buffer: a publish without a connection fails with ErrNotConnected.
	// When full, a publish fails with ErrOfflineBufferFull.
	OfflineBuffer int
	// OfflineBufferDropOldest makes a full offline buffer drop its oldest
	// message to take the new one (the dropped message's token fails with
	// ErrOfflineMessageDropped) instead of refusing the new one with
	// ErrOfflineBufferFull.
	OfflineBufferDropOldest bool
	// PersistOfflineBuffer writes the QoS 0 messages of the offline buffer
	// to Persistence (under sb-<seq>) too, so that a file store keeps the
	// whole backlog across a restart of the process. QoS 1 and 2 messages
	// are always written to a store that outlives the process (anything
	// but a store.Memory) before PublishAsync returns, whether they are
	// sent at once, wait in the offline buffer or wait for room in the
	// in-flight window (TestPublishAsyncDurableOnReturn).
	PersistOfflineBuffer bool
	// Persistence keeps the in-flight state; nil means a new store.Memory.
	// With a file store and PersistentSession, QoS 1 and 2 messages
	// survive a restart of the process. New opens it and Close closes it.
	// It must be safe for concurrent use (the stores of package store
	// are): PublishAsync writes to it on the caller's goroutine. A store
	// that implements store.Syncer (Sync) is synced before PublishAsync
	// returns a message it wrote (QoS 1 and 2; QoS 0 with
	// PersistOfflineBuffer while disconnected) and before the client sends
	// a packet whose record it holds.
	Persistence store.Persistence

	// AutoReconnect reconnects after a connection loss, waiting Backoff
	// between rounds over the server list.
	AutoReconnect bool
	// ConnectRetry makes the first Connect retry with Backoff until its
	// context ends, instead of returning the first failure.
	ConnectRetry bool
	Backoff      Backoff
	// NoResubscribe stops the client from re-making its subscriptions after
	// a reconnect whose CONNACK says the session is gone.
	NoResubscribe bool

	// MaxPacketSize bounds an inbound packet, fixed header included; a
	// larger one ends the connection. Zero means DefaultMaxPacketSize.
	MaxPacketSize int
	// MessageQueue bounds the deliveries and callbacks waiting for the
	// dispatcher goroutine; when full, the client stops reading from the
	// server (back-pressure) but keeps sending acks and PINGREQs. Zero means
	// DefaultMessageQueue.
	MessageQueue int

	// ManualAcks stops the client from acknowledging an inbound QoS 1 or 2
	// message when its handler returns; the application calls Message.Ack.
	// Acks still leave in arrival order: an ack waits for the acks of the
	// messages that arrived before it.
	ManualAcks bool

	// Pacing is the client's policy for trading latency for throughput
	// under load: nil (the default) never waits on purpose;
	// ThroughputPacing() pauses reads and holds writes briefly under a
	// sustained stream, for bulk transfer. See Pacing.
	Pacing Pacing

	// PingSender, when set, drives keep-alive instead of the loop's own
	// timer (session.TimerPingSender, or session.ManualPingSender for a host
	// with its own main loop). New calls its Init.
	PingSender session.PingSender

	// Logger receives debug and warning records; nil discards them.
	Logger *Logger

	// Callbacks, all called on the dispatcher goroutine, in order with the
	// messages: OnConnectionLost runs after the handlers of the messages
	// that came before the loss, so a handler that blocks delays it
	// (IsConnected reports the loss at once).
	OnConnect          func(ConnectInfo)
	OnConnectionLost   func(err error)
	OnReconnecting     func(attempt int, delay time.Duration)
	OnDeliveryComplete func(Delivery)
	// DefaultHandler receives messages that no route matches. Without it,
	// they are acknowledged and dropped.
	DefaultHandler Handler
}

// resolved returns a copy of o with every default filled in and its slices
// and maps copied. It does not validate.
func (o Options) resolved() Options {
	o.Servers = append([]string(nil), o.Servers...)
	o.Password = append([]byte(nil), o.Password...)
	o.Transport = append([]transport.Option(nil), o.Transport...)
	if o.WebSocketHeader != nil {
		h := make(map[string][]string, len(o.WebSocketHeader))
		for k, v := range o.WebSocketHeader {
			h[k] = append([]string(nil), v...)
		}
		o.WebSocketHeader = h
	}
	if o.Will != nil {
		w := *o.Will
		w.Payload = append([]byte(nil), w.Payload...)
		o.Will = &w
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.PingTimeout == 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.MessageQueue == 0 {
		o.MessageQueue = DefaultMessageQueue
	}
	if o.Backoff.Min == 0 {
		o.Backoff.Min = DefaultBackoffMin
	}
	if o.Backoff.Max == 0 {
		o.Backoff.Max = DefaultBackoffMax
	}
	if o.Backoff.Jitter == 0 {
		o.Backoff.Jitter = DefaultBackoffJitter
	}
	if o.Logger == nil {
		o.Logger = discardLogger
	}
	if o.ClientID == "" && !o.PersistentSession {
		o.ClientID = newClientID()
	}
	return o
}

// newClientID returns ClientIDPrefix and 16 random hex digits. The id
// needs to be unique, not secret, so math/rand/v2 (seeded by the runtime
// from the system's entropy) does, and keeps crypto out of small builds.
func newClientID() string {
	const digits = "0123456789abcdef"
	b := []byte(ClientIDPrefix + "0000000000000000")
	n := rand.Uint64()
	for i := len(b) - 1; i >= len(ClientIDPrefix); i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b)
}

// validate checks o as given by the user (before defaults).
func (o *Options) validate() error {
	if len(o.Servers) == 0 {
		return &OptionError{Field: "Servers", Reason: "no server URI"}
	}
	for i, s := range o.Servers {
		var err error
		if o.Registry != nil {
			_, err = o.Registry.Parse(s)
		} else {
			err = transport.Validate(s)
		}
		if err != nil {
			return &OptionError{Field: "Servers[" + strconv.Itoa(i) + "]", Reason: "unusable server URI", Err: err}
		}
	}
	if o.ClientID == "" && o.PersistentSession {
		return &OptionError{Field: "ClientID", Reason: "empty client id needs a clean session [MQTT-3.1.3-7]"}
	}
	if len(o.ClientID) > 65535 {
		return &OptionError{Field: "ClientID", Reason: "longer than 65535 bytes"}
	}
	if len(o.Password) > 0 && o.Username == "" && o.Credentials == nil {
		return &OptionError{Field: "Password", Reason: "a password needs a user name [MQTT-3.1.2-22]"}
	}
	if o.KeepAlive < 0 && o.KeepAlive != KeepAliveOff {
		return &OptionError{Field: "KeepAlive", Reason: "negative (use KeepAliveOff)"}
	}
	if o.KeepAlive > 65535*time.Second {
		return &OptionError{Field: "KeepAlive", Reason: "over 65535 seconds"}
	}
	if o.KeepAlive > 0 && o.KeepAlive < time.Second {
		return &OptionError{Field: "KeepAlive", Reason: "under one second (the protocol counts whole seconds)"}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"PingTimeout", o.PingTimeout}, {"ConnectTimeout", o.ConnectTimeout}, {"WriteTimeout", o.WriteTimeout},
		{"Backoff.Min", o.Backoff.Min}, {"Backoff.Max", o.Backoff.Max}} {
		if d.v < 0 {
			return &OptionError{Field: d.name, Reason: "negative duration"}
		}
	}
	if o.Backoff.Max != 0 && o.Backoff.Min > o.Backoff.Max {
		return &OptionError{Field: "Backoff.Min", Reason: "larger than Backoff.Max"}
	}
	if o.Backoff.Jitter > 1 {
		return &OptionError{Field: "Backoff.Jitter", Reason: "over 1"}
	}
	if o.Will != nil {
		if err := packet.ValidateTopicName(o.Will.Topic); err != nil {
			return &OptionError{Field: "Will.Topic", Reason: "invalid topic name", Err: err}
		}
		if !o.Will.QoS.Valid() {
			return &OptionError{Field: "Will.QoS", Reason: "QoS over 2 [MQTT-3.1.2-14]"}
		}
		if len(o.Will.Payload) > 65535 {
			return &OptionError{Field: "Will.Payload", Reason: "longer than 65535 bytes"}
		}
	}
	switch o.Version {
	case VersionAuto, Version311, Version31:
	default:
		return &OptionError{Field: "Version", Reason: "unknown version " + o.Version.String()}
	}
	if o.MaxInFlight < 0 || o.MaxInFlight > 65535 {
		return &OptionError{Field: "MaxInFlight", Reason: "outside 0 to 65535"}
	}
	if o.OfflineBuffer < 0 {
		return &OptionError{Field: "OfflineBuffer", Reason: "negative"}
	}
	if o.MaxPacketSize < 0 {
		return &OptionError{Field: "MaxPacketSize", Reason: "negative"}
	}
	if o.MaxPacketSize > 0 && o.MaxPacketSize < 5 {
		return &OptionError{Field: "MaxPacketSize", Reason: "under 5 bytes, no CONNACK would fit"}
	}
	if o.MessageQueue < 0 {
		return &OptionError{Field: "MessageQueue", Reason: "negative"}
	}
	return nil
}

// keepAliveSeconds is the CONNECT field.
func (o *Options) keepAliveSeconds() uint16 {
	if o.KeepAlive <= 0 {
		return 0
	}
	return uint16(o.KeepAlive / time.Second)
}

// String describes the options for logs, with the password redacted (its
// length only), the servers' passwords replaced by "xxxxx" and callbacks
// shown as set or not.
func (o Options) String() string {
	// Built with strconv rather than fmt, which a constrained build cannot
	// afford (issue 5); the text is what fmt's %q, %d, %t and %v wrote, the
	// server list in fmt's ["a" "b"] form.
	b := make([]byte, 0, 512)
	b = appendServers(append(b, "Options{Servers:"...), o.Servers)
	b = strconv.AppendQuote(append(b, " ClientID:"...), o.ClientID)
	b = strconv.AppendQuote(append(b, " Username:"...), o.Username)
	b = strconv.AppendInt(append(b, " Password:<redacted len="...), int64(len(o.Password)), 10)
	b = strconv.AppendBool(append(b, "> PersistentSession:"...), o.PersistentSession)
	b = append(append(b, " KeepAlive:"...), o.KeepAlive.String()...)
	b = append(append(b, " PingTimeout:"...), o.PingTimeout.String()...)
	b = append(append(b, " ConnectTimeout:"...), o.ConnectTimeout.String()...)
	b = append(append(b, " Version:"...), o.Version.String()...)
	b = strconv.AppendInt(append(b, " MaxInFlight:"...), int64(o.MaxInFlight), 10)
	b = strconv.AppendInt(append(b, " OfflineBuffer:"...), int64(o.OfflineBuffer), 10)
	b = strconv.AppendBool(append(b, " AutoReconnect:"...), o.AutoReconnect)
	b = strconv.AppendBool(append(b, " ConnectRetry:"...), o.ConnectRetry)
	b = strconv.AppendBool(append(b, " ManualAcks:"...), o.ManualAcks)
	b = strconv.AppendBool(append(b, " Will:"...), o.Will != nil)
	b = strconv.AppendBool(append(b, " Credentials:"...), o.Credentials != nil)
	return string(append(b, '}'))
}

// appendServers appends servers in fmt's ["a" "b"] form, each with its
// password replaced by "xxxxx".
func appendServers(b []byte, servers []string) []byte {
	b = append(b, '[')
	for i, s := range servers {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendQuote(b, transport.Redact(s))
	}
	return append(b, ']')
}

// GoString is String, so that %#v does not print the password either.
func (o Options) GoString() string { return o.String() }
