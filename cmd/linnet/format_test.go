package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/client"
	"github.com/linnet-mqtt/linnet/packet"
)

// TestFormat checks -F on fixed messages and a fixed time against the
// output of mosquitto_sub 2.0 (taken from runs of it; TestFormatMosquitto
// compares with the installed one live).
func TestFormat(t *testing.T) {
	now := time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.FixedZone("CET", 3600))
	text := &client.Message{Topic: "a/b", Payload: []byte(`say "hi"` + "\t\\ é"), QoS: 1, Retain: true, MessageID: 7}
	empty := &client.Message{Topic: "e", QoS: 0}
	bin := &client.Message{Topic: "bin", Payload: []byte{'a', 0, 'b', 0x1f}, QoS: 2, MessageID: 300}
	js := &client.Message{Topic: "j", Payload: []byte(`{"a": [1, 2.50, "x", {}], "b": 1e2, "c": 1e20, "d": -0.1}`), QoS: 0}
	for _, tc := range []struct {
		format string
		m      *client.Message
		pretty bool
		want   string
	}{
		{"%t %p %l %q %r %m", text, false, `a/b say "hi"` + "\t\\ é 13 1 1 7"},
		{"%t|%p|%l|%q|%r|%m", empty, false, "e||0|0|0|0"},
		{"%x %X", bin, false, "6100621f 6100621F"},
		// A hex payload with a width is cut to the width, then halved, as
		// mosquitto_sub 2.0 does: %3x prints one byte, %10X five.
		{"%-6t|%6t|%.1t|%05l|%-5l|%5p|%-8p|%3x|%10X", text, false,
			`a/b   |   a/b|a|00013|13   |say "|say "hi"| 73|7361792022`},
		{"%08m|%-4m|%4q", bin, false, "00000300|300 |2"},
		{"%%|@@|\\t|\\\\|\\e|\\0|%A|%3A|%03E|%2C|%D|%P|%R|%2S", text, false, "%|@|\t|\\|\x1b|\x00||   |000|  ||||  "},
		{"%I|%U", text, false, "2024-03-05T07:08:09+0100|1709618889.123456789"},
		{"@Y-@m-@d @H:@M:@S.@N @z @a @b @e @j @s @Q", text, false, "2024-03-05 07:08:09.123456789 +0100 Tue Mar  5 065 1709618889 %Q"},
		{"%j", text, false, `{"tst":"2024-03-05T07:08:09.123456+0100","topic":"a/b","qos":1,"retain":1,"payloadlen":13,"mid":7,"payload":"say \"hi\"\t\\ é"}`},
		{"%j", empty, false, `{"tst":"2024-03-05T07:08:09.123456+0100","topic":"e","qos":0,"retain":0,"payloadlen":0,"payload":null}`},
		{"%j", bin, false, `{"tst":"2024-03-05T07:08:09.123456+0100","topic":"bin","qos":2,"retain":0,"payloadlen":4,"mid":300,"payload":"a"}`},
		{"%j", empty, true, "{\n\t\"tst\":\t\"2024-03-05T07:08:09.123456+0100\",\n\t\"topic\":\t\"e\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n\t\"payloadlen\":\t0,\n\t\"payload\":\tnull\n}"},
		{"%J", js, false, `{"tst":"2024-03-05T07:08:09.123456+0100","topic":"j","qos":0,"retain":0,"payloadlen":57,"payload":{"a":[1,2.5,"x",{}],"b":100,"c":1e+20,"d":-0.1}}`},
		{"%J", js, true, "{\n\t\"tst\":\t\"2024-03-05T07:08:09.123456+0100\",\n\t\"topic\":\t\"j\",\n\t\"qos\":\t0,\n\t\"retain\":\t0,\n\t\"payloadlen\":\t57,\n\t\"payload\":\t{\n\t\t\"a\":\t[1, 2.5, \"x\", {\n\t\t\t}],\n\t\t\"b\":\t100,\n\t\t\"c\":\t1e+20,\n\t\t\"d\":\t-0.1\n\t}\n}"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			ops, err := compileFormat(tc.format)
			require.NoError(t, err)
			got, err := render(nil, ops, tc.m, now, tc.pretty)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	ops, err := compileFormat("<%J>")
	require.NoError(t, err)
	got, err := render(nil, ops, text, now, false)
	require.ErrorContains(t, err, "the payload on topic a/b is not valid JSON")
	require.Equal(t, "<>", string(got), "the rest of the format is still printed")
}

// TestFormatErrors checks that a bad -F is refused, naming the bad
// specifier, as mosquitto_sub does.
func TestFormatErrors(t *testing.T) {
	for format, want := range map[string]string{
		"%":     "incomplete format specifier",
		"%-5":   "incomplete format specifier",
		"%k":    "invalid format specifier 'k'",
		"\\q":   "invalid escape specifier 'q'",
		"ab\\":  "incomplete escape specifier",
		"time@": "incomplete format specifier '@'",
	} {
		_, err := compileFormat(format)
		require.ErrorContains(t, err, want, "format %q", format)
	}
}

// TestReadPayloadBounded checks that an input larger than the limit is
// refused without being read whole: a regular file by its size before any
// read, a stream after at most limit+1 bytes, a line of -l as soon as it
// passes the limit.
func TestReadPayloadBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(path, make([]byte, 101), 0o600))
	_, err := readFile(path, 100)
	var big *tooLargeError
	require.ErrorAs(t, err, &big)
	require.Equal(t, int64(101), big.size, "the size comes from stat, before reading")
	require.Equal(t, exitUsage, exitCodeFor(err))

	b, err := readFile(path, 101)
	require.NoError(t, err)
	require.Len(t, b, 101)

	r := &countingReader{}
	_, err = readPayload(r, "standard input", 1000)
	require.ErrorAs(t, err, &big)
	require.LessOrEqual(t, r.n, 1001+512, "read at most the limit and one buffer more")

	r = &countingReader{}
	var lines int
	err = eachLine(io.MultiReader(strings.NewReader("one\n\ntwo\n"), r), 1000, func([]byte) error { lines++; return nil })
	require.ErrorAs(t, err, &big)
	require.Equal(t, 2, lines, "the lines before the long one were published, the empty one skipped")
	require.Less(t, r.n, 1<<20)

	require.Equal(t, packet.MaxRemainingLength-2-3-2, maxPayload("a/b", packet.QoS1))
}

// countingReader is an endless stream of 'x' that counts what was read.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	r.n += len(p)
	return len(p), nil
}

// TestSecondsFlag checks --repeat-delay's values: seconds as mosquitto
// takes them, or a Go duration.
func TestSecondsFlag(t *testing.T) {
	var d time.Duration
	f := secondsFlag{&d}
	for in, want := range map[string]time.Duration{"2": 2 * time.Second, "0.5": 500 * time.Millisecond, "250ms": 250 * time.Millisecond, "0": 0} {
		require.NoError(t, f.Set(in))
		require.Equal(t, want, d, in)
	}
	require.Error(t, f.Set("-1"))
	require.Error(t, f.Set("soon"))
}

// TestTraceDecoder checks the -d trace on a stream cut at every byte: the
// lines are those of mosquitto -d, and a large payload is counted, not kept.
func TestTraceDecoder(t *testing.T) {
	var stream []byte
	for _, p := range []packet.Packet{
		&packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 60, ClientID: "dev1"},
		&packet.Publish{QoS: 1, Retain: true, Topic: "t/a", PacketID: 1, Payload: []byte("hello")},
		&packet.Subscribe{PacketID: 2, Subscriptions: []packet.Subscription{{Filter: "a/#", QoS: 2}, {Filter: "b", QoS: 0}}},
		&packet.Pubrel{PacketID: 3},
		&packet.Publish{Topic: "big", Payload: make([]byte, 200000)},
		&packet.Disconnect{},
	} {
		var err error
		stream, err = p.Append(stream)
		require.NoError(t, err)
	}
	var out bytes.Buffer
	tr := newTracer(&out)
	d := streamDecoder{emit: func(h byte, body []byte, rem int) {
		require.LessOrEqual(t, len(body), keepBody)
		tr.packet("sending", h, body, rem)
	}}
	for i := range stream {
		d.feed(stream[i : i+1])
	}
	require.Equal(t, `Client dev1 sending CONNECT
Client dev1 sending PUBLISH (d0, q1, r1, m1, 't/a', ... (5 bytes))
Client dev1 sending SUBSCRIBE (Mid: 2, Topic: a/#, QoS: 2, Options: 0x00)
Client dev1 sending SUBSCRIBE (Mid: 2, Topic: b, QoS: 0, Options: 0x00)
Client dev1 sending PUBREL (m3)
Client dev1 sending PUBLISH (d0, q0, r0, m0, 'big', ... (200000 bytes))
Client dev1 sending DISCONNECT
`, out.String())
	out.Reset()
	for _, p := range []packet.Packet{&packet.Connack{}, &packet.Puback{PacketID: 1}, &packet.Pubrec{PacketID: 2},
		&packet.Pubcomp{PacketID: 2}, &packet.Suback{PacketID: 2, ReturnCodes: []packet.SubackCode{2, 0x80}}, &packet.Pingresp{}} {
		b, err := p.Append(nil)
		require.NoError(t, err)
		n, size, err := packet.ParseRemainingLength(b[1:])
		require.NoError(t, err)
		tr.packet("received", b[0], b[1+size:], n)
	}
	require.Equal(t, `Client dev1 received CONNACK (0)
Client dev1 received PUBACK (Mid: 1, RC:0)
Client dev1 received PUBREC (Mid: 2)
Client dev1 received PUBCOMP (Mid: 2, RC:0)
Client dev1 received SUBACK
Subscribed (mid: 2): 2, 128
Client dev1 received PINGRESP
`, out.String())
}

// TestLossWarning checks that bench names the likely cause of a loss.
func TestLossWarning(t *testing.T) {
	require.Empty(t, lossWarning(&throughputResult{Expected: 10, Received: 10}, packet.QoS2, 100))
	w := lossWarning(&throughputResult{Expected: 1000, Received: 400, Lost: 600}, packet.QoS2, 100)
	require.Contains(t, w, "600 of 1000 messages (60.0%) were not received")
	require.Contains(t, w, "-inflight 100 is above mosquitto's default max_inflight_messages of 20")
	require.Contains(t, lossWarning(&throughputResult{Expected: 10, Lost: 1}, packet.QoS0, 20), "at QoS 0")
	require.True(t, errors.Is(&socksError{msg: "x"}, errSOCKS))
}
