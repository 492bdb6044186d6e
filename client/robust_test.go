package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// Regression tests for what a review of session 5's rework found.

// TestQoS0FailedFlushFailsTokens checks that a QoS 0 token succeeds only
// when its PUBLISH was written: 6,000 buffered QoS 0 messages go out after
// CONNACK in several flushes, the server stops reading part way, and no
// token reports success for a message the server never read.
func TestQoS0FailedFlushFailsTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) { o.OfflineBuffer = 6000 })
		var toks []*Token
		payload := make([]byte, 100)
		for range 6000 {
			toks = append(toks, c.PublishAsync("a", 0, false, payload))
		}
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		for _, tk := range toks {
			_ = tk.Wait(context.Background())
		}
		got := len(sc.Drain())
		ok := 0
		for _, tk := range toks {
			if tk.Err() == nil {
				ok++
			}
		}
		require.LessOrEqual(t, ok, got, "tokens reported written that the server never read")
	})
}

// TestCleanReconnectEndsAtOnce checks a clean-session reconnect whose
// first batch ends the connection before anything was sent on it (a second
// CONNACK right behind the first) while a publish of the earlier
// connection is still in the session: the client reports the violation
// and does not panic (the discarded message's completion once looked for
// the connection that was gone).
func TestCleanReconnectEndsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		lost := make(chan error, 4)
		c := fakeClient(t, fb, func(o *Options) {
			o.AutoReconnect = true
			o.OnConnectionLost = func(err error) { lost <- err }
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("a", 1, false, nil)
		sc.WantType(t, packet.TypePublish)
		sc.Close()
		require.ErrorIs(t, tok.Wait(context.Background()), ErrConnectionLost)
		<-lost
		sc = fb.Accept(t)
		sc.WantType(t, packet.TypeConnect)
		b, err := (&packet.Connack{}).Append(nil)
		require.NoError(t, err)
		sc.WriteBytes(t, append(b, b...)) // CONNACK and a second CONNACK in one write
		var ve *ViolationError
		require.ErrorAs(t, <-lost, &ve)
		require.NoError(t, c.Close())
	})
}

// slowSyncStore is a store whose Sync takes a millisecond.
type slowSyncStore struct{ *store.Memory }

func (slowSyncStore) Sync() error { time.Sleep(time.Millisecond); return nil }

// TestSyncingStoreKeepsSending checks that a syncing store does not stop
// the client from sending while publishers keep staging: four goroutines
// publish 500 QoS 1 messages each through a store whose sync takes 1 ms,
// and the server sees PUBLISH packets while they do (the state owner once
// waited for a sync that covered everything written, which a steady stream
// of staged records never let happen), and all of them in the end.
func TestSyncingStoreKeepsSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, func(o *Options) {
			o.Persistence = slowSyncStore{store.NewMemory()}
			o.MaxInFlight = 65535
		})
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		var got atomic.Int64
		go func() {
			for {
				p, err := sc.Next(time.Hour)
				if err != nil {
					return
				}
				if pp, ok := p.(*packet.Publish); ok {
					got.Add(1)
					_ = sc.TryWritePacket(&packet.Puback{PacketID: pp.PacketID})
				}
			}
		}()
		var wg sync.WaitGroup
		toks := make([][]*Token, 4)
		for g := range toks {
			wg.Go(func() {
				time.Sleep(time.Duration(g) * 250 * time.Microsecond) // staggered: staging never pauses
				for range 500 {
					toks[g] = append(toks[g], c.PublishAsync("a", 1, false, []byte("x")))
				}
			})
		}
		wg.Wait()
		t.Logf("sent while staging: %d", got.Load())
		require.Greater(t, got.Load(), int64(200), "the client hardly sent while publishers staged")
		for _, ts := range toks {
			for _, tk := range ts {
				require.NoError(t, tk.Wait(context.Background()))
			}
		}
		require.EqualValues(t, 2000, got.Load())
		require.NoError(t, c.Close())
	})
}

// TestDisconnectRefusesNewWork checks that Disconnect stops taking new
// work: a publish or subscribe made while it waits for the messages in
// flight fails with ErrNotConnected, so a steady publisher cannot keep
// Disconnect from ending.
func TestDisconnectRefusesNewWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := fakebroker.New(t)
		c := fakeClient(t, fb, nil)
		sc, _ := connectFake(t, c, fb, &packet.Connack{})
		tok := c.PublishAsync("t", 1, false, nil)
		p := sc.WantType(t, packet.TypePublish).(*packet.Publish)
		done := make(chan error, 1)
		go func() { done <- c.Disconnect(context.Background()) }()
		synctest.Wait()
		require.ErrorIs(t, c.PublishAsync("t", 1, false, nil).Err(), ErrNotConnected)
		_, err := c.Subscribe(context.Background(), nil, Subscription{Filter: "s"})
		require.ErrorIs(t, err, ErrNotConnected)
		sc.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
		sc.WantPacket(t, &packet.Disconnect{})
		require.NoError(t, <-done)
		require.NoError(t, tok.Err())
		require.False(t, errors.Is(c.Connect(context.Background()), ErrClosed), "Connect after Disconnect")
	})
}
