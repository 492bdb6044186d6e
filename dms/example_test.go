package dms_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/dms"
	"github.com/linnet-mqtt/linnet/internal/mochifix"
	"github.com/linnet-mqtt/linnet/transport"
)

// passwordHook is a mochi authentication hook for DMS devices: the back
// end's own clients (user names "backend-…") pass, a device needs client id
// = user name and the MD5 password of the current time.
type passwordHook struct{ mqtt.HookBase }

func (passwordHook) ID() string { return "dms-password" }
func (passwordHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (passwordHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if strings.HasPrefix(user, "backend-") {
		return true
	}
	return cl.ID == user && dms.CheckPassword(user, string(pk.Connect.Password), time.Now())
}
func (passwordHook) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// exampleBroker starts an in-process mochi broker on a free loopback port
// and returns its URI.
func exampleBroker() (uri string, stop func()) {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	// One broker plays both servers: the agent leaves the redirect server
	// and connects again with the same id at once (see internal/mochifix).
	if err := mochifix.AddTo(s, nil); err != nil {
		panic(err)
	}
	if err := s.AddHook(new(passwordHook), nil); err != nil {
		panic(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		panic(err)
	}
	if err := s.Serve(); err != nil {
		panic(err)
	}
	return "tcp://" + l.Address(), func() { _ = s.Close() }
}

// An agent on a redirect server and a DMS server, with the simulator
// playing the back end.
func ExampleAgent() {
	redirect, stopRedirect := exampleBroker()
	defer stopRedirect()
	dmsServer, stopDMS := exampleBroker()
	defer stopDMS()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	sim, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{redirect}, ClientID: "backend-r", Username: "backend-r"},
		DMS:      &client.Options{Servers: []string{dmsServer}, ClientID: "backend-d", Username: "backend-d"},
	})
	if err != nil {
		panic(err)
	}
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	defer sim.Stop(ctx)
	if err := sim.Register(ctx, "dev-1", dmsServer); err != nil { // the retained join-network message
		panic(err)
	}

	agent, err := dms.NewAgent(dms.Config{
		DeviceID:       "dev-1",
		RedirectServer: redirect,
		Status: func(context.Context) ([]byte, error) {
			return []byte(`{"deviceId":"dev-1","battery":97}`), nil
		},
		OnTransition: func(tr dms.Transition) { fmt.Println(tr.From, "->", tr.To, "on", tr.Event.Kind) },
	})
	if err != nil {
		panic(err)
	}
	if err := agent.Start(); err != nil {
		panic(err)
	}
	beats, err := sim.WaitHeartbeats(ctx, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("heartbeat: %s\n", beats[0].Payload)
	if err := agent.Stop(ctx); err != nil {
		panic(err)
	}
	// Output:
	// Idle -> ConnectingRedirect on Start
	// ConnectingRedirect -> AwaitingNetworkInfo on RedirectConnected
	// AwaitingNetworkInfo -> ConnectingDMS on NetworkInfoReceived
	// ConnectingDMS -> Online on DMSConnected
	// heartbeat: {"deviceId":"dev-1","battery":97}
	// Online -> Stopping on Stop
	// Stopping -> Stopped on Stopped
}

// A prober checks a device that answers RRPC with ServeRRPC.
func ExampleProber() {
	server, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	device, _ := client.New(client.Options{Servers: []string{server}, ClientID: "backend-device", Username: "backend-device"})
	if err := device.Connect(ctx); err != nil {
		panic(err)
	}
	defer device.Close()
	lamp := dms.Device{ProductKey: "pk", DeviceName: "lamp"}
	if err := dms.ServeRRPC(ctx, device, lamp, nil, nil); err != nil { // nil handler: echo
		panic(err)
	}

	backend, _ := client.New(client.Options{Servers: []string{server}, ClientID: "backend-prober", Username: "backend-prober"})
	if err := backend.Connect(ctx); err != nil {
		panic(err)
	}
	defer backend.Close()
	p, err := dms.NewProber(ctx, backend, dms.ProberConfig{Policy: dms.PolicyStrict, Timeout: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)
	for _, v := range p.CheckAll(ctx, []dms.Device{lamp}) {
		fmt.Println(v.Device, "online:", v.Online, "attempts:", v.Attempts)
	}
	// Output:
	// pk/lamp online: true attempts: 1
}

// The default password scheme and its check.
func ExamplePassword() {
	at := time.Unix(1700000000, 0)
	pw := dms.Password("dev-42", at)
	fmt.Println(pw)
	fmt.Println(dms.CheckPassword("dev-42", pw, at.Add(30*time.Second)))
	fmt.Println(dms.CheckPassword("dev-42", pw, at.Add(time.Hour)))
	// Output:
	// c58f480047ef0fd70206d4619ce4d13b
	// true
	// false
}

// Join-network payloads the agent accepts, and one it ignores.
func ExampleParseNetworkInfo() {
	for _, p := range []string{
		`{"url":"ssl://dms.example:8883"}`,
		`tcp://10.0.0.2:1883`,
		`{"host":"dms.example"}`,
	} {
		uri, err := dms.ParseNetworkInfo("/elogger/dev-1/join_network", []byte(p), transport.Validate)
		fmt.Printf("%q %v\n", uri, err != nil)
	}
	// Output:
	// "ssl://dms.example:8883" false
	// "tcp://10.0.0.2:1883" false
	// "" true
}

// A device that answers control messages on its DMS connection, and reads
// a join-network message in a format of its own ("dms=<uri>").
func ExampleAgent_PublishAsync() {
	broker, stop := exampleBroker() // redirect and DMS server at once
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sim, err := dms.NewSimulator(dms.SimulatorConfig{
		Redirect: client.Options{Servers: []string{broker}, ClientID: "backend-1", Username: "backend-1"},
	})
	if err != nil {
		panic(err)
	}
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	defer sim.Stop(ctx)
	if err := sim.PublishJoinNetwork(ctx, "dev-2", []byte("dms="+broker)); err != nil {
		panic(err)
	}

	var agent *dms.Agent
	online := make(chan struct{})
	agent, err = dms.NewAgent(dms.Config{
		DeviceID:       "dev-2",
		RedirectServer: broker,
		NetworkInfo: func(topic string, payload []byte) (string, error) {
			uri, ok := strings.CutPrefix(string(payload), "dms=")
			if !ok {
				return "", fmt.Errorf("no dms= in %q", payload)
			}
			return uri, nil
		},
		OnControlDevice: func(topic string, payload []byte) {
			// On the client's dispatcher: PublishAsync does not wait.
			if _, err := agent.PublishAsync("/elogger/dev-2/ctrlReply", 1, false, []byte("done")); err != nil {
				fmt.Println("cannot answer:", err)
			}
		},
		OnTransition: func(tr dms.Transition) {
			if tr.To == dms.StateOnline {
				close(online)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	if err := agent.Publish(ctx, "/elogger/dev-2/hello", 1, false, nil); err != nil {
		fmt.Println(err)
	}
	if err := agent.Start(); err != nil {
		panic(err)
	}
	<-online

	backend, err := client.New(client.Options{Servers: []string{broker}, ClientID: "backend-2", Username: "backend-2"})
	if err != nil {
		panic(err)
	}
	if err := backend.Connect(ctx); err != nil {
		panic(err)
	}
	defer backend.Close()
	replies := make(chan string, 1)
	if _, err := backend.Subscribe(ctx, func(m *client.Message) { replies <- string(m.Payload) },
		client.Subscription{Filter: "/elogger/dev-2/ctrlReply"}); err != nil {
		panic(err)
	}
	if err := backend.Publish(ctx, "/elogger/dev-2/ctrlDevice", 1, false, []byte(`{"cmd":"reboot"}`)); err != nil {
		panic(err)
	}
	fmt.Println("reply:", <-replies)
	if err := agent.Stop(ctx); err != nil {
		panic(err)
	}
	// Output:
	// dms: the agent is Idle, not Online
	// reply: done
}
