package dms

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/transport"
)

// Defaults of the original device code, and of this package where the
// original has none, used for zero fields of Config.
const (
	DefaultConnectTimeout       = 30 * time.Second
	DefaultKeepAlive            = 60 * time.Second
	DefaultJoinNetworkWait      = 30 * time.Second
	DefaultHeartbeatInterval    = 30 * time.Second
	DefaultMaxHeartbeatFailures = 3
	// DefaultSubscribeTimeout bounds each wait for a SUBACK; the original
	// waits 10 s (waitForCompletion(10000)).
	DefaultSubscribeTimeout = 10 * time.Second
	// DefaultDrainTimeout bounds how long Stop waits for the device's own
	// publishes in flight.
	DefaultDrainTimeout = 2 * time.Second
	// DefaultOfflineBuffer is how many of the device's own publishes wait
	// for a DMS reconnect.
	DefaultOfflineBuffer = 100
)

// StatusProvider returns the body of a heartbeat: the device status as JSON.
// It is called on the agent's goroutine before every heartbeat; ctx ends when
// the agent stops.
type StatusProvider func(ctx context.Context) ([]byte, error)

// MessageHandler receives a message of a control topic (verify_pwd,
// ctrlDevice) or of a Subscription with its topic and payload. It runs on
// the dispatcher goroutine of the MQTT client; the payload belongs to it. It
// may reply with Agent.PublishAsync; Agent.Publish, which waits, is better
// called from a goroutine of its own.
type MessageHandler func(topic string, payload []byte)

// NetworkInfoParser extracts the DMS server URI from a join-network payload.
// An error means the payload could not be read: the agent logs it (warning
// level, with the first bytes of the payload) and keeps waiting. The URI it
// returns is then checked like the default parser's (transport.Validate or
// Config.Registry, and the TLS rule of Config.AllowInsecureDMS).
type NetworkInfoParser func(topic string, payload []byte) (uri string, err error)

// RRPCConfig turns on the RRPC responder of an Agent on its DMS connection.
type RRPCConfig struct {
	ProductKey string
	DeviceName string
	// Handler computes the reply; nil echoes the request body.
	Handler RRPCHandler
}

// Config configures an Agent. Zero fields mean the documented defaults.
// NewAgent copies it.
type Config struct {
	// DeviceID is the client id and the user name on both servers, and the
	// {id} of the topic templates. Required.
	DeviceID string
	// RedirectServer is the URI of the redirect server, usually
	// ssl://host:8883. Required.
	RedirectServer string
	// DefaultDMSServer, if set, is used when no usable join-network message
	// comes within JoinNetworkWait. Without it, the wait fails with
	// ErrNoNetworkInfo and the flow starts again after a back-off.
	DefaultDMSServer string
	// AllowInsecureDMS lets the agent connect to a DMS server without TLS
	// (tcp://, ws://...) when the redirect server is reached over TLS
	// (ssl://, tls://, mqtts://, tcps://, wss://). Without it such a
	// join-network message fails the attempt with a *DowngradeError, and
	// such a DefaultDMSServer is a *ConfigError.
	AllowInsecureDMS bool

	// Password computes the password at every connect attempt; nil means
	// the default scheme, Password.
	Password PasswordFunc
	// Clock is the agent's time; nil means SystemClock.
	Clock Clock

	// ConnectTimeout bounds one connect attempt (dial, TLS, CONNACK).
	// Zero means DefaultConnectTimeout (30 s).
	ConnectTimeout time.Duration
	// SubscribeTimeout bounds each wait for a SUBACK of the flow, on the
	// agent's Clock; a timeout fails the attempt with a *TimeoutError.
	// Zero means DefaultSubscribeTimeout (10 s).
	SubscribeTimeout time.Duration
	// KeepAlive of both connections. Zero means DefaultKeepAlive (60 s).
	KeepAlive time.Duration
	// JoinNetworkWait is how long to wait for the join-network message.
	// Zero means DefaultJoinNetworkWait (30 s).
	JoinNetworkWait time.Duration
	// HeartbeatInterval is the period of the heartbeat. Zero means
	// DefaultHeartbeatInterval (30 s).
	HeartbeatInterval time.Duration
	// MaxHeartbeatFailures is how many heartbeats in a row may fail (no
	// PUBACK before the next one is due, or no connection) before the
	// agent gives up the DMS connection and starts the flow again. Zero
	// means DefaultMaxHeartbeatFailures (3).
	MaxHeartbeatFailures int
	// DrainTimeout bounds how long Stop waits (in real time, and within
	// Stop's context) for the device's own publishes still in flight
	// before the DISCONNECT. A heartbeat in flight is withdrawn, never
	// waited for. Zero means DefaultDrainTimeout (2 s).
	DrainTimeout time.Duration
	// OfflineBuffer is how many of the device's own publishes
	// (Agent.Publish) wait while the DMS connection is being made again,
	// to be sent after the reconnect. Zero means DefaultOfflineBuffer.
	OfflineBuffer int

	// Transport holds the options of transport.Dial for both servers: the
	// TLS configuration (transport.WithTLSConfig), a dialer...
	Transport []transport.Option
	// Registry is the scheme registry for both servers and for checking
	// the join-network URI; nil means transport.Default.
	Registry *transport.Registry

	// Topics are the topic templates; zero fields mean the defaults.
	Topics Topics
	// RedirectSubscriptions and DMSSubscriptions are the device's own
	// subscriptions, made in every attempt on the redirect and on the DMS
	// server with the flow's topics.
	RedirectSubscriptions []Subscription
	DMSSubscriptions      []Subscription
	// Status provides the heartbeat body; nil sends
	// {"deviceId":"<id>","time":<unix ms>}.
	Status StatusProvider

	// NetworkInfo reads the join-network payload; nil means the default
	// parser (ParseNetworkInfo with NetworkInfoKeys).
	NetworkInfo NetworkInfoParser
	// NetworkInfoKeys are the keys under which the default parser looks
	// for the DMS URI in a JSON object, in order; nil means
	// DefaultNetworkInfoKeys().
	NetworkInfoKeys []string

	// OnVerifyPassword and OnControlDevice receive the messages of the
	// verify_pwd and ctrlDevice topics, on both servers.
	OnVerifyPassword MessageHandler
	OnControlDevice  MessageHandler

	// RRPC, when set, answers RRPC requests on the DMS connection.
	RRPC *RRPCConfig

	// OnHeartbeatResult, if set, is called on the agent's goroutine once
	// for every heartbeat the agent tried to send, when its outcome is
	// known: nil when the server acknowledged it (PUBACK), otherwise an
	// error wrapping ErrHeartbeat (the status provider failed, no PUBACK
	// came before the next heartbeat was due, no connection). A heartbeat
	// cut off by a lost connection is reported as ErrHeartbeat wrapping
	// client.ErrConnectionLost. The heartbeat in flight when the agent
	// stops is not reported. It must not block for long.
	OnHeartbeatResult func(error)

	// OnTransition is called for every state transition, in order, on the
	// agent's goroutine. It must not block for long and must not call
	// Stop (it would wait for itself). Agent.Observe adds more observers.
	OnTransition func(Transition)

	// Backoff is the delay before the flow starts again after a failure,
	// attempt by attempt (reset once Online). Its Delay function is used
	// with the agent's Clock.
	Backoff client.Backoff
	// ReconnectBackoff is the back-off of the MQTT client's own automatic
	// reconnect to the DMS server (in real time).
	ReconnectBackoff client.Backoff

	// Logger receives the agent's records; nil discards them. With the
	// linnet_noslog build tag it discards everything.
	Logger *Logger
}

func (c *Config) validate() error {
	if c.DeviceID == "" {
		return &ConfigError{Field: "DeviceID", Reason: "required"}
	}
	if len(c.DeviceID) > 65535 || strings.ContainsAny(c.DeviceID, "/+#\x00") {
		return &ConfigError{Field: "DeviceID", Reason: "must fit in a client id and a topic level (no /, +, #, NUL)"}
	}
	if c.RedirectServer == "" {
		return &ConfigError{Field: "RedirectServer", Reason: "required"}
	}
	if err := c.validateURI(c.RedirectServer); err != nil {
		return &ConfigError{Field: "RedirectServer", Reason: "unusable URI", Err: err}
	}
	if c.DefaultDMSServer != "" {
		if err := c.validateURI(c.DefaultDMSServer); err != nil {
			return &ConfigError{Field: "DefaultDMSServer", Reason: "unusable URI", Err: err}
		}
		if err := c.checkDowngrade(c.DefaultDMSServer); err != nil {
			return &ConfigError{Field: "DefaultDMSServer", Reason: "no TLS", Err: err}
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", c.ConnectTimeout}, {"SubscribeTimeout", c.SubscribeTimeout}, {"KeepAlive", c.KeepAlive},
		{"JoinNetworkWait", c.JoinNetworkWait}, {"HeartbeatInterval", c.HeartbeatInterval},
		{"DrainTimeout", c.DrainTimeout}} {
		if d.v < 0 {
			return &ConfigError{Field: d.name, Reason: "negative duration"}
		}
	}
	if c.MaxHeartbeatFailures < 0 {
		return &ConfigError{Field: "MaxHeartbeatFailures", Reason: "negative"}
	}
	if c.OfflineBuffer < 0 {
		return &ConfigError{Field: "OfflineBuffer", Reason: "negative"}
	}
	t := c.Topics.For(c.DeviceID)
	if err := t.validate(); err != nil {
		return err
	}
	if err := validateSubscriptions("RedirectSubscriptions", c.DeviceID, c.RedirectSubscriptions,
		t.VerifyPassword, t.JoinNetwork, t.ControlDevice); err != nil {
		return err
	}
	dmsTaken := []string{t.VerifyPassword, t.ControlDevice}
	if r := c.RRPC; r != nil {
		dmsTaken = append(dmsTaken, RRPCRequestFilter(Device{r.ProductKey, r.DeviceName}))
	}
	if err := validateSubscriptions("DMSSubscriptions", c.DeviceID, c.DMSSubscriptions, dmsTaken...); err != nil {
		return err
	}
	for i, k := range c.NetworkInfoKeys {
		if k == "" {
			return &ConfigError{Field: "NetworkInfoKeys[" + itoa(i) + "]", Reason: "empty key"}
		}
	}
	if r := c.RRPC; r != nil {
		if err := validateRRPCNames(r.ProductKey, r.DeviceName); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateURI(uri string) error {
	if c.Registry != nil {
		return c.Registry.Validate(uri)
	}
	return transport.Validate(uri)
}

// tlsSchemes are the schemes of the built-in registry that run over TLS.
var tlsSchemes = [...]string{"ssl", "tls", "mqtts", "tcps", "wss"}

// overTLS reports whether uri's scheme is one of tlsSchemes, or the scheme
// of secureAs (a custom scheme of the redirect server counts as secure for
// the DMS server too).
func overTLS(uri, secureAs string) bool {
	scheme := uriScheme(uri)
	for _, s := range tlsSchemes {
		if scheme == s {
			return true
		}
	}
	return secureAs != "" && scheme == uriScheme(secureAs)
}

func uriScheme(uri string) string {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return ""
	}
	return strings.ToLower(scheme)
}

// checkDowngrade returns a *DowngradeError when dms has no TLS, the
// redirect server has, and the configuration does not allow it.
func (c *Config) checkDowngrade(dms string) error {
	if c.AllowInsecureDMS || !overTLS(c.RedirectServer, "") || overTLS(dms, c.RedirectServer) {
		return nil
	}
	return &DowngradeError{Redirect: c.RedirectServer, DMS: dms}
}

func (c *Config) withDefaults() {
	if c.Password == nil {
		c.Password = Password
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.SubscribeTimeout, DefaultSubscribeTimeout)
	def(&c.KeepAlive, DefaultKeepAlive)
	def(&c.JoinNetworkWait, DefaultJoinNetworkWait)
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.DrainTimeout, DefaultDrainTimeout)
	if c.MaxHeartbeatFailures == 0 {
		c.MaxHeartbeatFailures = DefaultMaxHeartbeatFailures
	}
	if c.OfflineBuffer == 0 {
		c.OfflineBuffer = DefaultOfflineBuffer
	}
	c.Topics = c.Topics.withDefaults()
	if c.Logger == nil {
		c.Logger = discardLogger()
	}
	if c.Status == nil {
		id, clk := c.DeviceID, c.Clock
		c.Status = func(context.Context) ([]byte, error) {
			return DefaultStatus(id, clk.Now()), nil
		}
	}
	if c.NetworkInfoKeys == nil {
		c.NetworkInfoKeys = DefaultNetworkInfoKeys()
	} else {
		c.NetworkInfoKeys = append([]string(nil), c.NetworkInfoKeys...)
	}
	c.Transport = append([]transport.Option(nil), c.Transport...)
	c.RedirectSubscriptions = append([]Subscription(nil), c.RedirectSubscriptions...)
	c.DMSSubscriptions = append([]Subscription(nil), c.DMSSubscriptions...)
	if c.RRPC != nil {
		r := *c.RRPC
		c.RRPC = &r
	}
}

// DefaultStatus is the heartbeat body of an agent without a
// Config.Status: {"deviceId":"<id>","time":<unix ms>}.
func DefaultStatus(deviceID string, now time.Time) []byte {
	b := make([]byte, 0, 32+len(deviceID))
	b = append(b, `{"deviceId":`...)
	b = appendJSONString(b, deviceID)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	return append(b, '}')
}

func itoa(i int) string { return strconv.Itoa(i) }
