package client

import "context"

// Disconnect ends the connection gracefully: it stops taking new work (a
// publish, subscribe or unsubscribe made while it runs fails with
// ErrNotConnected), waits within ctx for the messages in flight to
// complete, sends DISCONNECT
// [MQTT-3.14.4-1] and closes the connection. When ctx ends first, it sends
// DISCONNECT anyway (if connected) and returns ctx's error. Messages still
// in flight then fail with ErrClosed under a clean session; with
// Options.PersistentSession they stay in the session and its store, and
// are sent again by the next Connect (or by the next process, with a file
// store), their tokens still pending.
//
// The client may Connect again afterwards; Close is final. Disconnect
// while not connected does nothing and returns nil. Handlers still running
// finish on the dispatcher; Disconnect does not wait for them, so it may
// be called from a handler.
func (c *Client) Disconnect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.running {
		c.mu.Unlock()
		return nil
	}
	quit, loopDone := c.quit, c.loopDone
	done := make(chan struct{})
	if c.disconnecting {
		// Another Disconnect runs: wait for the same end.
		c.mu.Unlock()
		select {
		case <-loopDone:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	c.disconnecting = true
	c.postLocked(request{kind: reqDisconnect, ctx: ctx, done: done})
	c.mu.Unlock()
	select {
	case <-done:
	case <-loopDone:
	case <-ctx.Done():
		// A connected state owner sends DISCONNECT as soon as it sees
		// the context end; one that is dialling or backing off is
		// stopped.
		if c.IsConnected() {
			select {
			case <-done:
			case <-loopDone:
			}
		}
	}
	c.stopLoopOf(quit) // not one a later Connect started
	return ctx.Err()
}

// Close drops the connection at once, without DISCONNECT (the server
// publishes the will), fails every pending token with ErrClosed, stops the
// client's goroutines and closes the store. It is safe to call more than
// once and from a handler. The client cannot be used after Close.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed && c.own.store == nil {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.stopLoop()
	c.staging.Lock() // no PublishAsync between its Stage and its hand-over
	defer c.staging.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.own.store == nil {
		return nil
	}
	for _, out := range c.own.sess.Outstanding() {
		if tok, _ := out.Tag.(*Token); tok != nil {
			tok.complete(ErrClosed)
		}
	}
	for _, r := range c.reqs {
		r.fail(ErrClosed)
	}
	c.reqs = nil
	if err := c.own.store.Close(); err != nil {
		c.log.Warn("mqtt: closing the persistence store", "err", err)
	}
	c.own.store = nil
	if d := c.disp; d != nil {
		c.mu.Unlock() // the dispatcher's lock is never taken inside mu
		d.stop()
		c.mu.Lock()
	}
	return nil
}

// stopLoop makes the state owner end, if it runs, and waits for it.
func (c *Client) stopLoop() { c.stopLoopOf(nil) }

// stopLoopOf is stopLoop for the state owner whose quit channel is quit
// (nil: whichever runs); it does nothing when another one runs now.
func (c *Client) stopLoopOf(which chan struct{}) {
	c.mu.Lock()
	running, quit, loopDone, cancel, nc := c.running, c.quit, c.loopDone, c.cancel, c.netConn
	if which != nil && which != quit {
		running = false
	}
	if running {
		select {
		case <-quit:
		default:
			close(quit)
		}
		select { // the connected state owner waits on wake alone
		case c.wake <- struct{}{}:
		default:
		}
		if cancel != nil {
			cancel()
		}
		if nc != nil {
			_ = nc.Close()
		}
	}
	c.mu.Unlock()
	if running {
		<-loopDone
	}
}
