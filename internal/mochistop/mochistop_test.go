package mochistop

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/packet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// TestCloseWhileClientsLeave closes a server while its clients' connections
// are ending, the situation in which mochi's own Close can deadlock, and
// requires Close to return and leave no goroutine behind. The deadlock needs
// a narrow interleaving, so this test cannot force it; it guards the
// sequence Close uses (see the package documentation).
func TestCloseWhileClientsLeave(t *testing.T) {
	connect, err := (&packet.Connect{CleanSession: true, KeepAlive: 30}).Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 30; round++ {
		s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := s.AddHook(new(allowAll), nil); err != nil {
			t.Fatal(err)
		}
		tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
		if err := s.AddListener(tcp); err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(); err != nil {
			t.Fatal(err)
		}

		// Clients that are connected (CONNACK read) and then leave one
		// after another while Close runs.
		var conns []net.Conn
		for i := 0; i < 8; i++ {
			c, err := net.DialTimeout("tcp", tcp.Address(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(connect); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		leaving := make(chan struct{})
		go func() {
			defer close(leaving)
			for _, c := range conns {
				_ = c.Close()
				runtime.Gosched()
			}
		}()

		closed := make(chan error, 1)
		go func() { closed <- Close(s, "t") }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Close did not return: deadlocked")
		}
		<-leaving
	}
}
