package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// allowAll lets every client connect and use every topic.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// startBroker starts an in-process mochi-mqtt broker on 127.0.0.1 for the
// examples and returns its URI and a stop function.
func startBroker() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = s.AddHook(new(allowAll), nil)
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		panic(err)
	}
	if err := s.Serve(); err != nil {
		panic(err)
	}
	return "tcp://" + addr, func() { s.Close() }
}

func Example() {
	uri, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.New(client.Options{Servers: []string{uri}, ClientID: "example"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}
	got := make(chan string, 1)
	codes, err := c.Subscribe(ctx, func(m *client.Message) { got <- m.Topic + " " + string(m.Payload) },
		client.Subscription{Filter: "greetings/+", QoS: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("granted:", codes)
	if err := c.Publish(ctx, "greetings/world", 1, false, []byte("hello")); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	if err := c.Disconnect(ctx); err != nil {
		panic(err)
	}
	// Output:
	// granted: [granted QoS1]
	// greetings/world hello
}

func ExampleClient_PublishAsync() {
	uri, stop := startBroker()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(client.Options{Servers: []string{uri}})
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		panic(err)
	}
	toks := make([]*client.Token, 3)
	for i := range toks {
		toks[i] = c.PublishAsync("jobs", packet.QoS2, false, []byte{byte(i)})
	}
	for _, t := range toks {
		if err := t.Wait(ctx); err != nil { // completes at PUBCOMP
			panic(err)
		}
	}
	fmt.Println("all delivered")
	// Output: all delivered
}

func ExampleConnectError() {
	err := error(&client.ConnectError{Code: packet.RefusedNotAuthorized, Server: "tcp://broker:1883"})
	fmt.Println(errors.Is(err, &client.ConnectError{Code: packet.RefusedNotAuthorized}))
	fmt.Println(errors.Is(err, client.ErrRefused))
	fmt.Println(err)
	// Output:
	// true
	// true
	// mqtt: connection refused: not authorized (CONNACK code 5) by tcp://broker:1883
}

func ExampleBackoff_Delay() {
	b := client.Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: 0.5}
	for attempt := range 6 {
		fmt.Println(b.Delay(attempt, 0), b.Delay(attempt, 0.5))
	}
	// Output:
	// 1s 750ms
	// 2s 1.5s
	// 4s 3s
	// 8s 6s
	// 16s 12s
	// 30s 22.5s
}
