package dms

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// Defaults of the original device code, used for zero fields of Config.
const (
	DefaultConnectTimeout       = 30 * time.Second
	DefaultKeepAlive            = 60 * time.Second
	DefaultJoinNetworkWait      = 30 * time.Second
	DefaultHeartbeatInterval    = 30 * time.Second
	DefaultMaxHeartbeatFailures = 3
)

// Default topic templates; "{id}" stands for the device id.
const (
	DefaultVerifyPasswordTopic = "/elogger/{id}/verify_pwd"
	DefaultJoinNetworkTopic    = "/elogger/{id}/join_network"
	DefaultControlDeviceTopic  = "/elogger/{id}/ctrlDevice"
	DefaultHeartbeatTopic      = "/monitor/report/Sync_MainDeviceInfo"
)

// Topics are the topic templates of the flow. "{id}" in a template is
// replaced by the device id. Empty fields mean the defaults.
type Topics struct {
	VerifyPassword string // /elogger/{id}/verify_pwd
	JoinNetwork    string // /elogger/{id}/join_network
	ControlDevice  string // /elogger/{id}/ctrlDevice
	Heartbeat      string // /monitor/report/Sync_MainDeviceInfo
}

func (t Topics) withDefaults() Topics {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&t.VerifyPassword, DefaultVerifyPasswordTopic)
	def(&t.JoinNetwork, DefaultJoinNetworkTopic)
	def(&t.ControlDevice, DefaultControlDeviceTopic)
	def(&t.Heartbeat, DefaultHeartbeatTopic)
	return t
}

// For returns the topics of deviceID, defaults filled in.
func (t Topics) For(deviceID string) Topics {
	t = t.withDefaults()
	r := func(s string) string { return strings.ReplaceAll(s, "{id}", deviceID) }
	return Topics{VerifyPassword: r(t.VerifyPassword), JoinNetwork: r(t.JoinNetwork),
		ControlDevice: r(t.ControlDevice), Heartbeat: r(t.Heartbeat)}
}

func (t Topics) validate() error {
	for _, f := range []struct{ name, v string }{{"Topics.VerifyPassword", t.VerifyPassword},
		{"Topics.JoinNetwork", t.JoinNetwork}, {"Topics.ControlDevice", t.ControlDevice},
		{"Topics.Heartbeat", t.Heartbeat}} {
		if err := packet.ValidateTopicName(f.v); err != nil {
			return &ConfigError{Field: f.name, Reason: "not a valid topic name", Err: err}
		}
	}
	return nil
}

// StatusProvider returns the body of a heartbeat: the device status as JSON.
// It is called on the agent's goroutine before every heartbeat; ctx ends when
// the agent stops.
type StatusProvider func(ctx context.Context) ([]byte, error)

// MessageHandler receives a message of a control topic (verify_pwd,
// ctrlDevice) with its topic and payload. It runs on the dispatcher goroutine
// of the MQTT client; the payload belongs to it.
type MessageHandler func(topic string, payload []byte)

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
	// DefaultDMSServer, if set, is used when no join-network message comes
	// within JoinNetworkWait. Without it, the wait fails with
	// ErrNoNetworkInfo and the flow starts again after a back-off.
	DefaultDMSServer string

	// Password computes the password at every connect attempt; nil means
	// the default scheme, Password.
	Password PasswordFunc
	// Clock is the agent's time; nil means SystemClock.
	Clock Clock

	// ConnectTimeout bounds one connect attempt (dial, TLS, CONNACK).
	// Zero means DefaultConnectTimeout (30 s).
	ConnectTimeout time.Duration
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

	// Transport holds the options of transport.Dial for both servers: the
	// TLS configuration (transport.WithTLSConfig), a dialer...
	Transport []transport.Option
	// Registry is the scheme registry for both servers and for checking
	// the join-network URI; nil means transport.Default.
	Registry *transport.Registry

	// Topics are the topic templates; zero fields mean the defaults.
	Topics Topics
	// Status provides the heartbeat body; nil sends
	// {"deviceId":"<id>","time":<unix ms>}.
	Status StatusProvider

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

	// Logger receives the agent's records; nil discards them.
	Logger *slog.Logger
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
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", c.ConnectTimeout}, {"KeepAlive", c.KeepAlive},
		{"JoinNetworkWait", c.JoinNetworkWait}, {"HeartbeatInterval", c.HeartbeatInterval}} {
		if d.v < 0 {
			return &ConfigError{Field: d.name, Reason: "negative duration"}
		}
	}
	if c.MaxHeartbeatFailures < 0 {
		return &ConfigError{Field: "MaxHeartbeatFailures", Reason: "negative"}
	}
	if err := c.Topics.For(c.DeviceID).validate(); err != nil {
		return err
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

func (c *Config) withDefaults() {
	if c.Password == nil {
		c.Password = Password
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.JoinNetworkWait == 0 {
		c.JoinNetworkWait = DefaultJoinNetworkWait
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxHeartbeatFailures == 0 {
		c.MaxHeartbeatFailures = DefaultMaxHeartbeatFailures
	}
	c.Topics = c.Topics.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Status == nil {
		id, clk := c.DeviceID, c.Clock
		c.Status = func(context.Context) ([]byte, error) {
			return json.Marshal(struct {
				DeviceID string `json:"deviceId"`
				Time     int64  `json:"time"`
			}{id, clk.Now().UnixMilli()})
		}
	}
	c.Transport = append([]transport.Option(nil), c.Transport...)
	if c.RRPC != nil {
		r := *c.RRPC
		c.RRPC = &r
	}
}
