package dms_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/packet"
)

type msg struct{ Topic, Payload string }

// TestFlowEndToEnd runs the whole flow on two embedded brokers: the agent
// gets its DMS server from the simulator's retained join-network message,
// moves there, sends heartbeats at the configured interval, receives control
// messages and answers the prober's RRPC.
func TestFlowEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-1", e.dms.uri()))

	rec := newRecorder()
	controls := make(chan msg, 10)
	dev := newRRPCDevice()
	cfg := e.config("dev-1", rec)
	cfg.HeartbeatInterval = 20 * time.Second
	cfg.OnControlDevice = func(topic string, p []byte) { controls <- msg{topic, string(p)} }
	cfg.OnVerifyPassword = func(topic string, p []byte) { controls <- msg{topic, string(p)} }
	cfg.RRPC = &dms.RRPCConfig{ProductKey: "pk", DeviceName: "dev-1", Handler: dev.handle}
	results := make(chan error, 10)
	cfg.OnHeartbeatResult = func(err error) { results <- err }
	a := e.startAgent(cfg)

	trs := rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	want := []struct{ from, to dms.State }{
		{dms.StateIdle, dms.StateConnectingRedirect},
		{dms.StateConnectingRedirect, dms.StateAwaitingNetworkInfo},
		{dms.StateAwaitingNetworkInfo, dms.StateConnectingDMS},
		{dms.StateConnectingDMS, dms.StateOnline},
	}
	for i, w := range want {
		require.Equal(t, w.from, trs[i].From)
		require.Equal(t, w.to, trs[i].To)
		require.Equal(t, uint64(i+1), trs[i].Seq)
	}
	require.Equal(t, e.dms.uri(), trs[2].Event.Server)
	require.False(t, trs[2].Event.Fallback)
	require.Equal(t, dms.StateOnline, a.State())

	// Heartbeats: one at once, then one per interval of the fake clock.
	for k := 1; k <= 4; k++ {
		beats, err := e.sim.WaitHeartbeats(ctx, k)
		require.NoError(t, err)
		require.Len(t, beats, k, "no heartbeat before its time")
		hb := beats[k-1]
		require.Equal(t, "dev-1", hb.DeviceID)
		require.Equal(t, t0.Add(time.Duration(k-1)*20*time.Second), hb.At)
		var body struct {
			DeviceID string `json:"deviceId"`
			Time     int64  `json:"time"`
		}
		require.NoError(t, json.Unmarshal(hb.Payload, &body))
		require.Equal(t, hb.At.UnixMilli(), body.Time)
		// The simulator can get the heartbeat before the device gets its
		// PUBACK; the clock moves on only once the device has it, or the
		// next tick would find the heartbeat unacknowledged.
		select {
		case err := <-results:
			require.NoError(t, err, "heartbeat %d", k)
		case <-ctx.Done():
			t.Fatalf("no result for heartbeat %d", k)
		}
		e.clock.AwaitWaiters(t, 1) // the heartbeat ticker
		e.clock.Advance(20 * time.Second)
	}
	_, err := e.sim.WaitHeartbeats(ctx, 5)
	require.NoError(t, err)

	// Control messages reach the handlers with topic and payload.
	require.NoError(t, e.sim.SendControl(ctx, "dev-1", []byte(`{"cmd":"reboot"}`)))
	require.Equal(t, msg{"/elogger/dev-1/ctrlDevice", `{"cmd":"reboot"}`}, <-controls)
	require.NoError(t, e.sim.SendVerifyPassword(ctx, "dev-1", []byte("check")))
	require.Equal(t, msg{"/elogger/dev-1/verify_pwd", "check"}, <-controls)

	// RRPC answered.
	p := e.newProber(dms.ProberConfig{})
	v := p.Check(ctx, dms.Device{ProductKey: "pk", DeviceName: "dev-1"})
	require.True(t, v.Online, "%+v", v)
	require.Equal(t, 1, v.Attempts)
	require.Empty(t, v.Errs)

	stopAgent(t, a, rec)
	// Every transition came in order, each exactly once.
	for i, tr := range rec.all() {
		require.Equal(t, uint64(i+1), tr.Seq)
	}
	// The broker saw every heartbeat from the device's own client id.
	for range 5 {
		require.Equal(t, "dev-1", <-e.hook.beats)
	}
}

// TestRRPCResponderTopics checks the reply topic and QoS 0 of ServeRRPC with
// a plain client watching the response topic.
func TestRRPCResponderTopics(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	devc := e.dmsClient("sim-device")
	d := dms.Device{ProductKey: "pk9", DeviceName: "lamp"}
	require.NoError(t, dms.ServeRRPC(ctx, devc, d, func(r *dms.RRPCRequest) ([]byte, error) {
		return append([]byte("re:"), r.Payload...), nil
	}, nil))

	watcher := e.dmsClient("sim-watch")
	got := make(chan *client.Message, 1)
	_, err := watcher.Subscribe(ctx, func(m *client.Message) { got <- m }, client.Subscription{Filter: dms.RRPCResponseFilter, QoS: packet.QoS1})
	require.NoError(t, err)
	require.NoError(t, watcher.Publish(ctx, "/sys/pk9/lamp/rrpc/request/777", packet.QoS1, false, []byte("ping")))
	m := <-got
	require.Equal(t, "/sys/pk9/lamp/rrpc/response/777", m.Topic)
	require.Equal(t, "re:ping", string(m.Payload))
	require.Equal(t, packet.QoS0, m.QoS)
}

// TestProberPolicies silences the device for k requests in a row and checks
// the verdict of each policy: online when fewer than Policy probes failed,
// offline otherwise, with the number of probes sent.
func TestProberPolicies(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-1", e.dms.uri()))
	rec := newRecorder()
	dev := newRRPCDevice()
	cfg := e.config("dev-1", rec)
	cfg.RRPC = &dms.RRPCConfig{ProductKey: "pk", DeviceName: "dev-1", Handler: dev.handle}
	a := e.startAgent(cfg)
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)

	pclock := newFakeClock(t0)
	target := dms.Device{ProductKey: "pk", DeviceName: "dev-1"}
	for _, pol := range []dms.Policy{dms.PolicyStrict, dms.PolicyNormal, dms.PolicyLoose, 5} {
		p := e.newProberOn(pclock, dms.ProberConfig{Policy: pol})
		for silenced := 0; silenced <= int(pol); silenced++ {
			dev.drop.Store(int32(silenced))
			done := make(chan dms.Verdict, 1)
			go func() { done <- p.Check(ctx, target) }()
			expired := min(silenced, int(pol))
			for range expired {
				<-dev.dropped             // the device got it and kept silent
				pclock.AwaitWaiters(t, 1) // the probe's timeout
				pclock.Advance(5 * time.Second)
			}
			v := <-done
			wantOnline := silenced < int(pol)
			require.Equal(t, wantOnline, v.Online, "policy %v, %d silenced: %+v", pol, silenced, v)
			require.Equal(t, min(silenced+1, int(pol)), v.Attempts, "policy %v, %d silenced", pol, silenced)
			require.Len(t, v.Errs, expired)
			for _, err := range v.Errs {
				require.ErrorIs(t, err, dms.ErrProbeTimeout)
				var pe *dms.ProbeError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, target, pe.Device)
			}
		}
		require.NoError(t, p.Close(ctx))
	}

	// A reply that is not the request body is a failure.
	p := e.newProberOn(pclock, dms.ProberConfig{Policy: dms.PolicyStrict})
	dev.garble.Store(1)
	v := p.Check(ctx, target)
	require.False(t, v.Online)
	require.Len(t, v.Errs, 1)
	require.ErrorIs(t, v.Errs[0], dms.ErrReplyMismatch)
	// With normal policy, one garbled reply is forgiven.
	p2 := e.newProberOn(pclock, dms.ProberConfig{Policy: dms.PolicyNormal})
	dev.garble.Store(1)
	v = p2.Check(ctx, target)
	require.True(t, v.Online)
	require.Equal(t, 2, v.Attempts)

	// The device silenced for good: the agent stopped.
	stopAgent(t, a, rec)
	done := make(chan dms.Verdict, 1)
	go func() { done <- p2.Check(ctx, target) }()
	for range 2 {
		pclock.AwaitWaiters(t, 1)
		pclock.Advance(5 * time.Second)
	}
	v = <-done
	require.False(t, v.Online)
	require.Equal(t, 2, v.Attempts)
}

// TestProberCheckAll probes many silent devices and one live one with
// bounded concurrency, through one subscription.
func TestProberCheckAll(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	devc := e.dmsClient("sim-device")
	live := dms.Device{ProductKey: "pk", DeviceName: "live"}
	require.NoError(t, dms.ServeRRPC(ctx, devc, live, nil, nil))

	pclock := newFakeClock(t0)
	p := e.newProberOn(pclock, dms.ProberConfig{Policy: dms.PolicyStrict, Concurrency: 2})
	var devices []dms.Device
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		devices = append(devices, dms.Device{ProductKey: "pk", DeviceName: n})
	}
	done := make(chan []dms.Verdict, 1)
	go func() { done <- p.CheckAll(ctx, devices) }()
	for _, n := range []int{2, 2, 1} {
		pclock.AwaitWaiters(t, n)
		pclock.Advance(5 * time.Second)
	}
	verdicts := <-done
	require.Equal(t, 2, pclock.MaxWaiters(), "never more than Concurrency probes at once")
	for i, v := range verdicts {
		require.Equal(t, devices[i], v.Device)
		require.False(t, v.Online)
	}
	// The live device, alone, with the same prober.
	vs := p.CheckAll(ctx, []dms.Device{live})
	require.True(t, vs[0].Online, "%+v", vs[0])
	require.Equal(t, 1, e.hook.subscriptions("sim-prober-1"), "one subscription for every device") // the env's first prober
}

func (e *env) newProberOn(clock *fakeClock, cfg dms.ProberConfig) *dms.Prober {
	cfg.Clock = clock
	return e.newProber(cfg)
}

// TestJoinNetworkTimeoutFallback: no join-network message; after the wait
// the agent takes the default DMS server, and the transition says so in
// its text. A verify_pwd message in phase one reaches its handler.
func TestJoinNetworkTimeoutFallback(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	rec := newRecorder()
	got := make(chan msg, 1)
	cfg := e.config("dev-2", rec)
	cfg.DefaultDMSServer = e.dms.uri()
	cfg.OnVerifyPassword = func(topic string, p []byte) { got <- msg{topic, string(p)} }
	a := e.startAgent(cfg)
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected)
	require.NoError(t, e.sim.SendVerifyPassword(ctx, "dev-2", []byte("pwd?")))
	require.Equal(t, msg{"/elogger/dev-2/verify_pwd", "pwd?"}, <-got)

	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultJoinNetworkWait - time.Second)
	require.Equal(t, dms.StateAwaitingNetworkInfo, a.State(), "still waiting a second before the end")
	e.clock.Advance(time.Second)
	trs := rec.expect(t, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.True(t, trs[0].Event.Fallback)
	require.Equal(t, "AwaitingNetworkInfo --NetworkInfoReceived--> ConnectingDMS "+e.dms.uri()+
		" (fallback: no usable join-network message in time, default DMS server)", trs[0].String())
	require.Equal(t, e.dms.uri(), trs[0].Event.Server)
	require.Equal(t, t0.Add(dms.DefaultJoinNetworkWait), trs[0].At)
	_, err := e.sim.WaitHeartbeats(ctx, 1)
	require.NoError(t, err)
	stopAgent(t, a, rec)
}

// TestJoinNetworkTimeoutNoFallback: without a default DMS server the wait
// fails with ErrNoNetworkInfo, and the flow starts again after the back-off.
func TestJoinNetworkTimeoutNoFallback(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder()
	a := e.startAgent(e.config("dev-3", rec))
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected)
	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultJoinNetworkWait)
	tr := rec.expect(t, dms.EventConnectionFailed)[0]
	require.Equal(t, dms.StateBackoff, tr.To)
	require.ErrorIs(t, tr.Event.Err, dms.ErrNoNetworkInfo)
	var pe *dms.PhaseError
	require.ErrorAs(t, tr.Event.Err, &pe)
	require.Equal(t, dms.PhaseRedirect, pe.Phase)
	require.Equal(t, time.Second, tr.Event.Delay)

	e.clock.AwaitWaiters(t, 1) // the back-off
	e.clock.Advance(time.Second)
	rec.expect(t, dms.EventRetry, dms.EventRedirectConnected)
	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultJoinNetworkWait)
	tr = rec.expect(t, dms.EventConnectionFailed)[0]
	require.Equal(t, 2*time.Second, tr.Event.Delay, "the back-off doubles")
	stopAgent(t, a, rec)
}

// TestMalformedJoinNetwork: unusable join-network payloads are logged as
// *NetworkInfoError and ignored; the next good one is taken.
func TestMalformedJoinNetwork(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	catch := &logCatcher{msg: "dms: join-network message ignored", errs: make(chan error, 10)}
	require.NoError(t, e.sim.PublishJoinNetwork(ctx, "dev-4", []byte(`{"url":`)))
	rec := newRecorder()
	cfg := e.config("dev-4", rec)
	cfg.Logger = slog.New(catch)
	a := e.startAgent(cfg)
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected)

	err := <-catch.errs
	require.ErrorIs(t, err, dms.ErrBadNetworkInfo)
	var se *dms.JSONSyntaxError
	require.ErrorAs(t, err, &se)

	require.NoError(t, e.sim.PublishJoinNetwork(ctx, "dev-4", []byte(`{"url":"gopher://h:70"}`)))
	err = <-catch.errs
	require.ErrorIs(t, err, dms.ErrBadNetworkInfo)
	require.Equal(t, dms.StateAwaitingNetworkInfo, a.State())

	require.NoError(t, e.sim.PublishJoinNetwork(ctx, "dev-4", []byte(e.dms.uri())))
	tr := rec.expect(t, dms.EventNetworkInfoReceived, dms.EventDMSConnected)[0]
	require.Equal(t, e.dms.uri(), tr.Event.Server)
	require.False(t, tr.Event.Fallback)
	stopAgent(t, a, rec)
}

// TestDMSRestartMidHeartbeat: the DMS broker goes away and comes back on
// the same port; the client reconnects by itself and the heartbeat goes on
// without a new redirect.
func TestDMSRestartMidHeartbeat(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-5", e.dms.uri()))
	rec := newRecorder()
	a := e.startAgent(e.config("dev-5", rec))
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.Equal(t, "dev-5", <-e.hook.beats)
	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultHeartbeatInterval)
	require.Equal(t, "dev-5", <-e.hook.beats)

	e.dms.restart()
	trs := rec.expect(t, dms.EventConnectionLost, dms.EventDMSConnected)
	require.Equal(t, dms.StateReconnectingDMS, trs[0].To)
	require.ErrorIs(t, trs[0].Event.Err, client.ErrConnectionLost)
	require.Equal(t, dms.StateOnline, trs[1].To)
	require.Equal(t, e.dms.uri(), trs[1].Event.Server)
	// The new broker gets a heartbeat at once and then at the interval.
	require.Equal(t, "dev-5", <-e.hook.beats)
	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultHeartbeatInterval)
	require.Equal(t, "dev-5", <-e.hook.beats)
	stopAgent(t, a, rec)
	// No redirect in between: exactly one RedirectConnected in the history.
	n := 0
	for _, tr := range rec.all() {
		if tr.Event.Kind == dms.EventRedirectConnected {
			n++
		}
	}
	require.Equal(t, 1, n)
}

// TestDMSGoneRestartsFlow: a DMS server that stays away costs
// MaxHeartbeatFailures heartbeats, then the flow starts again from the
// redirect server.
func TestDMSGoneRestartsFlow(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-6", e.dms.uri()))
	rec := newRecorder()
	catch := &logCatcher{msg: "dms: heartbeat failed", errs: make(chan error, 10)}
	cfg := e.config("dev-6", rec)
	cfg.Logger = slog.New(catch)
	a := e.startAgent(cfg)
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.Equal(t, "dev-6", <-e.hook.beats)
	e.dms.close()
	rec.expect(t, dms.EventConnectionLost)
	for range dms.DefaultMaxHeartbeatFailures {
		e.clock.AwaitWaiters(t, 1)
		e.clock.Advance(dms.DefaultHeartbeatInterval)
		require.ErrorIs(t, <-catch.errs, client.ErrNotConnected) // the tick was taken
	}
	tr := rec.expect(t, dms.EventHeartbeatFailed)[0]
	require.Equal(t, dms.StateBackoff, tr.To)
	require.ErrorIs(t, tr.Event.Err, dms.ErrHeartbeat)
	require.ErrorIs(t, tr.Event.Err, client.ErrNotConnected)
	var pe *dms.PhaseError
	require.ErrorAs(t, tr.Event.Err, &pe)
	require.Equal(t, dms.PhaseHeartbeat, pe.Phase)

	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(tr.Event.Delay)
	trs := rec.expect(t, dms.EventRetry, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventConnectionFailed)
	require.ErrorAs(t, trs[3].Event.Err, &pe)
	require.Equal(t, dms.PhaseDMS, pe.Phase)
	stopAgent(t, a, rec)
}

// TestWrongPasswordRefused: a device whose clock is an hour off computes a
// password the broker refuses; the attempt fails with the CONNACK's code and
// is retried with back-off.
func TestWrongPasswordRefused(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder()
	cfg := e.config("dev-7", rec)
	cfg.Password = func(id string, now time.Time) string { return dms.Password(id, now.Add(-time.Hour)) }
	a := e.startAgent(cfg)
	tr := rec.expect(t, dms.EventStart, dms.EventConnectionFailed)[1]
	require.Equal(t, dms.StateBackoff, tr.To)
	require.ErrorIs(t, tr.Event.Err, client.ErrRefused)
	var ce *client.ConnectError
	require.ErrorAs(t, tr.Event.Err, &ce)
	require.Contains(t, []packet.ReturnCode{packet.RefusedBadUserNamePassword, packet.RefusedNotAuthorized}, ce.Code)
	var pe *dms.PhaseError
	require.ErrorAs(t, tr.Event.Err, &pe)
	require.Equal(t, dms.PhaseRedirect, pe.Phase)
	require.NotContains(t, tr.Event.Err.Error(), dms.Password("dev-7", t0.Add(-time.Hour)), "no password in errors")
	stopAgent(t, a, rec)

	// The same device with the right clock gets in.
	rec2 := newRecorder()
	a2 := e.startAgent(e.config("dev-7", rec2))
	rec2.expect(t, dms.EventStart, dms.EventRedirectConnected)
	stopAgent(t, a2, rec2)
}

// TestSimulatorAuthenticate: registered devices with a fresh password pass.
func TestSimulatorAuthenticate(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-8", e.dms.uri()))
	pw := []byte(dms.Password("dev-8", t0))
	require.True(t, e.sim.Authenticate("dev-8", "dev-8", pw))
	require.False(t, e.sim.Authenticate("dev-8", "other", pw))
	require.False(t, e.sim.Authenticate("dev-9", "dev-9", []byte(dms.Password("dev-9", t0))), "not registered")
	e.clock.Advance(200 * time.Second)
	require.False(t, e.sim.Authenticate("dev-8", "dev-8", pw), "too old")
	require.Equal(t, map[string]string{"dev-8": e.dms.uri()}, e.sim.Devices())
	require.NoError(t, e.sim.Unregister(ctx, "dev-8"))
	require.ErrorIs(t, e.sim.Unregister(ctx, "dev-8"), dms.ErrUnknownDevice)
	if diff := cmp.Diff(map[string]string{}, e.sim.Devices()); diff != "" {
		t.Fatal(diff)
	}
}

// TestHeartbeatFailuresFromStatus: a status provider that fails makes every
// heartbeat fail; after MaxHeartbeatFailures in a row the agent leaves the
// DMS server (HeartbeatFailed from Online) and starts again.
func TestHeartbeatFailuresFromStatus(t *testing.T) {
	e := newEnv(t)
	ctx := waitCtx(t)
	require.NoError(t, e.sim.Register(ctx, "dev-10", e.dms.uri()))
	rec := newRecorder()
	catch := &logCatcher{msg: "dms: heartbeat failed", errs: make(chan error, 10)}
	cfg := e.config("dev-10", rec)
	cfg.Logger = slog.New(catch)
	cfg.MaxHeartbeatFailures = 2
	broken := errors.New("sensor bus down")
	cfg.Status = func(context.Context) ([]byte, error) { return nil, broken }
	results := make(chan error, 10)
	cfg.OnHeartbeatResult = func(err error) { results <- err }
	a := e.startAgent(cfg)
	rec.expect(t, dms.EventStart, dms.EventRedirectConnected, dms.EventNetworkInfoReceived, dms.EventDMSConnected)
	require.ErrorIs(t, <-catch.errs, broken) // the one sent at once
	e.clock.AwaitWaiters(t, 1)
	e.clock.Advance(dms.DefaultHeartbeatInterval)
	require.ErrorIs(t, <-catch.errs, broken)
	tr := rec.expect(t, dms.EventHeartbeatFailed)[0]
	require.Equal(t, dms.StateOnline, tr.From)
	require.ErrorIs(t, tr.Event.Err, broken)
	require.ErrorIs(t, tr.Event.Err, dms.ErrHeartbeat)
	require.Empty(t, e.sim.Heartbeats())
	stopAgent(t, a, rec)
	// OnHeartbeatResult saw both failures, typed.
	require.Len(t, results, 2)
	for range 2 {
		err := <-results
		require.ErrorIs(t, err, dms.ErrHeartbeat)
		require.ErrorIs(t, err, broken)
	}
}
