package client

import (
	"context"
	"errors"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// Connecting and reconnecting: the state owner's rounds over the server
// list, the back-off between them, and the start of the session on a new
// connection.

// connectFirst makes the first connection, retrying with back-off while
// ConnectRetry is set and ctx lasts.
func (m *comms) connectFirst(ctx context.Context) error {
	for {
		err := m.connectAbortable(ctx)
		if err == nil {
			return nil
		}
		if m.quitting() {
			return ErrClosed
		}
		if !m.c.opts.ConnectRetry || ctx.Err() != nil {
			return err
		}
		m.failures++
		if err := m.backOff(ctx, m.failures, err); err != nil {
			return err
		}
	}
}

// reconnectLoop connects again after a loss: at once after a connection
// that proved itself, else after the back-off of the failures so far, and
// after the back-off of each failed round. It returns false when the state
// owner must end (Close, Disconnect).
func (m *comms) reconnectLoop(cause error) bool {
	for {
		if m.failures > 0 {
			if m.backOff(nil, m.failures, cause) != nil {
				return false
			}
		}
		err := m.connectAbortable(context.Background())
		if err == nil {
			return true
		}
		if m.quitting() {
			return false
		}
		m.failures++
		cause = err
	}
}

// connectAbortable is a connectRound within ctx that Close aborts: its
// cancel function is the client's while it runs (a context made per
// attempt, not one per client that every attempt hangs on: a context
// remembers its children in a map that never shrinks).
func (m *comms) connectAbortable(ctx context.Context) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := m.c
	c.mu.Lock()
	if m.quitting() {
		c.mu.Unlock()
		return ErrClosed
	}
	c.cancel = cancel // stopLoop calls it after closing quit, under mu
	c.mu.Unlock()
	err := m.connectRound(cctx)
	c.mu.Lock()
	c.cancel = nil
	c.mu.Unlock()
	return err
}

// backOff waits before the next connect attempt (the attempt-th failure in
// a row, err). It returns nil to go on, or the error to end with: ctx's
// (nil after the first connect) when it ends, ErrClosed.
func (m *comms) backOff(ctx context.Context, attempt int, err error) error {
	m.c.log.Warn("mqtt: connect failed", "err", err, "attempt", attempt)
	delay := m.c.opts.Backoff.next(attempt - 1)
	if f := m.c.opts.OnReconnecting; f != nil {
		m.emit(event{cb: func() { f(attempt, delay) }})
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	if m.wait(delay, ctxDone) {
		return nil
	}
	if ctx != nil && ctx.Err() != nil {
		return errors.Join(context.Cause(ctx), err)
	}
	return ErrClosed
}

// wait sleeps for d while serving requests in the disconnected state. It
// returns false when the state owner must end (Close, Disconnect, ctxDone).
func (m *comms) wait(d time.Duration, ctxDone <-chan struct{}) bool {
	until := time.Now().Add(d)
	m.timer.Reset(d)
	defer m.timer.Stop()
	for {
		var room chan struct{}
		if len(m.events) > 0 {
			room = m.disp.room
		}
		select {
		case <-m.quit:
			return false
		case <-ctxDone:
			return false
		case <-m.c.wake:
			// A timer that went off for an earlier deadline, just as it
			// was reset, is not this one.
			expired := m.fired.Swap(false) && !time.Now().Before(until)
			_ = m.handleRequests(time.Now()) // no connection: no keep-alive to fail
			if m.disc != nil {
				m.finishDisconnect()
				return false
			}
			if expired {
				return true
			}
		case <-room:
			m.pushEvents()
		case r := <-m.syncc:
			_ = m.syncDone(r) // an error shows again at the next sync
		}
	}
}

// connectRound tries every server in order; nil means connected.
func (m *comms) connectRound(ctx context.Context) error {
	var errs []error
	for _, server := range m.c.opts.Servers {
		err := m.connectServer(ctx, server)
		if err == nil {
			return nil
		}
		m.c.log.Debug("mqtt: server did not accept", "server", transport.Redact(server), "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil || m.quitting() {
			break
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// connectServer connects to one server, falling back from 3.1.1 to 3.1 in
// automatic mode when the server refuses the level or closes without a
// CONNACK.
func (m *comms) connectServer(ctx context.Context, server string) error {
	m.c.mu.Lock()
	v := m.c.version
	m.c.mu.Unlock()
	if v != VersionAuto {
		return m.attempt(ctx, server, v)
	}
	err := m.attempt(ctx, server, Version311)
	if err == nil {
		m.setVersion(Version311)
		return nil
	}
	if !errors.Is(err, &ConnectError{Code: packet.RefusedProtocolVersion}) && !errors.Is(err, ErrNoCONNACK) {
		return err
	}
	if ctx.Err() != nil || m.quitting() {
		return err
	}
	m.c.log.Debug("mqtt: falling back to MQTT 3.1", "server", transport.Redact(server), "err", err)
	if err31 := m.attempt(ctx, server, Version31); err31 != nil {
		return errors.Join(err, err31)
	}
	m.setVersion(Version31)
	return nil
}

func (m *comms) setVersion(v Version) {
	m.c.mu.Lock()
	m.c.version = v
	m.c.mu.Unlock()
}

// attempt dials one server with one version and, when a CONNACK accepts,
// starts the session on the new connection.
func (m *comms) attempt(ctx context.Context, server string, v Version) error {
	cn, err := m.dial(ctx, server, v)
	if err != nil {
		return err
	}
	m.cn, m.server = cn, cn.server
	m.cur, m.curPos = nil, 0
	m.established()
	return nil
}

// established starts the session on a new connection.
func (m *comms) established() {
	now := time.Now()
	o := &m.c.opts
	cn := m.cn
	if err := m.own.sess.OnConnack(now, cn.sessionPresent, !o.PersistentSession); err != nil {
		m.c.log.Warn("mqtt: clearing the stored session", "err", err)
	}
	_ = m.drainEvents(nil) // what a clean session discarded fails now, with this server's name
	m.c.mu.Lock()
	m.c.online = true
	m.c.mu.Unlock()
	if !cn.sessionPresent && !o.NoResubscribe && len(m.own.subs) > 0 {
		subs := append([]Subscription(nil), m.own.subs...)
		if _, err := m.own.sess.Subscribe(now, subs, &ctlOp{subs: subs}); err != nil {
			m.c.log.Warn("mqtt: re-subscribing", "err", err)
		}
	}
	if f := o.OnConnect; f != nil {
		info := ConnectInfo{Server: cn.server, SessionPresent: cn.sessionPresent, Reconnect: m.reconnect, Version: cn.version}
		m.emit(event{cb: func() { f(info) }})
	}
	m.c.log.Debug("mqtt: connected", "server", cn.server, "session_present", cn.sessionPresent, "version", cn.version)
}
