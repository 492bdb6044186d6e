package dms

import (
	"context"
	"errors"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
)

var errNoPuback = errors.New("no PUBACK within the heartbeat interval")

// heartbeat sends the device status at once and then every
// HeartbeatInterval until MaxHeartbeatFailures heartbeats in a row failed
// or ctx ends. It follows the client's automatic reconnects: a lost
// connection moves to ReconnectingDMS, the reconnect back to Online with a
// heartbeat at once.
func (a *Agent) heartbeat(ctx context.Context, cn *conn) Event {
	tick := a.cfg.Clock.NewTicker(a.cfg.HeartbeatInterval)
	defer tick.Stop()
	var (
		pending  *client.Token
		failures int
		lastErr  error
	)
	report := func(err error) {
		if f := a.cfg.OnHeartbeatResult; f != nil {
			f(err)
		}
	}
	fail := func(err error) {
		failures++
		lastErr = &heartbeatError{err}
		a.log.Warn("dms: heartbeat failed", "device", a.cfg.DeviceID, "failures", failures, "err", err)
		report(lastErr)
	}
	send := func() {
		body, err := a.cfg.Status(ctx)
		if err != nil {
			fail(errwrap.Wrap("status provider", err))
			return
		}
		if err := checkJSON(body); err != nil {
			fail(errwrap.Wrap("status provider returned invalid JSON", err))
			return
		}
		pending = cn.c.PublishAsync(a.topics.Heartbeat, packet.QoS1, false, body)
	}
	send()
	for failures < a.cfg.MaxHeartbeatFailures {
		var acked <-chan struct{}
		if pending != nil {
			acked = pending.Done()
		}
		select {
		case <-ctx.Done():
			return Event{}
		case <-acked:
			err := pending.Err()
			pending = nil
			switch {
			case err == nil:
				failures, lastErr = 0, nil
				report(nil)
			case errors.Is(err, client.ErrConnectionLost):
				// The loss itself arrives as an event; the reconnect
				// decides what happens next.
				report(&heartbeatError{err})
			default:
				fail(err)
			}
		case <-tick.C():
			if a.State() == StateReconnectingDMS {
				fail(client.ErrNotConnected)
				continue
			}
			if pending != nil {
				pending = nil
				fail(errNoPuback)
				if failures >= a.cfg.MaxHeartbeatFailures {
					continue
				}
			}
			send()
		case ev := <-cn.events:
			switch {
			case ev.lost != nil:
				a.fire(Event{Kind: EventConnectionLost, Server: cn.server, Err: ev.lost})
			case ev.up && ev.reconnect && a.State() == StateReconnectingDMS:
				a.fire(Event{Kind: EventDMSConnected, Server: cn.server})
				if pending != nil {
					report(&heartbeatError{client.ErrConnectionLost})
					pending = nil
				}
				send()
			}
		}
	}
	return Event{Kind: EventHeartbeatFailed, Server: cn.server,
		Err: &PhaseError{Phase: PhaseHeartbeat, Server: cn.server, Err: lastErr}}
}
