package client

import (
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestCoalescer checks when the reader pauses before reading: a
// request-response exchange (a packet or two per round trip) never turns
// it on; a stream of small batches close together does, after
// coalesceAfter of them; it stays on while each pause gathers at least
// coalesceDense packets and the reads find their data waiting, and goes off
// at the first sparse pause or waiting read.
func TestCoalescer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }

	// A round trip every 80 us, its two packets 5 us apart.
	var c coalescer
	at := t0
	handed := time.Time{}
	for range 1000 {
		c.first(at, at.Add(-us(70)), handed, true) // the PUBLISH, after waiting
		handed = at
		at = at.Add(us(5))
		c.first(at, at, handed, true) // the PUBACK, right behind it
		handed = at
		at = at.Add(us(80))
		require.False(t, c.on(), "a request-response exchange turned it on")
	}

	// A stream: a small batch every 10 us, each read finding its data.
	c = coalescer{}
	handed, at = time.Time{}, t0
	for i := range coalesceAfter + 1 {
		require.Equal(t, i > coalesceAfter, c.on(), "after %d close small batches", i)
		c.first(at, at, handed, true)
		handed = at
		at = at.Add(us(10))
	}
	require.True(t, c.on())
	// Pauses that gather enough keep it on; a read that waits ends it.
	for range 10 {
		c.afterPause(coalesceDense)
		c.first(at, at, handed, true)
		require.True(t, c.on())
		at = at.Add(coalesceWait)
	}
	c.first(at.Add(coalesceBlocked), at, handed, true)
	require.False(t, c.on(), "a read that waited for its data")
	require.Zero(t, c.streak)

	// On again (the first batch follows the long wait); a pause that
	// gathers too little ends it.
	for range coalesceAfter + 1 {
		c.first(at, at, handed, true)
		handed = at
		at = at.Add(us(10))
	}
	require.True(t, c.on())
	c.afterPause(coalesceDense - 1)
	require.False(t, c.on(), "a sparse pause")

	// Large batches (the reader is behind) do not count towards it.
	c = coalescer{}
	for range 3 * coalesceAfter {
		c.first(at, at, handed, false)
		handed = at
		at = at.Add(us(10))
	}
	require.False(t, c.on())
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
