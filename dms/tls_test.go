//go:build !linnet_notls

package dms_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestFlowTLS runs both phases over ssl:// with the TLS configuration given
// as transport options, on one mochi broker that is redirect and DMS server
// at once (the simulator then needs one connection). This broker admits
// anyone: the password is checked in the other tests.
func TestFlowTLS(t *testing.T) {
	m := testbroker.StartMochi(t, testbroker.MochiConfig{})
	ctx := waitCtx(t)
	tlsOpt := transport.WithTLSConfig(m.Certs.ClientTLSConfig())
	sim, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{m.URI("ssl")}, Transport: []transport.Option{tlsOpt}},
	})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-tls", m.URI("ssl")))

	rec := newRecorder()
	a, err := dms.NewAgent(dms.Config{DeviceID: "dev-tls", RedirectServer: m.URI("ssl"),
		Transport: []transport.Option{tlsOpt}, OnTransition: rec.observe})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	beats, err := sim.WaitHeartbeats(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "dev-tls", beats[0].DeviceID)
	stopAgent(t, a, rec)

	// Without the CA the redirect phase fails with the transport's error.
	rec2 := newRecorder()
	a2, err := dms.NewAgent(dms.Config{DeviceID: "dev-tls", RedirectServer: m.URI("ssl"), OnTransition: rec2.observe})
	require.NoError(t, err)
	require.NoError(t, a2.Start())
	tr := rec2.expect(t, dms.EventStart, dms.EventConnectionFailed)[1]
	var de *transport.DialError
	require.ErrorAs(t, tr.Event.Err, &de)
	stopAgent(t, a2, rec2)
}

// TestObserve: observers added with Observe see the transitions in order
// until removed.
func TestObserve(t *testing.T) {
	a, err := dms.NewAgent(dms.Config{DeviceID: "d1", RedirectServer: "tcp://127.0.0.1:1"})
	require.NoError(t, err)
	var one, two []dms.State
	a.Observe(func(tr dms.Transition) { one = append(one, tr.To) })
	remove := a.Observe(func(tr dms.Transition) { two = append(two, tr.To) })
	remove()
	require.NoError(t, a.Stop(t.Context()))
	<-a.Done()
	require.Equal(t, []dms.State{dms.StateStopping, dms.StateStopped}, one)
	require.Empty(t, two)
}
