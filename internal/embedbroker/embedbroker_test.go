package embedbroker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/internal/embedbroker"
	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/packet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// TestListenersShareOneBroker checks that a message published through one
// listener reaches a subscriber on another.
func TestListenersShareOneBroker(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Listeners: []string{"a", "b"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()); require.NoError(t, b.Close()) })
	require.NotEqual(t, b.URI("a"), b.URI("b"))
	require.Empty(t, b.URI("c"))
	_, err = b.Addr("c")
	require.ErrorIs(t, err, embedbroker.ErrNoListener)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan string, 1)
	sub := connect(ctx, t, b.URI("a"), "", nil)
	_, err = sub.Subscribe(ctx, func(m *client.Message) { got <- string(m.Payload) },
		client.Subscription{Filter: "x/#", QoS: packet.QoS1})
	require.NoError(t, err)
	pub := connect(ctx, t, b.URI("b"), "", nil)
	require.NoError(t, pub.Publish(ctx, "x/y", packet.QoS1, false, []byte("hello")))
	select {
	case p := <-got:
		require.Equal(t, "hello", p)
	case <-ctx.Done():
		t.Fatal("message not delivered across listeners")
	}
	require.Equal(t, 2, b.Clients())
}

// TestAuthRefuses checks that Config.Auth sees the credentials and that a
// refusal reaches the client as CONNACK "not authorized".
func TestAuthRefuses(t *testing.T) {
	b, err := embedbroker.Start(embedbroker.Config{Auth: func(id, user string, pass []byte) bool {
		return user == "alice" && string(pass) == "secret"
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	connect(ctx, t, b.URI("tcp"), "alice", []byte("secret"))

	c, err := client.New(client.Options{Servers: []string{b.URI("tcp")}, Username: "alice",
		Password: []byte("wrong"), Version: client.Version311})
	require.NoError(t, err)
	err = c.Connect(ctx)
	_ = c.Close()
	var ce *client.ConnectError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, packet.RefusedNotAuthorized, ce.Code)
}

func connect(ctx context.Context, t *testing.T, uri, user string, pass []byte) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{Servers: []string{uri}, Username: user, Password: pass})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	t.Cleanup(func() { _ = c.Close() })
	return c
}
