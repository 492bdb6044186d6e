package dms_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
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
