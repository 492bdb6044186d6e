package dms_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/fakebroker"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestSubscribeTimeout: a server that accepts the CONNECT but never
// answers the SUBSCRIBE costs DefaultSubscribeTimeout (10 s), then the
// attempt fails with a *TimeoutError and is retried after the back-off; in
// the DMS phase no heartbeat goes out without the SUBACK. A configured
// SubscribeTimeout bounds the RRPC subscription too.
func TestSubscribeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		results := make(chan error, 10)
		cfg := s.config()
		cfg.OnHeartbeatResult = func(err error) { results <- err }
		a := s.start(cfg)
		s.rec.expect(t, dms.EventStart)
		c1 := s.connect()
		want[*packet.Subscribe](t, c1) // never answered
		start := time.Now()
		tr := s.rec.expect(t, dms.EventConnectionFailed)[0]
		require.Equal(t, dms.DefaultSubscribeTimeout, time.Since(start))
		require.Equal(t, 10*time.Second, dms.DefaultSubscribeTimeout, "the original's waitForCompletion(10000)")
		require.Equal(t, dms.StateConnectingRedirect, tr.From)
		require.ErrorIs(t, tr.Event.Err, dms.ErrTimeout)
		var te *dms.TimeoutError
		require.ErrorAs(t, tr.Event.Err, &te)
		require.Equal(t, dms.DefaultSubscribeTimeout, te.After)
		require.True(t, te.Timeout())
		require.Equal(t, "SUBACK for /elogger/dev-s/verify_pwd and 2 more", te.Wait)
		var pe *dms.PhaseError
		require.ErrorAs(t, tr.Event.Err, &pe)
		require.Equal(t, dms.PhaseRedirect, pe.Phase)
		require.Equal(t, time.Second, tr.Event.Delay)
		c1.WantClosed(t)

		// The retry; this time the DMS server keeps silent.
		s.rec.expect(t, dms.EventRetry)
		s.redirect(dmsURI)
		c2 := s.connect()
		want[*packet.Subscribe](t, c2)
		start = time.Now()
		tr = s.rec.expect(t, dms.EventConnectionFailed)[0]
		require.Equal(t, dms.DefaultSubscribeTimeout, time.Since(start))
		require.Equal(t, dms.StateConnectingDMS, tr.From)
		require.ErrorAs(t, tr.Event.Err, &pe)
		require.Equal(t, dms.PhaseDMS, pe.Phase)
		require.Equal(t, 2*time.Second, tr.Event.Delay)
		c2.WantClosed(t)
		require.Empty(t, results, "no heartbeat without the SUBACK")
		require.NoError(t, a.Stop(t.Context()))
	})
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		cfg := s.config()
		cfg.SubscribeTimeout = 3 * time.Second
		cfg.RRPC = &dms.RRPCConfig{ProductKey: "pk", DeviceName: scriptDevice}
		a := s.start(cfg)
		s.rec.expect(t, dms.EventStart)
		s.redirect(dmsURI)
		c := s.connect()
		grant(t, c)
		sub := want[*packet.Subscribe](t, c) // the RRPC filter, never answered
		require.Equal(t, "/sys/pk/dev-s/rrpc/request/+", sub.Subscriptions[0].Filter)
		start := time.Now()
		tr := s.rec.expect(t, dms.EventConnectionFailed)[0]
		require.Equal(t, 3*time.Second, time.Since(start))
		var te *dms.TimeoutError
		require.ErrorAs(t, tr.Event.Err, &te)
		require.Equal(t, "SUBACK for /sys/pk/dev-s/rrpc/request/+", te.Wait)
		require.NoError(t, a.Stop(t.Context()))
	})
}

// plainModule stands for a TLS scheme in the scripts: the downgrade rule
// goes by the scheme, and the fake broker speaks no TLS.
type plainModule struct{}

func (plainModule) Validate(u *transport.URI) error { return transport.ValidateHostPort(u, 8883) }
func (plainModule) Dial(ctx context.Context, u *transport.URI, cfg *transport.Config) (net.Conn, error) {
	return cfg.DialContext(ctx, "tcp", u.Address())
}

func tlsLikeRegistry() *transport.Registry {
	r := transport.NewRegistry()
	for _, s := range []string{"ssl", "mqtts", "wss", "tls", "tcps"} {
		r.Register(s, plainModule{})
	}
	return r
}

// TestTLSDowngradeRefused: after a redirect server reached over ssl://, a
// join-network message naming a tcp:// DMS server fails the attempt with a
// *DowngradeError naming it, and the agent never dials it; a TLS address
// is followed; AllowInsecureDMS follows the clear-text one; a clear-text
// DefaultDMSServer is a configuration error.
func TestTLSDowngradeRefused(t *testing.T) {
	const redirect = "ssl://redirect.invalid:8883"
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		cfg := s.config()
		cfg.RedirectServer, cfg.Registry = redirect, tlsLikeRegistry()
		a := s.start(cfg)
		s.rec.expect(t, dms.EventStart)
		s.redirectTo(`{"url":"tcp://dms.invalid:1883"}`)
		tr := s.rec.expect(t, dms.EventConnectionFailed)[0]
		require.Equal(t, dms.StateAwaitingNetworkInfo, tr.From)
		require.ErrorIs(t, tr.Event.Err, dms.ErrInsecureDMS)
		var de *dms.DowngradeError
		require.ErrorAs(t, tr.Event.Err, &de)
		require.Equal(t, dms.DowngradeError{Redirect: redirect, DMS: "tcp://dms.invalid:1883"}, *de)
		require.Contains(t, tr.Event.Err.Error(), `"tcp://dms.invalid:1883"`)
		require.Equal(t, int32(1), s.dials.Load(), "the clear-text DMS server was dialled")

		s.rec.expect(t, dms.EventRetry)
		s.redirect("mqtts://dms.invalid:8883")
		c := s.connect()
		grant(t, c)
		tr = s.rec.expect(t, dms.EventDMSConnected)[0]
		require.Equal(t, "mqtts://dms.invalid:8883", tr.Event.Server)
		require.NoError(t, a.Stop(t.Context()))
	})
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		cfg := s.config()
		cfg.RedirectServer, cfg.Registry, cfg.AllowInsecureDMS = redirect, tlsLikeRegistry(), true
		a := s.start(cfg)
		s.online()
		require.Equal(t, int32(2), s.dials.Load())
		require.NoError(t, a.Stop(t.Context()))
	})
	cfg := dms.Config{DeviceID: "d", RedirectServer: redirect, DefaultDMSServer: "ws://dms.invalid/mqtt",
		Registry: tlsLikeRegistry()}
	_, err := dms.NewAgent(cfg)
	var ce *dms.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "DefaultDMSServer", ce.Field)
	require.ErrorIs(t, err, dms.ErrInsecureDMS)
	cfg.AllowInsecureDMS = true
	_, err = dms.NewAgent(cfg)
	require.NoError(t, err)
	cfg.AllowInsecureDMS, cfg.DefaultDMSServer = false, "mqtts://dms.invalid:8883"
	_, err = dms.NewAgent(cfg)
	require.NoError(t, err)
}

// redirectTo plays the redirect server up to a join-network message with
// payload.
func (s *script) redirectTo(payload string) *fakebroker.Conn {
	s.t.Helper()
	c := s.connect()
	grant(s.t, c)
	s.rec.expect(s.t, dms.EventRedirectConnected)
	c.WritePacket(s.t, &packet.Publish{Topic: "/elogger/" + scriptDevice + "/join_network", Payload: []byte(payload)})
	return c
}

// TestStopWithdrawsHeartbeat: Stop with the last heartbeat unacknowledged
// sends DISCONNECT at once (no time passes in the bubble) and returns nil;
// the withdrawn heartbeat is not reported.
func TestStopWithdrawsHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		results := make(chan error, 10)
		cfg := s.config()
		cfg.OnHeartbeatResult = func(err error) { results <- err }
		a := s.start(cfg)
		c, _ := s.online() // the heartbeat is never acknowledged
		start := time.Now()
		require.NoError(t, a.Stop(t.Context()))
		require.Zero(t, time.Since(start))
		want[*packet.Disconnect](t, c)
		c.WantClosed(t)
		require.Empty(t, results)
		trs := s.rec.all()
		require.Equal(t, dms.EventStop, trs[len(trs)-2].Event.Kind)
		require.Equal(t, dms.StateStopped, a.State())
	})
}

// TestStopDrainsOwnPublishes: the device's own QoS 1 publish in flight is
// waited for (here 1 s, until its PUBACK), at most DrainTimeout.
func TestStopDrainsOwnPublishes(t *testing.T) {
	for _, acked := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			s := newScript(t)
			a := s.start(s.config())
			c, _ := s.online()
			tok, err := a.PublishAsync("/dev-s/report", packet.QoS1, false, []byte("r"))
			require.NoError(t, err)
			p := want[*packet.Publish](t, c)
			require.Equal(t, "/dev-s/report", p.Topic)
			stopped := make(chan error, 1)
			start := time.Now()
			go func() { stopped <- a.Stop(context.Background()) }()
			if acked {
				time.Sleep(time.Second)
				synctest.Wait()
				require.Empty(t, stopped, "Stop did not wait for the device's publish")
				c.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
			}
			want[*packet.Disconnect](t, c)
			require.NoError(t, <-stopped)
			if acked {
				require.Equal(t, time.Second, time.Since(start))
				require.NoError(t, tok.Err())
			} else {
				require.Equal(t, dms.DefaultDrainTimeout, time.Since(start))
				require.ErrorIs(t, tok.Err(), client.ErrClosed)
			}
		})
	}
}

// TestDevicePublishSubscribe: the device's own subscriptions of each phase
// go in the flow's SUBSCRIBE; it answers a control message with
// PublishAsync, subscribes at run time, publishes while the DMS client
// reconnects (queued, sent after the reconnect), and gets a *StateError
// outside Online.
func TestDevicePublishSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		own := make(chan string, 10)
		var a *dms.Agent
		cfg := s.config()
		cfg.RedirectSubscriptions = []dms.Subscription{{Filter: "/elogger/{id}/notice", QoS: packet.QoS0,
			Handler: func(topic string, p []byte) { own <- "notice " + string(p) }}}
		cfg.DMSSubscriptions = []dms.Subscription{{Filter: "/elogger/{id}/fw/#", QoS: packet.QoS1,
			Handler: func(topic string, p []byte) { own <- topic + " " + string(p) }}}
		replyErr := make(chan error, 1)
		cfg.OnControlDevice = func(topic string, p []byte) {
			_, err := a.PublishAsync("/elogger/dev-s/ctrlReply", packet.QoS1, false, append([]byte("done:"), p...))
			replyErr <- err
		}
		a, err := dms.NewAgent(cfg)
		require.NoError(t, err)
		_, err = a.PublishAsync("t", packet.QoS0, false, nil)
		require.Equal(t, &dms.StateError{State: dms.StateIdle}, err)
		require.NoError(t, a.Start())
		t.Cleanup(func() { _ = a.Stop(context.Background()) })

		s.rec.expect(t, dms.EventStart)
		c1 := s.connect()
		require.Equal(t, []packet.Subscription{{Filter: "/elogger/dev-s/verify_pwd", QoS: 1},
			{Filter: "/elogger/dev-s/join_network", QoS: 1}, {Filter: "/elogger/dev-s/ctrlDevice", QoS: 1},
			{Filter: "/elogger/dev-s/notice", QoS: 0}}, grant(t, c1))
		s.rec.expect(t, dms.EventRedirectConnected)
		err = a.Publish(t.Context(), "t", packet.QoS0, false, nil)
		require.ErrorIs(t, err, dms.ErrNotOnline)
		require.EqualError(t, err, "dms: the agent is AwaitingNetworkInfo, not Online")
		_, err = a.Subscribe(t.Context(), nil, client.Subscription{Filter: "x"})
		require.ErrorIs(t, err, dms.ErrNotOnline)
		c1.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/notice", Payload: []byte("hi")})
		require.Equal(t, "notice hi", <-own)
		c1.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/join_network", Payload: []byte(dmsURI)})
		s.rec.expect(t, dms.EventNetworkInfoReceived)
		want[*packet.Disconnect](t, c1)

		c2 := s.connect()
		require.Equal(t, []packet.Subscription{{Filter: "/elogger/dev-s/verify_pwd", QoS: 1},
			{Filter: "/elogger/dev-s/ctrlDevice", QoS: 1}, {Filter: "/elogger/dev-s/fw/#", QoS: 1}}, grant(t, c2))
		s.rec.expect(t, dms.EventDMSConnected)
		hb := want[*packet.Publish](t, c2)
		c2.WritePacket(t, &packet.Puback{PacketID: hb.PacketID})

		// A control message, answered by the device.
		c2.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/ctrlDevice", Payload: []byte(`{"cmd":"reboot"}`)})
		require.NoError(t, <-replyErr)
		reply := want[*packet.Publish](t, c2)
		require.Equal(t, "/elogger/dev-s/ctrlReply", reply.Topic)
		require.Equal(t, `done:{"cmd":"reboot"}`, string(reply.Payload))
		require.Equal(t, packet.QoS1, reply.QoS)
		c2.WritePacket(t, &packet.Puback{PacketID: reply.PacketID})

		// A subscription at run time, and the phase's own.
		type subResult struct {
			codes []packet.SubackCode
			err   error
		}
		subbed := make(chan subResult, 1)
		go func() {
			codes, err := a.Subscribe(t.Context(), func(topic string, p []byte) { own <- topic + " " + string(p) },
				client.Subscription{Filter: "/dev-s/extra", QoS: packet.QoS1})
			subbed <- subResult{codes, err}
		}()
		require.Equal(t, []packet.Subscription{{Filter: "/dev-s/extra", QoS: 1}}, grant(t, c2))
		require.Equal(t, subResult{codes: []packet.SubackCode{packet.SubackQoS1}}, <-subbed)
		c2.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/fw/v2", Payload: []byte("img")})
		require.Equal(t, "/elogger/dev-s/fw/v2 img", <-own)
		c2.WritePacket(t, &packet.Publish{Topic: "/dev-s/extra", Payload: []byte("x")})
		require.Equal(t, "/dev-s/extra x", <-own)

		// The DMS connection drops: a publish waits for the reconnect. (The
		// first dial is refused, so that the client waits, taking
		// publishes, rather than block on writing its CONNECT.)
		s.fb.RefuseDials(1)
		c2.Close()
		s.rec.expect(t, dms.EventConnectionLost)
		tok, err := a.PublishAsync("/dev-s/queued", packet.QoS1, false, []byte("q"))
		require.NoError(t, err)
		for range dms.DefaultOfflineBuffer - 1 { // the buffer holds DefaultOfflineBuffer
			_, err := a.PublishAsync("/dev-s/filler", packet.QoS1, false, nil)
			require.NoError(t, err)
		}
		full, err := a.PublishAsync("/dev-s/filler", packet.QoS1, false, nil)
		require.NoError(t, err)
		<-full.Done()
		require.ErrorIs(t, full.Err(), client.ErrOfflineBufferFull)
		c3 := s.connect()
		s.rec.expect(t, dms.EventDMSConnected)
		var queued *packet.Publish
		for queued == nil {
			switch p := next(t, c3).(type) {
			case *packet.Subscribe: // the client makes its subscriptions again
				codes := make([]packet.SubackCode, len(p.Subscriptions))
				c3.WritePacket(t, &packet.Suback{PacketID: p.PacketID, ReturnCodes: codes})
			case *packet.Publish:
				if p.Topic == "/dev-s/queued" {
					queued = p
				}
				c3.WritePacket(t, &packet.Puback{PacketID: p.PacketID})
			default:
				t.Fatalf("unexpected %v", p)
			}
		}
		require.Equal(t, "q", string(queued.Payload))
		require.NoError(t, tok.Wait(t.Context()))

		require.NoError(t, a.Stop(t.Context()))
		_, err = a.PublishAsync("t", packet.QoS0, false, nil)
		require.ErrorIs(t, err, dms.ErrStopped)
		require.ErrorIs(t, err, dms.ErrNotOnline)
	})
}

// warnCatcher records the warning records of a logger.
type warnCatcher struct{ recs chan slog.Record }

func (h *warnCatcher) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *warnCatcher) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *warnCatcher) WithGroup(string) slog.Handler                { return h }
func (h *warnCatcher) Handle(_ context.Context, r slog.Record) error {
	h.recs <- r.Clone()
	return nil
}

func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// TestUnreadableNetworkInfo: a join-network payload the parser cannot read
// is logged at warning level with its first bytes, and the failure at the
// end of the wait says that a message came and could not be read.
func TestUnreadableNetworkInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		catch := &warnCatcher{recs: make(chan slog.Record, 10)}
		cfg := s.config()
		cfg.Logger = slog.New(catch)
		cfg.JoinNetworkWait = 5 * time.Second
		a := s.start(cfg)
		s.rec.expect(t, dms.EventStart)
		payload := "<join><dms>tcp://dms.invalid:1883</dms></join>" + strings.Repeat(" ", 100)
		s.redirectTo(payload)
		r := <-catch.recs
		require.Equal(t, slog.LevelWarn, r.Level)
		require.Equal(t, "dms: join-network message ignored", r.Message)
		require.Equal(t, payload[:64], attr(r, "payload").String())
		require.Equal(t, "/elogger/dev-s/join_network", attr(r, "topic").String())
		tr := s.rec.expect(t, dms.EventConnectionFailed)[0]
		require.ErrorIs(t, tr.Event.Err, dms.ErrNoNetworkInfo)
		require.ErrorIs(t, tr.Event.Err, dms.ErrBadNetworkInfo)
		var ne *dms.NetworkInfoError
		require.ErrorAs(t, tr.Event.Err, &ne)
		require.Equal(t, payload[:128], ne.Payload)
		require.Contains(t, tr.Event.Err.Error(), "a message came and could not be read")
		require.Equal(t, 5*time.Second, tr.At.Sub(s.rec.all()[1].At))
		require.NoError(t, a.Stop(t.Context()))
	})
}

// TestNetworkInfoConfig: Config.NetworkInfo replaces the parser (its error
// is logged and the wait goes on; its URI is still validated), and
// Config.NetworkInfoKeys the default parser's keys.
func TestNetworkInfoConfig(t *testing.T) {
	errNotKV := errors.New("not dms=URI")
	cases := []struct {
		name     string
		mod      func(*dms.Config)
		bad      []string
		good     string
		badCause error
	}{
		{"parser", func(c *dms.Config) {
			c.NetworkInfo = func(topic string, p []byte) (string, error) {
				k, v, ok := strings.Cut(string(p), "=")
				if !ok || k != "dms" {
					return "", errNotKV
				}
				return v, nil
			}
		}, []string{"junk", "dms=gopher://h"}, "dms=" + dmsURI, errNotKV},
		{"keys", func(c *dms.Config) { c.NetworkInfoKeys = []string{"addr"} },
			[]string{`{"url":"` + dmsURI + `"}`}, `{"url":"tcp://other:1","addr":"` + dmsURI + `"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(t)
				catch := &warnCatcher{recs: make(chan slog.Record, 10)}
				cfg := s.config()
				cfg.Logger = slog.New(catch)
				tc.mod(&cfg)
				a := s.start(cfg)
				s.rec.expect(t, dms.EventStart)
				c := s.redirectTo(tc.bad[0])
				for i, b := range tc.bad {
					if i > 0 {
						c.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/join_network", Payload: []byte(b)})
					}
					r := <-catch.recs
					err, _ := attr(r, "err").Any().(error)
					require.ErrorIs(t, err, dms.ErrBadNetworkInfo, b)
					if i == 0 && tc.badCause != nil {
						require.ErrorIs(t, err, tc.badCause)
					}
				}
				c.WritePacket(t, &packet.Publish{Topic: "/elogger/dev-s/join_network", Payload: []byte(tc.good)})
				tr := s.rec.expect(t, dms.EventNetworkInfoReceived)[0]
				require.Equal(t, dmsURI, tr.Event.Server)
				require.NoError(t, a.Stop(t.Context()))
			})
		})
	}
}
