package brokercheck

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
)

// pipeDial returns a Config.Dial that hands each connection of a check to
// serve, over net.Pipe, so that a test in a synctest bubble runs the whole
// suite against a scripted server on fake time.
func pipeDial(serve func(net.Conn)) func(context.Context) (net.Conn, error) {
	return func(context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			serve(server)
		}()
		return client, nil
	}
}

// silent reads everything and answers nothing.
func silent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// eager answers like a broker that routes nothing, and sends a PUBLISH
// before every SUBACK: the server that hung the suite.
func eager(c net.Conn) {
	rd := packet.NewReader(c)
	w := packet.NewWriter(c)
	for {
		p, err := rd.ReadPacket()
		if err != nil {
			return
		}
		var out []packet.Packet
		switch p := p.(type) {
		case *packet.Connect:
			out = append(out, &packet.Connack{})
		case *packet.Subscribe:
			codes := make([]packet.SubackCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				codes[i] = packet.SubackCode(s.QoS)
			}
			// A message on the first filter's topic (wildcards
			// filled in), as a retained message would be.
			topic := strings.NewReplacer("+", "x", "#", "x").Replace(p.Subscriptions[0].Filter)
			out = append(out, &packet.Publish{Topic: topic, Payload: []byte("before the SUBACK")},
				&packet.Suback{PacketID: p.PacketID, ReturnCodes: codes})
		case *packet.Unsubscribe:
			out = append(out, &packet.Unsuback{PacketID: p.PacketID})
		case *packet.Publish:
			switch p.QoS {
			case 1:
				out = append(out, &packet.Puback{PacketID: p.PacketID})
			case 2:
				out = append(out, &packet.Pubrec{PacketID: p.PacketID})
			}
		case *packet.Pubrel:
			out = append(out, &packet.Pubcomp{PacketID: p.PacketID})
		case *packet.Pingreq:
			out = append(out, &packet.Pingresp{})
		case *packet.Disconnect:
			return
		}
		for _, q := range out {
			if err := w.WritePacket(q); err != nil {
				return
			}
		}
	}
}

// runBounded runs every check against serve at parallel 4 in a synctest
// bubble and checks the bounds: each check within its limit, the run
// within the sum of the limits.
func runBounded(t *testing.T, serve func(net.Conn)) []Result {
	var results []Result
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{URI: "tcp://scripted:1883", Dial: pipeDial(serve), Timeout: 2 * time.Second, Prefix: "lntbound",
			RefusedFilter: "refused/#"}
		start := time.Now()
		var err error
		results, err = Run(context.Background(), cfg, Checks())
		require.NoError(t, err)
		elapsed := time.Since(start)
		var sum time.Duration
		for _, r := range results {
			require.LessOrEqual(t, r.Duration, r.Limit, "%s ran past its limit", r.Name)
			require.Equal(t, Checks()[0].Limit(cfg), cfg.Timeout)
			sum += r.Limit
		}
		require.LessOrEqual(t, elapsed, sum)
		synctest.Wait()
	})
	return results
}

// TestRunBoundedSilentServer runs the suite against a server that accepts
// connections and never answers: every check times out within its limit,
// with the packets it sent, and the run ends within checks x limit.
func TestRunBoundedSilentServer(t *testing.T) {
	results := runBounded(t, silent)
	for _, r := range results {
		if r.Name == "websocket-framing" { // tcp:// here
			require.Equal(t, Skip, r.Status)
			continue
		}
		require.Equal(t, Timeout, r.Status, "%s: %s", r.Name, r.Reason)
		require.NotEmpty(t, r.Transcript, r.Name)
		require.Contains(t, r.Transcript[len(r.Transcript)-1], "waiting for", r.Name)
	}
	require.Equal(t, len(results)-1, Summarize(results).TimedOut)
}

// TestRunBoundedPublishBeforeSuback runs the suite against a server that
// sends a PUBLISH before every SUBACK and routes nothing: no check runs
// past its limit, the checks that need no routing pass, and a check that
// waits for a message reports a timeout, not a broken rule.
func TestRunBoundedPublishBeforeSuback(t *testing.T) {
	results := runBounded(t, eager)
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	require.Equal(t, Pass, byName["pingreq"].Status, byName["pingreq"].Reason)
	require.Equal(t, Pass, byName["publish-qos3"].Status, byName["publish-qos3"].Reason)
	r := byName["retained-delete"]
	require.Equal(t, Timeout, r.Status, r.Reason)
	require.Equal(t, "MQTT-3.3.1-10", r.Rule)
	require.Contains(t, r.Reason, "the empty retained message")
	require.NotEmpty(t, r.Transcript)
	// A message that came before the UNSUBACK is no breach of the
	// unsubscribe rule.
	require.NotEqual(t, "MQTT-3.10.4-2", byName["unsubscribe"].Rule, byName["unsubscribe"].Reason)
	require.NotEqual(t, "MQTT-3.10.4-2", byName["interop-unsubscribe"].Rule, byName["interop-unsubscribe"].Reason)
}
