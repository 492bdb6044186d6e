package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/embedbroker"
)

func init() {
	commands["demo"] = command{"run the DMS flow end to end on an embedded broker, in a few seconds", runDemo}
}

const demoUsage = `Usage: linnet demo [flags]

Runs the whole DMS story on this machine, with nothing to install:

  1. starts mochi-mqtt in this process on 127.0.0.1, with a redirect listener
     and a DMS listener, and the DMS back-end simulator, which only admits
     devices with a valid password;
  2. starts a device agent: it connects to the redirect server, receives the
     join-network message naming the DMS server, and moves there (the
     two-phase connect);
  3. shows its heartbeats arriving at the back end (interval shortened);
  4. sends the device a control message; the device answers it on its DMS
     connection (Agent.PublishAsync, on /elogger/<id>/ctrlReply);
  5. probes the device by RRPC: online, with the round trip;
  6. silences the device (it stops answering RRPC) and probes again: offline
     under the normal policy, after two probes without a reply;
  7. shuts everything down cleanly.

It prints one readable line per step and exits 0 when every step did what it
should, 1 otherwise.

Examples:
  linnet demo
  go run ./cmd/linnet demo
  linnet demo -heartbeats 5 -heartbeat 500ms

Flags:
`

// errSilenced is the demo device's RRPC answer once silenced: no reply.
var errSilenced = errors.New("silenced by the demo")

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("linnet demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	device := fs.String("device", "dev-0042", "device `id`")
	heartbeat := fs.Duration("heartbeat", time.Second, "heartbeat interval of the device")
	heartbeats := fs.Int("heartbeats", 3, "heartbeats to wait for before probing")
	probeTimeout := fs.Duration("probe-timeout", 2*time.Second, "how long one RRPC probe waits for its reply")
	limit := fs.Duration("timeout", 50*time.Second, "give up (exit 1) if the demo has not finished by then")
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	if code, ok := parseNoArgs(fs, args, stderr); !ok {
		return code
	}
	if *device == "" || strings.ContainsAny(*device, "/+#") || *heartbeat <= 0 || *heartbeats < 1 ||
		*probeTimeout <= 0 || *limit <= 0 {
		fmt.Fprintln(stderr, "linnet demo: -device is a name without / + #; durations and -heartbeats must be positive")
		return exitUsage
	}
	sig, stopSig := signalContext()
	defer stopSig()
	ctx, cancel := context.WithTimeoutCause(sig, *limit, fmt.Errorf("the demo did not finish within -timeout %v", *limit))
	defer cancel()
	d := &demo{out: &linePrinter{w: stdout, start: time.Now()}, id: *device}
	err := d.run(ctx, *heartbeat, *heartbeats, *probeTimeout)
	d.shutdown()
	if err != nil {
		fmt.Fprintf(stderr, "linnet demo: %s\n", oneLine(describeErr(withCause(ctx, err))))
		return exitFailure
	}
	d.out.printf("demo      done: two-phase connect, heartbeats, a control message answered, RRPC online, silenced device offline, clean shutdown")
	return exitOK
}

// demo holds what runDemo started, so that shutdown can stop it in order
// whatever step failed.
type demo struct {
	out *linePrinter
	id  string

	broker   *embedbroker.Broker
	sim      *dms.Simulator
	agent    *dms.Agent
	prober   *dms.Prober
	probeCli *client.Client
	silenced atomic.Bool
}

func (d *demo) run(ctx context.Context, heartbeat time.Duration, heartbeats int, probeTimeout time.Duration) error {
	const backend = "linnet-demo-backend-"
	var sim atomic.Pointer[dms.Simulator]
	b, err := embedbroker.Start(embedbroker.Config{
		Listeners: []string{"redirect", "dms"},
		Auth: func(clientID, user string, pass []byte) bool {
			if strings.HasPrefix(clientID, backend) {
				return true // the back end's own clients
			}
			s := sim.Load()
			return s != nil && s.Authenticate(clientID, user, pass)
		},
	})
	if err != nil {
		return err
	}
	d.broker = b
	redirectURI, dmsURI := b.URI("redirect"), b.URI("dms")
	d.out.printf("broker    mochi-mqtt in process: redirect server %s, DMS server %s", redirectURI, dmsURI)

	s, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{redirectURI}, ClientID: backend + "redirect"},
		DMS:      &client.Options{Servers: []string{dmsURI}, ClientID: backend + "dms"},
		OnHeartbeat: func(h dms.Heartbeat) {
			d.out.printf("backend   heartbeat from %s: %s", h.DeviceID, h.Payload)
		},
	})
	if err != nil {
		return err
	}
	sim.Store(s)
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("starting the back-end simulator: %w", err)
	}
	d.sim = s
	if err := s.Register(ctx, d.id, dmsURI); err != nil {
		return fmt.Errorf("registering the device: %w", err)
	}
	topics := dms.Topics{}.For(d.id)
	d.out.printf("backend   registered %s: join-network {\"url\":%q} retained on %s", d.id, dmsURI, topics.JoinNetwork)

	online := make(chan struct{})
	var onlineSeen atomic.Bool
	rrpcDev := dms.Device{ProductKey: "demo", DeviceName: d.id}
	replyTopic := "/elogger/" + d.id + "/ctrlReply"
	var agent *dms.Agent
	agent, err = dms.NewAgent(dms.Config{
		DeviceID:          d.id,
		RedirectServer:    redirectURI,
		HeartbeatInterval: heartbeat,
		JoinNetworkWait:   20 * time.Second,
		RRPC: &dms.RRPCConfig{ProductKey: rrpcDev.ProductKey, DeviceName: rrpcDev.DeviceName,
			Handler: func(req *dms.RRPCRequest) ([]byte, error) {
				if d.silenced.Load() {
					return nil, errSilenced
				}
				d.out.printf("device    RRPC request %s, answering", req.MessageID)
				return dms.EchoRRPC(req)
			}},
		OnControlDevice: func(topic string, payload []byte) {
			// On the client's dispatcher: PublishAsync, which does not wait.
			d.out.printf("device    control message %s, answering on %s", payload, replyTopic)
			reply := append([]byte(`{"request":`), payload...)
			reply = append(reply, `,"status":"ok"}`...)
			if _, err := agent.PublishAsync(replyTopic, 1, false, reply); err != nil {
				d.out.printf("device    cannot answer: %v", err)
			}
		},
		OnTransition: func(tr dms.Transition) {
			line := fmt.Sprintf("%-19s --%s--> %s", tr.From, tr.Event.Kind, tr.To)
			if tr.Event.Server != "" {
				line += "  " + tr.Event.Server
			}
			if tr.Event.Err != nil {
				line += "  (" + oneLine(tr.Event.Err.Error()) + ")"
			}
			d.out.printf("device    %s", line)
			if tr.To == dms.StateOnline && onlineSeen.CompareAndSwap(false, true) {
				close(online)
			}
		},
	})
	if err != nil {
		return err
	}
	d.out.printf("demo      step 1: two-phase connect of %s (password = md5(\"ovopark_%s_\" + unix/100))", d.id, d.id)
	if err := agent.Start(); err != nil {
		return err
	}
	d.agent = agent
	select {
	case <-online:
	case <-ctx.Done():
		return fmt.Errorf("the device did not come online: %w", context.Cause(ctx))
	}

	d.out.printf("demo      step 2: heartbeats every %v on %s", heartbeat, topics.Heartbeat)
	if _, err := s.WaitHeartbeats(ctx, heartbeats); err != nil {
		return fmt.Errorf("waiting for %d heartbeats: %w", heartbeats, err)
	}

	pc, err := client.New(client.Options{Servers: []string{dmsURI}, ClientID: backend + "prober"})
	if err != nil {
		return err
	}
	d.probeCli = pc
	if err := pc.Connect(ctx); err != nil {
		return fmt.Errorf("connecting the back end's client: %w", err)
	}

	d.out.printf("demo      step 3: the back end sends %s a control message", d.id)
	replied := make(chan struct{}, 1)
	if _, err := pc.Subscribe(ctx, func(m *client.Message) {
		d.out.printf("backend   reply from %s on %s: %s", d.id, m.Topic, m.Payload)
		select {
		case replied <- struct{}{}:
		default:
		}
	}, client.Subscription{Filter: replyTopic, QoS: 0}); err != nil {
		// QoS 0 keeps mochi's outbound packet ids off this client, on
		// which the prober subscribes next: in a trial where two QoS 1
		// replies were in flight to it, mochi v2.7.9 answered that
		// SUBSCRIBE with a return code MQTT 3.1.1 does not have.
		return fmt.Errorf("subscribing to the device's replies: %w", err)
	}
	// On the DMS server only: the demo's two servers are one broker, where
	// the simulator's SendControl (both servers) would deliver it twice.
	if err := pc.Publish(ctx, topics.ControlDevice, 1, false, []byte(`{"cmd":"report-status"}`)); err != nil {
		return fmt.Errorf("sending the control message: %w", err)
	}
	select {
	case <-replied:
	case <-ctx.Done():
		return fmt.Errorf("the device did not answer the control message: %w", context.Cause(ctx))
	}

	d.out.printf("demo      step 4: RRPC probe of %s (timeout %v, policy %s)", rrpcDev, probeTimeout, dms.PolicyNormal)
	p, err := dms.NewProber(ctx, pc, dms.ProberConfig{Timeout: probeTimeout, Policy: dms.PolicyNormal})
	if err != nil {
		return err
	}
	d.prober = p
	v := p.Check(ctx, rrpcDev)
	d.printVerdict(v)
	if !v.Online {
		return fmt.Errorf("the device should be online, the probe said offline: %w", errors.Join(v.Errs...))
	}

	d.out.printf("demo      step 5: %s stops answering RRPC (silenced); probing again", d.id)
	d.silenced.Store(true)
	// Probe by probe rather than Check, so that each failure shows as it
	// happens; the verdict follows the same policy.
	policy := int(dms.PolicyNormal)
	for i := 1; i <= policy; i++ {
		rtt, err := p.Probe(ctx, rrpcDev)
		switch {
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case err == nil:
			return fmt.Errorf("the silenced device answered probe %d in %v", i, rtt)
		case !errors.Is(err, dms.ErrProbeTimeout):
			return fmt.Errorf("probe %d: %w", i, err)
		}
		d.out.printf("prober    %s probe %d of %d: %s", rrpcDev, i, policy, probeErrText(err))
	}
	d.out.printf("prober    %s OFFLINE: %d probes in a row without a reply (policy %s)", rrpcDev, policy, dms.PolicyNormal)
	d.out.printf("demo      step 6: clean shutdown")
	return nil
}

func (d *demo) printVerdict(v dms.Verdict) {
	for i, e := range v.Errs {
		d.out.printf("prober    %s probe %d failed: %s", v.Device, i+1, probeErrText(e))
	}
	if v.Online {
		d.out.printf("prober    %s ONLINE: round trip %v, %d probe(s)", v.Device, v.RTT.Round(10*time.Microsecond), v.Attempts)
		return
	}
	d.out.printf("prober    %s OFFLINE after %d failed probes in a row (policy %s)", v.Device, v.Attempts, dms.PolicyNormal)
}

// shutdown stops, in order, whatever run started: prober, device,
// back end, broker. Each gets a bounded time.
func (d *demo) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d.prober != nil {
		_ = d.prober.Close(ctx)
	}
	if d.probeCli != nil {
		if d.probeCli.Disconnect(ctx) != nil {
			_ = d.probeCli.Close()
		}
	}
	if d.agent != nil {
		if err := d.agent.Stop(ctx); err != nil {
			d.out.printf("device    stop: %v", err)
		}
	}
	if d.sim != nil {
		if err := d.sim.Stop(ctx); err != nil {
			d.out.printf("backend   stop: %v", err)
		}
	}
	if d.broker != nil {
		_ = d.broker.Close()
		d.out.printf("broker    stopped")
	}
}
