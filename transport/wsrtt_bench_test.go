//go:build !linnet_nows

package transport_test

import (
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
	"github.com/linnet-mqtt/linnet/transport"
)

// PUBLISH QoS 1, topic "rtt", packet id 1, 64-byte payload, as the client's
// writer sends it: one Write per packet.
var rttPublish = append([]byte{0x32, 2 + 3 + 2 + 64, 0, 3, 'r', 't', 't', 0, 1}, make([]byte, 64)...)

// SUBSCRIBE packet id 1 to "rtt" at QoS 1, and its SUBACK.
var (
	rttSubscribe = []byte{0x82, 8, 0, 1, 0, 3, 'r', 't', 't', 1}
	rttSuback    = []byte{0x90, 3, 0, 1, 1}
)

func dialMQTT(b *testing.B, uri, id string) net.Conn {
	conn, err := transport.Dial(ctxT(b), uri, transport.WithProxy(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	testbroker.Handshake(b, conn, id)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	return conn
}

func readExact(b *testing.B, conn net.Conn, buf []byte, first byte) {
	if _, err := io.ReadFull(conn, buf); err != nil {
		b.Fatal(err)
	}
	if buf[0] != first {
		b.Fatalf("got % x, want a packet starting with %#x", buf, first)
	}
}

// reportLatencies adds the median, the 99th percentile and the largest of
// d as metrics.
func reportLatencies(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(d[len(d)-1].Microseconds()), "max-µs")
}

// BenchmarkQoS1RoundTripMosquitto measures, against mosquitto over TCP and
// over its WebSocket listener (libwebsockets), through transport.Dial:
//
//   - publish: one QoS 1 PUBLISH and its PUBACK at a time;
//   - pubsub-gap<N>: one QoS 1 PUBLISH at a time from one connection to a
//     subscriber on another, which acknowledges the previous message N µs
//     before the next PUBLISH leaves, as in a client whose handler starts
//     the next publish while the client acknowledges the message it handled
//     (a goroutine hand-off, some tens of µs).
//
// On the WebSocket listener, pubsub-gap20 shows mosquitto 2.0's stalls:
// when a WebSocket packet reaches mosquitto just after its epoll_wait
// returned (here, the PUBLISH a few µs after the subscriber's PUBACK woke
// it), libwebsockets reads it in its own poll pass, and the PUBLISH to the
// subscriber and the PUBACK wait for the next wake-up of epoll_wait, whose
// timeout is 100 ms. The max and p99 columns show them; the mean (ns/op) is
// the stall rate times 100 ms. With no gap both packets are read in one
// pass, and after 50 µs mosquitto is back in epoll_wait: neither stalls.
func BenchmarkQoS1RoundTripMosquitto(b *testing.B) {
	m := testbroker.StartMosquitto(b, testbroker.MosquittoConfig{WebSockets: true})
	for _, uri := range []string{m.URI(), m.WSURI()} {
		scheme := uri[:2]
		b.Run("publish/"+scheme, func(b *testing.B) {
			conn := dialMQTT(b, uri, "lnt-rtt")
			ack := make([]byte, 4)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, err := conn.Write(rttPublish); err != nil {
					b.Fatal(err)
				}
				readExact(b, conn, ack, 0x40)
				lat = append(lat, time.Since(start))
			}
			reportLatencies(b, lat)
		})
		for _, gap := range []time.Duration{0, 20 * time.Microsecond} {
			b.Run("pubsub-gap"+strconv.Itoa(int(gap.Microseconds()))+"/"+scheme, func(b *testing.B) {
				pubsubRoundTrips(b, uri, gap)
			})
		}
	}
}

func pubsubRoundTrips(b *testing.B, uri string, gap time.Duration) {
	sub := dialMQTT(b, uri, "lnt-rtt-sub")
	if _, err := sub.Write(rttSubscribe); err != nil {
		b.Fatal(err)
	}
	readExact(b, sub, make([]byte, len(rttSuback)), rttSuback[0])
	pub := dialMQTT(b, uri, "lnt-rtt-pub")
	got := make([]byte, len(rttPublish))
	ack := make([]byte, 4)
	pending := false
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if pending { // the subscriber's PUBACK of the previous message
			if _, err := sub.Write([]byte{0x40, 2, got[7], got[8]}); err != nil {
				b.Fatal(err)
			}
			for t := time.Now(); time.Since(t) < gap; { // spin: sleeping is too coarse
			}
		}
		if _, err := pub.Write(rttPublish); err != nil {
			b.Fatal(err)
		}
		readExact(b, pub, ack, 0x40)
		readExact(b, sub, got, 0x32)
		pending = true
		lat = append(lat, time.Since(start))
	}
	reportLatencies(b, lat)
}
