package dms

import (
	"context"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// onlineClient returns the DMS client when the agent may publish on it:
// Online, or ReconnectingDMS (the client's offline buffer keeps the
// message for the reconnect). Otherwise a *StateError.
func (a *Agent) onlineClient() (*client.Client, error) {
	a.mu.Lock()
	c := a.online
	a.mu.Unlock()
	s := a.State()
	if c == nil || (s != StateOnline && s != StateReconnectingDMS) {
		return nil, &StateError{State: s}
	}
	return c, nil
}

// PublishAsync publishes a message of the device's own on its DMS
// connection and returns its token at once (it completes at the final ack
// of its QoS). It works in StateOnline and, queued in the client's offline
// buffer (Config.OfflineBuffer), in StateReconnectingDMS; in any other
// state it returns a *StateError (ErrNotOnline) and no token. If the agent
// leaves the DMS server (HeartbeatFailed, ConnectionFailed) before the
// message went out, the token fails with client.ErrClosed: the message is
// not carried over to the next attempt. Stop waits for these publishes at
// most Config.DrainTimeout. It does not block, so a MessageHandler may
// call it to reply. The payload must not be modified until the token
// completes.
func (a *Agent) PublishAsync(topic string, qos packet.QoS, retain bool, payload []byte) (*client.Token, error) {
	c, err := a.onlineClient()
	if err != nil {
		return nil, err
	}
	t := c.PublishAsync(topic, qos, retain, payload)
	a.mu.Lock()
	if len(a.own) >= 64 {
		for old := range a.own {
			select {
			case <-old.Done():
				delete(a.own, old)
			default:
			}
		}
	}
	a.own[t] = struct{}{}
	a.mu.Unlock()
	return t, nil
}

// Publish is PublishAsync followed by a wait for the token within ctx: it
// returns nil once the message is written (QoS 0) or acknowledged (QoS 1,
// 2). When ctx ends first it returns ctx's error; the message may still go
// out. It waits on the MQTT client's acknowledgement, so a MessageHandler
// (on the client's dispatcher) should use PublishAsync instead.
func (a *Agent) Publish(ctx context.Context, topic string, qos packet.QoS, retain bool, payload []byte) error {
	t, err := a.PublishAsync(topic, qos, retain, payload)
	if err != nil {
		return err
	}
	err = t.Wait(ctx)
	a.mu.Lock()
	delete(a.own, t)
	a.mu.Unlock()
	return err
}

// Subscribe subscribes the device to subs on its current DMS connection
// and routes their messages to h, in StateOnline only (otherwise a
// *StateError). It returns the SUBACK's code for each filter, as
// client.Client.Subscribe does. The subscription lasts as long as the DMS
// connection, automatic reconnects included; a new attempt of the flow
// (after HeartbeatFailed or ConnectionFailed) does not make it again: put
// the subscriptions the device always needs in Config.DMSSubscriptions.
func (a *Agent) Subscribe(ctx context.Context, h MessageHandler, subs ...client.Subscription) ([]packet.SubackCode, error) {
	c, err := a.onlineClient()
	if err != nil {
		return nil, err
	}
	if s := a.State(); s != StateOnline {
		return nil, &StateError{State: s}
	}
	var ch client.Handler
	if h != nil {
		ch = messageHandler(h)
	}
	return c.Subscribe(ctx, ch, subs...)
}
