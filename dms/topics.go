package dms

import (
	"strings"

	"github.com/linnet-mqtt/linnet/packet"
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
	r := func(s string) string { return expandID(s, deviceID) }
	return Topics{VerifyPassword: r(t.VerifyPassword), JoinNetwork: r(t.JoinNetwork),
		ControlDevice: r(t.ControlDevice), Heartbeat: r(t.Heartbeat)}
}

func expandID(template, deviceID string) string {
	return strings.ReplaceAll(template, "{id}", deviceID)
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

// Subscription is a subscription of the device's own, made in one phase of
// every attempt together with the flow's topics (Config.RedirectSubscriptions,
// Config.DMSSubscriptions): in the same SUBSCRIBE, with the same bounded wait
// for its SUBACK, and a refusal fails the attempt like one of the flow's.
type Subscription struct {
	// Filter is the topic filter; "{id}" is replaced by the device id.
	Filter string
	// QoS is the maximum QoS asked for.
	QoS packet.QoS
	// Handler receives the messages that match Filter, on the MQTT
	// client's dispatcher goroutine. Required.
	Handler MessageHandler
}

// validateSubscriptions checks the device's own subscriptions of a phase;
// taken lists the flow's filters of that phase, which they must not repeat.
func validateSubscriptions(field, deviceID string, subs []Subscription, taken ...string) error {
	for i, s := range subs {
		name := field + "[" + itoa(i) + "]"
		f := expandID(s.Filter, deviceID)
		if err := packet.ValidateTopicFilter(f); err != nil {
			return &ConfigError{Field: name + ".Filter", Reason: "not a valid topic filter", Err: err}
		}
		for _, t := range taken {
			if f == t {
				return &ConfigError{Field: name + ".Filter", Reason: "one of the flow's own topics: " + t}
			}
		}
		if !s.QoS.Valid() {
			return &ConfigError{Field: name + ".QoS", Reason: "not 0, 1 or 2", Err: packet.ErrInvalidQoS}
		}
		if s.Handler == nil {
			return &ConfigError{Field: name + ".Handler", Reason: "required"}
		}
	}
	return nil
}
