package dms

import (
	"context"
	"strings"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// Device names a device on the RRPC topics: /sys/<ProductKey>/<DeviceName>/...
type Device struct {
	ProductKey string
	DeviceName string
}

func (d Device) String() string { return d.ProductKey + "/" + d.DeviceName }

// RRPCRequestFilter returns the filter a device subscribes to for RRPC
// requests: /sys/<productKey>/<deviceName>/rrpc/request/+.
func RRPCRequestFilter(d Device) string {
	return "/sys/" + d.ProductKey + "/" + d.DeviceName + "/rrpc/request/+"
}

// RRPCRequestTopic returns the topic of one request.
func RRPCRequestTopic(d Device, messageID string) string {
	return "/sys/" + d.ProductKey + "/" + d.DeviceName + "/rrpc/request/" + messageID
}

// RRPCResponseTopic returns the topic of the reply to one request:
// /sys/<productKey>/<deviceName>/rrpc/response/<messageId>.
func RRPCResponseTopic(d Device, messageID string) string {
	return "/sys/" + d.ProductKey + "/" + d.DeviceName + "/rrpc/response/" + messageID
}

// RRPCResponseFilter is the one filter a prober subscribes to for the replies
// of every device.
const RRPCResponseFilter = "/sys/+/+/rrpc/response/+"

// parseRRPCTopic splits /sys/<pk>/<dn>/rrpc/<kind>/<id>.
func parseRRPCTopic(topic, kind string) (Device, string, bool) {
	parts := strings.Split(topic, "/")
	if len(parts) != 7 || parts[0] != "" || parts[1] != "sys" || parts[4] != "rrpc" || parts[5] != kind ||
		parts[2] == "" || parts[3] == "" || parts[6] == "" {
		return Device{}, "", false
	}
	return Device{ProductKey: parts[2], DeviceName: parts[3]}, parts[6], true
}

func validateRRPCNames(productKey, deviceName string) error {
	for _, f := range []struct{ name, v string }{{"ProductKey", productKey}, {"DeviceName", deviceName}} {
		if f.v == "" {
			return &ConfigError{Field: "RRPC." + f.name, Reason: "required"}
		}
		if strings.ContainsAny(f.v, "/+#\x00") {
			return &ConfigError{Field: "RRPC." + f.name, Reason: "must be one topic level (no /, +, #, NUL)"}
		}
	}
	return packet.ValidateTopicFilter(RRPCRequestFilter(Device{productKey, deviceName}))
}

// RRPCRequest is one RRPC request received by a device.
type RRPCRequest struct {
	Device    Device
	MessageID string // the last level of the request topic
	Topic     string
	Payload   []byte
}

// RRPCHandler computes the reply to a request. It runs on the dispatcher
// goroutine of the MQTT client. An error sends no reply (the caller times
// out) and is logged.
type RRPCHandler func(req *RRPCRequest) ([]byte, error)

// EchoRRPC is the default handler: the reply is the request body.
func EchoRRPC(req *RRPCRequest) ([]byte, error) { return req.Payload, nil }

// ServeRRPC makes c answer the RRPC requests of device d: it subscribes to
// RRPCRequestFilter(d) at QoS 1 (QoS 0 requests arrive as QoS 0) and, for
// every request, publishes h's reply to RRPCResponseTopic at QoS 0. A nil h
// echoes the request. It returns once the subscription is acknowledged; the
// responder then lives as long as the subscription (c re-makes it after a
// reconnect). logger may be nil.
func ServeRRPC(ctx context.Context, c *client.Client, d Device, h RRPCHandler, logger *Logger) error {
	if err := validateRRPCNames(d.ProductKey, d.DeviceName); err != nil {
		return err
	}
	if h == nil {
		h = EchoRRPC
	}
	if logger == nil {
		logger = discardLogger()
	}
	filter := RRPCRequestFilter(d)
	codes, err := c.Subscribe(ctx, func(m *client.Message) {
		dev, id, ok := parseRRPCTopic(m.Topic, "request")
		if !ok {
			logger.Warn("dms: RRPC request on an unexpected topic", "topic", m.Topic)
			return
		}
		req := &RRPCRequest{Device: dev, MessageID: id, Topic: m.Topic, Payload: m.Payload}
		reply, err := h(req)
		if err != nil {
			logger.Warn("dms: RRPC handler failed, no reply", "topic", m.Topic, "err", err)
			return
		}
		// Asynchronous: a handler must not wait on the client's own
		// dispatcher. A QoS 0 reply has nothing to wait for anyway.
		tok := c.PublishAsync(RRPCResponseTopic(dev, id), packet.QoS0, false, reply)
		select {
		case <-tok.Done():
			if err := tok.Err(); err != nil {
				logger.Warn("dms: RRPC reply not sent", "topic", m.Topic, "err", err)
			}
		default:
		}
	}, client.Subscription{Filter: filter, QoS: packet.QoS1})
	if err != nil {
		return err
	}
	return checkSuback(codes, []string{filter})
}

// checkSuback turns a refused filter into a *SubscribeError.
func checkSuback(codes []packet.SubackCode, filters []string) error {
	for i, c := range codes {
		if c.Failed() && i < len(filters) {
			return &SubscribeError{Filter: filters[i]}
		}
	}
	return nil
}
