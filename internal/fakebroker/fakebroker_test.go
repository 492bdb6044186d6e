package fakebroker

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
	"github.com/linnet-mqtt/linnet/packet"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// TestScript checks the helpers on both kinds of connection: the broker
// sees the client's packets in order, its own packets reach the client,
// and a close is seen as io.EOF.
func TestScript(t *testing.T) {
	for _, kind := range []string{"pipe", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			fb := New(t)
			dial := fb.Dial
			if kind == "tcp" {
				uri := fb.ListenTCP(t)
				dial = func(ctx context.Context, _, _ string) (netConn, error) {
					var d dialer
					return d.DialContext(ctx, "tcp", uri[len("tcp://"):])
				}
			}
			nc, err := dial(context.Background(), "tcp", "x")
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			sc := fb.Accept(t)
			w := packet.NewWriter(nc)
			if err := w.WritePacket(&packet.Connect{ClientID: "c", CleanSession: true}); err != nil {
				t.Fatal(err)
			}
			sc.WantPacket(t, &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, ClientID: "c", CleanSession: true})
			read := make(chan packet.Packet, 1)
			go func() { // a pipe's write waits for the read
				p, err := packet.NewReader(nc).ReadPacket()
				if err != nil {
					read <- nil
					return
				}
				read <- packet.Clone(p)
			}()
			sc.WritePacket(t, &packet.Connack{SessionPresent: false})
			if p := <-read; p == nil || p.Type() != packet.TypeConnack {
				t.Fatalf("client read %v", p)
			}
			if _, err := sc.Next(time.Millisecond); !errors.Is(err, ErrTimeout) {
				t.Fatalf("Next on a quiet connection: %v", err)
			}
			nc.Close()
			sc.WantClosed(t)
			if !errors.Is(sc.Err(), io.EOF) {
				t.Fatalf("Err after the client's close: %v", sc.Err())
			}
		})
	}
}

// TestRefuseDials checks RefuseDials and that a broker works inside a
// synctest bubble.
func TestRefuseDials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := New(t)
		fb.RefuseDials(1)
		if _, err := fb.Dial(context.Background(), "tcp", "x"); !errors.Is(err, ErrRefused) {
			t.Fatalf("first dial: %v", err)
		}
		nc, err := fb.Dial(context.Background(), "tcp", "x")
		if err != nil {
			t.Fatal(err)
		}
		sc := fb.Accept(t)
		sc.Timeout = time.Hour
		start := time.Now()
		if _, err := sc.Next(time.Hour); !errors.Is(err, ErrTimeout) {
			t.Fatal(err)
		}
		if time.Since(start) != time.Hour {
			t.Fatal("fake time did not advance")
		}
		nc.Close()
		sc.WantClosed(t)
	})
}

type netConn = net.Conn
type dialer = net.Dialer
