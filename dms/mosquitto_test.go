package dms_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestFlowMosquitto runs the flow against two mosquitto processes (redirect
// and DMS): transitions in order, heartbeats at the interval, RRPC answered,
// the DMS broker restarted mid-heartbeat. mosquitto has no hook to check
// the MD5 password (it would need a plugin), so it runs with anonymous
// access and the wrong-password part is not run here; TestWrongPasswordRefused
// covers it on mochi.
func TestFlowMosquitto(t *testing.T) {
	redirect := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	dmsB := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{Persistence: true})
	ctx := waitCtx(t)
	clock := newFakeClock(t0)

	// The simulator's DMS session is persistent and mosquitto saves it, so
	// heartbeats sent while it reconnects after the restart wait for it.
	sim, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{redirect.URI()}, ClientID: "sim-redirect"},
		DMS: &client.Options{Servers: []string{dmsB.URI()}, ClientID: "sim-dms", PersistentSession: true,
			AutoReconnect: true, Backoff: client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}},
		Clock: clock,
	})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-m", dmsB.URI()))

	rec := newRecorder()
	results := make(chan error, 10)
	a, err := dms.NewAgent(dms.Config{
		OnHeartbeatResult: func(err error) { results <- err },
		DeviceID:          "dev-m",
		RedirectServer:    redirect.URI(),
		Clock:             clock,
		OnTransition:      rec.observe,
		RRPC:              &dms.RRPCConfig{ProductKey: "pk", DeviceName: "dev-m"},
		ReconnectBackoff:  client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	defer a.Stop(context.Background())

	trs := rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.Equal(t, dmsB.URI(), trs[2].Event.Server)
	for k := 1; k <= 2; k++ {
		beats, err := sim.WaitHeartbeats(ctx, k)
		require.NoError(t, err)
		require.Len(t, beats, k)
		require.Equal(t, t0.Add(time.Duration(k-1)*dms.DefaultHeartbeatInterval), beats[k-1].At)
		require.Equal(t, "dev-m", beats[k-1].DeviceID)
		select { // acknowledged before the clock moves
		case err := <-results:
			require.NoError(t, err, "heartbeat %d", k)
		case <-ctx.Done():
			t.Fatalf("no result for heartbeat %d", k)
		}
		clock.AwaitWaiters(t, 1)
		clock.Advance(dms.DefaultHeartbeatInterval)
	}
	_, err = sim.WaitHeartbeats(ctx, 3)
	require.NoError(t, err)

	pc, err := client.New(client.Options{Servers: []string{dmsB.URI()}, ClientID: "sim-prober"})
	require.NoError(t, err)
	require.NoError(t, pc.Connect(ctx))
	p, err := dms.NewProber(ctx, pc, dms.ProberConfig{})
	require.NoError(t, err)
	v := p.Check(ctx, dms.Device{ProductKey: "pk", DeviceName: "dev-m"})
	require.True(t, v.Online, "%+v", v)
	require.NoError(t, p.Close(ctx))
	require.NoError(t, pc.Disconnect(ctx))

	dmsB.Restart()
	trs = rec.expect(t, dms.EventConnectionLost, dms.EventDMSConnected)
	require.Equal(t, dms.StateOnline, trs[1].To)
	_, err = sim.WaitHeartbeats(ctx, 4) // the one sent at once after the reconnect
	require.NoError(t, err)

	require.NoError(t, a.Stop(ctx))
	require.Equal(t, dms.StateStopped, a.State())
}

// TestSubscribeTimeoutMosquitto: mosquitto behind a proxy that swallows
// the agent's SUBSCRIBE answers CONNECT and PINGREQ, never the SUBSCRIBE;
// after SubscribeTimeout the attempt fails with a *TimeoutError, and the
// retry after the back-off (the proxy now forwarding) gets through.
func TestSubscribeTimeoutMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	px := startProxy(t, "127.0.0.1:"+strconv.Itoa(m.Port))
	px.setDrop(packet.TypeSubscribe)
	clock := newFakeClock(t0)
	rec := newRecorder()
	a, err := dms.NewAgent(dms.Config{DeviceID: "dev-mt", RedirectServer: px.uri(), Clock: clock,
		OnTransition: rec.observe, Backoff: client.Backoff{Min: time.Second, Rand: func() float64 { return 0 }}})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	defer a.Stop(context.Background())
	rec.expect(t, dms.EventStart)
	px.waitSeen(t, packet.TypeSubscribe)
	clock.AwaitWaiters(t, 1) // the SUBACK wait
	clock.Advance(dms.DefaultSubscribeTimeout - time.Second)
	require.Equal(t, dms.StateConnectingRedirect, a.State())
	clock.Advance(time.Second)
	tr := rec.expect(t, dms.EventConnectionFailed)[0]
	var te *dms.TimeoutError
	require.ErrorAs(t, tr.Event.Err, &te)
	px.setDrop()
	clock.AwaitWaiters(t, 1) // the back-off
	clock.Advance(time.Second)
	rec.expect(t, dms.EventRetry, dms.EventRedirectConnected)
	stopAgent(t, a, rec)
}

// TestStopMosquitto: the DMS server is mosquitto behind a proxy that
// swallows the agent's PUBLISH, so the heartbeat is never acknowledged;
// Stop still returns nil at once (well within its context) after a
// DISCONNECT, and the heartbeat is not reported.
func TestStopMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{})
	px := startProxy(t, "127.0.0.1:"+strconv.Itoa(m.Port))
	px.setDrop(packet.TypePublish)
	ctx := waitCtx(t)
	sim, err := dms.NewSimulator(dms.SimulatorConfig{Redirect: client.Options{Servers: []string{m.URI()}, ClientID: "sim-stop"}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-stop", px.uri()))

	rec := newRecorder()
	results := make(chan error, 10)
	a, err := dms.NewAgent(dms.Config{DeviceID: "dev-stop", RedirectServer: m.URI(), OnTransition: rec.observe,
		OnHeartbeatResult: func(err error) { results <- err }})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	px.waitSeen(t, packet.TypePublish) // the heartbeat, swallowed
	stopAgent(t, a, rec)
	px.waitSeen(t, packet.TypeDisconnect)
	require.Empty(t, results)
}
