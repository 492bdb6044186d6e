package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/linnet-mqtt/linnet/transport"
)

func ExampleValidate() {
	for _, uri := range []string{
		"tcp://broker.example",
		"tcp://[::1]:1884",
		"tcp://broker.example:0",
		"gopher://broker.example",
	} {
		err := transport.Validate(uri)
		fmt.Println(uri, "->", err == nil, errors.Is(err, transport.ErrBadPort), errors.Is(err, transport.ErrUnknownScheme))
	}
	// Output:
	// tcp://broker.example -> true false false
	// tcp://[::1]:1884 -> true false false
	// tcp://broker.example:0 -> false true false
	// gopher://broker.example -> false false true
}

func ExampleParse() {
	u, err := transport.Parse("mqtt://user:secret@broker.example")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Scheme, u.Host, u.Port, u.Address(), u.Username)
	fmt.Println(u)
	// Output:
	// mqtt broker.example 1883 broker.example:1883 user
	// mqtt://user:xxxxx@broker.example:1883
}

// A custom scheme on a private registry: "mem" hands out in-memory pipes.
type memModule struct{ server chan net.Conn }

func (memModule) Validate(u *transport.URI) error { return transport.ValidateHostPort(u, 1) }

func (m memModule) Dial(ctx context.Context, u *transport.URI, cfg *transport.Config) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case m.server <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func ExampleRegistry_Register() {
	mem := memModule{server: make(chan net.Conn, 1)}
	reg := transport.NewRegistry()
	reg.Register("mem", mem)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, "mem://broker", transport.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	server := <-mem.server
	go func() {
		_, _ = server.Write([]byte{0x20, 0x02, 0x00, 0x00}) // CONNACK
		_ = server.Close()
	}()
	buf := make([]byte, 4)
	n, _ := conn.Read(buf)
	fmt.Printf("% x\n", buf[:n])
	_ = conn.Close()
	// Output: 20 02 00 00
}

func ExampleWithDialer() {
	// Every scheme opens its TCP or unix connection through the hook.
	hook := func(ctx context.Context, network, address string) (net.Conn, error) {
		fmt.Println("dialing", network, address)
		return nil, errors.New("offline")
	}
	_, err := transport.Dial(context.Background(), "mqtt://broker.example", transport.WithDialer(hook))
	var de *transport.DialError
	fmt.Println(errors.As(err, &de))
	// Output:
	// dialing tcp broker.example:1883
	// true
}
