//go:build !linnet_notls

package dms_test

import (
	"context"
	"net"
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

// TestTLSDowngradeMosquitto: mosquitto over TLS as the redirect server
// hands out a tcp:// DMS address (a plain listener that records
// connections): the agent refuses it with a *DowngradeError and never
// connects there; with AllowInsecureDMS it follows a tcp:// address to
// mosquitto's plain listener.
func TestTLSDowngradeMosquitto(t *testing.T) {
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{TLS: true})
	ctx := waitCtx(t)
	trap, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	trapped := make(chan struct{}, 1)
	trapDone := make(chan struct{})
	go func() {
		defer close(trapDone)
		for {
			c, err := trap.Accept()
			if err != nil {
				return
			}
			trapped <- struct{}{}
			c.Close()
		}
	}()
	defer func() { trap.Close(); <-trapDone }()
	trapURI := "tcp://" + trap.Addr().String()

	sim, err := dms.NewSimulator(dms.SimulatorConfig{Redirect: client.Options{Servers: []string{m.URI()}, ClientID: "sim-tls"}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(ctx))
	defer sim.Stop(context.Background())
	require.NoError(t, sim.Register(ctx, "dev-down", trapURI))
	require.NoError(t, sim.Register(ctx, "dev-optin", m.URI()))

	tlsOpt := transport.WithTLSConfig(m.Certs.ClientTLSConfig())
	rec := newRecorder()
	a, err := dms.NewAgent(dms.Config{DeviceID: "dev-down", RedirectServer: m.TLSURI(),
		Transport: []transport.Option{tlsOpt}, OnTransition: rec.observe})
	require.NoError(t, err)
	require.NoError(t, a.Start())
	tr := rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventConnectionFailed)[2]
	var de *dms.DowngradeError
	require.ErrorAs(t, tr.Event.Err, &de)
	require.Equal(t, trapURI, de.DMS)
	require.Equal(t, m.TLSURI(), de.Redirect)
	stopAgent(t, a, rec)
	require.Empty(t, trapped, "the agent connected to the clear-text address")

	rec2 := newRecorder()
	a2, err := dms.NewAgent(dms.Config{DeviceID: "dev-optin", RedirectServer: m.TLSURI(), AllowInsecureDMS: true,
		Transport: []transport.Option{tlsOpt}, OnTransition: rec2.observe})
	require.NoError(t, err)
	require.NoError(t, a2.Start())
	trs := rec2.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.Equal(t, m.URI(), trs[3].Event.Server)
	stopAgent(t, a2, rec2)
}
