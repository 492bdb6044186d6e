package client

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/session"
)

// TestCoalescer checks when the reader pauses before reading: a
// request-response exchange with round trips of 80 us or more never turns
// it on; a stream of small batches does once it brings coalesceRate packets
// within coalesceWindow; it stays on while each pause gathers at least
// coalesceDense packets; a sparse pause turns it off with a backoff that
// doubles up to coalesceMaxBackoff; a read that waits while on turns it off
// without one; large batches do not count.
func TestCoalescer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }

	// A round trip every 80 us, its two packets (PUBLISH, PUBACK) in
	// batches of their own 5 us apart, each read waiting for its data.
	var c coalescer
	at := t0
	for range 10000 {
		c.note(at, us(70), 1, false, false)
		c.note(at.Add(us(5)), us(5), 1, false, false)
		at = at.Add(us(80))
		require.False(t, c.on, "a request-response exchange turned it on")
	}

	// A stream: two packets every 50 us (40 a millisecond).
	c = coalescer{}
	at = t0
	for i := 0; !c.on; i++ {
		require.Less(t, i, coalesceRate, "a stream of 40 packets a millisecond did not turn it on")
		c.note(at, us(40), 2, false, false)
		at = at.Add(us(50))
	}
	require.Equal(t, t0.Add(us(50*(coalesceRate/2-1))), at.Add(-us(50)), "on at the batch that reached the rate")
	// Pauses that gather enough keep it on.
	for range 10 {
		at = at.Add(coalesceWait)
		c.note(at, 0, coalesceDense, true, false)
		require.True(t, c.on)
	}
	// A read that waited, while on, ends it without a backoff: the same
	// stream turns it on again at once.
	c.note(at, coalesceBlocked, 1, false, false)
	require.False(t, c.on, "a read that waited for its data")
	require.True(t, c.notBefore.Before(at))
	for !c.on {
		at = at.Add(us(50))
		c.note(at, us(40), 2, false, false)
	}

	// A sparse pause ends it, and the stream may not turn it on again
	// before the backoff has passed; the backoff doubles at each failure
	// up to coalesceMaxBackoff, and a good pause resets it.
	want := coalesceBackoff
	for range 10 {
		require.True(t, c.on)
		at = at.Add(coalesceWait)
		c.note(at, 0, coalesceDense-1, true, false)
		require.False(t, c.on, "a sparse pause")
		require.Equal(t, want, c.backoff)
		off := at
		for !c.on {
			at = at.Add(us(50))
			c.note(at, us(40), 2, false, false)
		}
		require.False(t, at.Before(off.Add(want)), "on again %v after a sparse pause, backoff %v", at.Sub(off), want)
		require.Less(t, at.Sub(off), want+coalesceWindow)
		want = min(2*want, coalesceMaxBackoff)
	}
	require.Equal(t, coalesceMaxBackoff, c.backoff)
	at = at.Add(coalesceWait)
	c.note(at, 0, coalesceDense, true, false)
	require.Zero(t, c.backoff, "a good pause resets the backoff")

	// Large batches (the reader is behind) do not count towards it.
	c = coalescer{}
	for range 10 * coalesceRate {
		c.note(at, 0, maxBatch/2, false, false)
		at = at.Add(us(10))
	}
	require.False(t, c.on)
}

// TestCoalescerFastExchange runs a request-response exchange too fast for
// the rate test (two packets per 40 us round trip) for ten simulated
// seconds: each pause it makes finds nothing, the backoff grows, and
// fewer than one round trip in a thousand meets a pause.
func TestCoalescerFastExchange(t *testing.T) {
	var c coalescer
	at := time.Unix(1000, 0)
	rtt := 40 * time.Microsecond
	pauses, trips := 0, 0
	paused := false
	for end := at.Add(10 * time.Second); at.Before(end); trips++ {
		if paused {
			// Nothing came: the answer waits for the request, which
			// waits for the packet the pause held back.
			at = at.Add(coalesceWait)
			pauses++
		}
		c.note(at, rtt, 1, paused, false)
		paused = false
		c.note(at.Add(rtt/8), rtt/8, 1, false, false)
		paused = c.on
		at = at.Add(rtt)
	}
	require.Less(t, pauses*1000, trips, "%d pauses in %d round trips", pauses, trips)
}

// TestReaderPausesUnderStream runs the reader on a stream of QoS 0
// messages written one at a time (in the bubble no time passes between
// them, the densest stream there is): every message arrives, in order, and
// the reader paused on the way (the bubble's clock moved by whole
// coalesceWaits); a lone message after the stream still comes at once.
func TestReaderPausesUnderStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		got := make(chan string, 200)
		c := fakeClient(t, fb, func(o *Options) {
			o.Pacing = ThroughputPacing()
			o.DefaultHandler = func(m *Message) { got <- string(m.Payload) }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		start := time.Now()
		const n = 100
		for i := range n {
			sc.WritePacket(t, &packet.Publish{Topic: "s", Payload: []byte(strconv.Itoa(i))})
		}
		for i := range n {
			require.Equal(t, strconv.Itoa(i), <-got)
		}
		paused := time.Since(start)
		require.NotZero(t, paused, "the reader never paused")
		require.Zero(t, paused%coalesceWait, "the clock moved by %v", paused)

		time.Sleep(time.Second) // the stream has ended
		start = time.Now()
		sc.WritePacket(t, &packet.Publish{Topic: "s", Payload: []byte("alone")})
		require.Equal(t, "alone", <-got)
		require.Zero(t, time.Since(start), "a message after a pause waited")
		require.NoError(t, c.Close())
	})
}

// TestHeldWrites checks when the loop holds a write back: not while fewer
// than holdBacklog publishes are in flight (each PUBLISH goes out with no
// time passing), then for holdFor at most (the timer sends it with nothing
// else happening), never for QoS 0 or anything but PUBLISH and its
// acknowledgements, and not at all once the backlog has been acknowledged.
func TestHeldWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.MaxInFlight, o.Pacing = 100, ThroughputPacing() })
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		var toks []*Token
		var ids []uint16
		// Up to the backlog, one at a time: each goes out at once.
		start := time.Now()
		for i := range holdBacklog {
			toks = append(toks, c.PublishAsync("h", 1, false, []byte{byte(i)}))
			p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
			ids = append(ids, p.PacketID)
		}
		require.Zero(t, time.Since(start), "a publish below the backlog waited")

		// Behind the backlog: held, then sent by the timer within holdFor.
		start = time.Now()
		toks = append(toks, c.PublishAsync("h", 1, false, []byte("held")))
		synctest.Wait()
		_, err := sc.Next(time.Nanosecond)
		require.ErrorIs(t, err, fakebroker.ErrTimeout, "a publish behind the backlog went out at once")
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "held", string(p.Payload))
		ids = append(ids, p.PacketID)
		waited := time.Since(start)
		require.Positive(t, waited)
		require.LessOrEqual(t, waited, holdFor)

		// QoS 0 and SUBSCRIBE are never held.
		start = time.Now()
		require.NoError(t, c.PublishAsync("h", 0, false, []byte("q0")).Err())
		p = sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "q0", string(p.Payload))
		go c.Subscribe(context.Background(), func(*Message) {}, Subscription{Filter: "s", QoS: 1})
		sc.WantType(t, packet.TypeSubscribe)
		require.Zero(t, time.Since(start), "QoS 0 or SUBSCRIBE waited")

		// Acknowledged: the next publish goes out at once again.
		for _, id := range ids {
			sc.WritePacket(t, &packet.Puback{PacketID: id})
		}
		for _, tok := range toks {
			require.NoError(t, tok.Wait(context.Background()))
		}
		start = time.Now()
		tok := c.PublishAsync("h", 1, false, []byte("after"))
		p = sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "after", string(p.Payload))
		require.Zero(t, time.Since(start), "a publish after the backlog was acknowledged waited")
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		require.NoError(t, tok.Wait(context.Background()))
		require.NoError(t, c.Close())
	})
}

// TestReaderExpectsAnswers checks that the reader pauses between reads
// while at least holdBacklog publishes are in flight (their answers are
// sure to come, so gathering them costs nothing), and not below that. Both
// counts stay under coalesceRate, so that the coalescer's own test of the
// rate cannot be what makes the pause.
func TestReaderExpectsAnswers(t *testing.T) {
	require.Less(t, holdBacklog+4, coalesceRate)
	for _, n := range []int{holdBacklog - 1, holdBacklog + 4} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := fakebroker.New(t)
				c := fakeClient(t, fb, func(o *Options) { o.MaxInFlight, o.Pacing = 100, ThroughputPacing() })
				sc, _ := connectFake(t, c, fb, &packet.Connack{})
				toks := make([]*Token, n)
				for i := range toks {
					toks[i] = c.PublishAsync("e", 1, false, nil)
				}
				var ids []uint16
				for range n {
					ids = append(ids, sc.WantType(t, packet.TypePublish).(*packet.Publish).PacketID)
				}
				synctest.Wait()
				start := time.Now()
				for _, id := range ids { // one write each
					sc.WritePacket(t, &packet.Puback{PacketID: id})
				}
				for _, tok := range toks {
					require.NoError(t, tok.Wait(context.Background()))
				}
				waited := time.Since(start)
				if n < holdBacklog {
					require.Zero(t, waited, "the reader paused with %d in flight", n)
				} else {
					require.NotZero(t, waited, "the reader never paused with %d in flight", n)
					require.Zero(t, waited%coalesceWait, "the clock moved by %v", waited)
				}
				require.NoError(t, c.Close())
			})
		})
	}
}

// TestCoalescerExpectBackoff checks that the pauses the loop asks for
// (answers expected) meet the coalescer's test too: one that gathers fewer
// than coalesceDense packets starts a backoff during which no such pause
// may happen, and a pause that gathers enough ends it.
func TestCoalescerExpectBackoff(t *testing.T) {
	var c coalescer
	at := time.Unix(1000, 0)
	require.True(t, c.mayPause(at))
	c.note(at, 0, coalesceDense-1, true, false) // a pause that found too little
	require.False(t, c.on)
	require.False(t, c.mayPause(at.Add(coalesceBackoff-time.Nanosecond)))
	require.True(t, c.mayPause(at.Add(coalesceBackoff)))
	at = at.Add(coalesceBackoff)
	c.note(at, 0, coalesceDense-1, true, false)
	require.False(t, c.mayPause(at.Add(2*coalesceBackoff-time.Nanosecond)), "the backoff doubles")
	at = at.Add(2 * coalesceBackoff)
	c.note(at, 0, coalesceDense, true, false)
	require.Zero(t, c.backoff, "a pause that gathered enough")
	require.True(t, c.mayPause(at))
}

// TestHeldWriteWithPingSender checks that with a PingSender the loop's
// timer, armed for a held write, does not run keep-alive itself: after a
// silence longer than the keep-alive period, a held write goes out and no
// PINGREQ comes with it (the sender decides when to ping).
func TestHeldWriteWithPingSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		ps := session.NewManualPingSender(nil)
		c := fakeClient(t, fb, func(o *Options) {
			o.Pacing = ThroughputPacing()
			o.MaxInFlight = 100
			o.KeepAlive = time.Second
			o.PingSender = ps
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		time.Sleep(2 * time.Second) // the server says nothing; nobody polls ps
		for i := range holdBacklog {
			c.PublishAsync("p", 1, false, []byte{byte(i)})
		}
		for range holdBacklog {
			sc.WantType(t, packet.TypePublish)
		}
		start := time.Now()
		c.PublishAsync("p", 1, false, []byte("held"))
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		require.Equal(t, "held", string(p.Payload))
		require.Positive(t, time.Since(start), "the last publish was not held")
		_, err := sc.Next(time.Second)
		require.ErrorIs(t, err, fakebroker.ErrTimeout, "the loop sent a packet of its own")
		require.NoError(t, c.Close())
	})
}

// TestResendNotHeld checks that the publishes re-sent after a reconnect
// (DUP, in flight on the old connection) go out as soon as the CONNACK is
// in: on the new connection nothing is in flight before them.
func TestResendNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) {
			o.Pacing = ThroughputPacing()
			o.PersistentSession = true
			o.AutoReconnect = true
			o.MaxInFlight = 100
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		const n = 2 * holdBacklog
		for i := range n {
			c.PublishAsync("r", 1, false, []byte{byte(i)})
		}
		for range n {
			sc.WantType(t, packet.TypePublish)
		}
		sc.Close()

		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		sc.WritePacket(t, &packet.Connack{SessionPresent: true})
		start := time.Now()
		for range n {
			p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
			require.True(t, p.Dup)
		}
		require.Zero(t, time.Since(start), "the re-sent publishes were held")
		require.NoError(t, c.Close())
	})
}

// TestHeldWriteDisconnectAndLoss checks a held write at the two ends of a
// connection: Disconnect called while a publish is held waits for it to
// go out and be acknowledged before DISCONNECT [MQTT-3.14.4-1]; and a
// publish held when the connection is lost is sent after the reconnect,
// with the others in flight, and completes there.
func TestHeldWriteDisconnectAndLoss(t *testing.T) {
	publishBacklog := func(t *testing.T, c *Client, sc *fakebroker.Conn) (toks []*Token, ids []uint16) {
		for i := range holdBacklog {
			toks = append(toks, c.PublishAsync("d", 1, false, []byte{byte(i)}))
		}
		for range holdBacklog {
			ids = append(ids, sc.WantType(t, packet.TypePublish).(*packet.Publish).PacketID)
		}
		return toks, ids
	}

	t.Run("disconnect", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fb := fakebroker.New(t)
			c := fakeClient(t, fb, func(o *Options) { o.MaxInFlight, o.Pacing = 100, ThroughputPacing() })
			sc, _ := connectFake(t, c, fb, &packet.Connack{})
			toks, ids := publishBacklog(t, c, sc)
			held := c.PublishAsync("d", 1, false, []byte("held"))
			done := make(chan error, 1)
			go func() { done <- c.Disconnect(context.Background()) }()
			p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
			require.Equal(t, "held", string(p.Payload))
			for _, id := range append(ids, p.PacketID) {
				sc.WritePacket(t, &packet.Puback{PacketID: id})
			}
			sc.WantPacket(t, &packet.Disconnect{})
			sc.WantClosed(t)
			require.NoError(t, <-done)
			for _, tok := range append(toks, held) {
				require.NoError(t, tok.Err())
			}
		})
	})

	t.Run("loss", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fb := fakebroker.New(t)
			c := fakeClient(t, fb, func(o *Options) {
				o.Pacing = ThroughputPacing()
				o.MaxInFlight = 100
				o.PersistentSession = true
				o.AutoReconnect = true
			})
			sc, _ := connectFake(t, c, fb, &packet.Connack{})
			toks, _ := publishBacklog(t, c, sc)
			held := c.PublishAsync("d", 1, false, []byte("held"))
			synctest.Wait()
			_, err := sc.Next(time.Nanosecond)
			require.ErrorIs(t, err, fakebroker.ErrTimeout, "the last publish was not held")
			sc.Close() // lost with the publish still held

			sc = fb.Accept(t)
			sc.WantType(t, packet.TypeConnect)
			sc.WritePacket(t, &packet.Connack{SessionPresent: true})
			var got []string
			for range holdBacklog + 1 {
				p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
				got = append(got, string(p.Payload))
				sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
			}
			require.Equal(t, "held", got[holdBacklog], "the held publish comes last, in order")
			for _, tok := range append(toks, held) {
				require.NoError(t, tok.Wait(context.Background()))
			}
			require.NoError(t, c.Close())
		})
	})
}

// TestCoalescerLengthens checks the pause of a QoS 0 stream: it doubles
// after each pause that brought QoS 0 messages only, up to
// coalesceMaxWait; a batch with anything else in it (an acknowledgement,
// a QoS 1 message) or the coalescer going off brings it back to
// coalesceWait; it never lengthens while off.
func TestCoalescerLengthens(t *testing.T) {
	c := coalescer{on: true}
	require.Equal(t, coalesceWait, c.pause())
	want := coalesceWait
	for range 10 {
		c.lengthen(true, true)
		want = min(2*want, coalesceMaxWait)
		require.Equal(t, want, c.pause())
	}
	require.Equal(t, coalesceMaxWait, c.pause())
	c.lengthen(false, true) // a read without a pause (a full batch): unchanged
	require.Equal(t, coalesceMaxWait, c.pause())
	c.lengthen(true, false) // something owed an answer
	require.Equal(t, coalesceWait, c.pause())

	c.lengthen(true, true)
	require.Equal(t, 2*coalesceWait, c.pause())
	c.on = false
	c.lengthen(true, true)
	require.Equal(t, coalesceWait, c.pause(), "off")
	c.on = true
	require.Equal(t, coalesceWait, c.pause(), "on again: starts short")
}

// TestBatchQuiet checks which batches count as QoS 0 only.
func TestBatchQuiet(t *testing.T) {
	var b inBatch
	require.True(t, b.quiet(), "empty")
	b.add(&packet.Publish{Topic: "a"})
	b.add(&packet.Publish{Topic: "b", Payload: []byte("x")})
	require.True(t, b.quiet())
	b.add(&packet.Puback{PacketID: 1})
	require.False(t, b.quiet(), "an acknowledgement")
	b.reset()
	b.add(&packet.Publish{Topic: "a", QoS: 1, PacketID: 2})
	require.False(t, b.quiet(), "a QoS 1 message")
	b.reset()
	b.add(&packet.Pingresp{})
	require.False(t, b.quiet(), "a PINGRESP")
}
