package client

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/transport"
)

// TestOptionsDefaults checks that zero fields mean the documented defaults.
func TestOptionsDefaults(t *testing.T) {
	o := Options{Servers: []string{"tcp://127.0.0.1:1883"}}.resolved()
	require.Equal(t, DefaultKeepAlive, o.KeepAlive)
	require.Equal(t, DefaultPingTimeout, o.PingTimeout)
	require.Equal(t, DefaultConnectTimeout, o.ConnectTimeout)
	require.Equal(t, DefaultWriteTimeout, o.WriteTimeout)
	require.Equal(t, DefaultMaxInFlight, o.MaxInFlight)
	require.Equal(t, DefaultMaxPacketSize, o.MaxPacketSize)
	require.Equal(t, DefaultMessageQueue, o.MessageQueue)
	require.Equal(t, Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax, Jitter: DefaultBackoffJitter}, o.Backoff)
	require.NotNil(t, o.Logger)
	require.Regexp(t, "^"+ClientIDPrefix+"[0-9a-f]{16}$", o.ClientID)
	require.Equal(t, uint16(60), o.keepAliveSeconds())
	o2 := Options{Servers: []string{"tcp://127.0.0.1:1883"}, KeepAlive: KeepAliveOff}.resolved()
	require.Equal(t, uint16(0), o2.keepAliveSeconds())
}

// TestOptionsCopied checks that New copies the options: changing the
// caller's slices afterwards changes nothing.
func TestOptionsCopied(t *testing.T) {
	servers := []string{"tcp://127.0.0.1:1883"}
	will := &Will{Topic: "w", Payload: []byte("abc")}
	c, err := New(Options{Servers: servers, Will: will, Password: []byte("pw"), Username: "u"})
	require.NoError(t, err)
	defer c.Close()
	servers[0] = "tcp://127.0.0.2:1"
	will.Payload[0] = 'X'
	will.Topic = "changed"
	got := c.Options()
	require.Equal(t, []string{"tcp://127.0.0.1:1883"}, got.Servers)
	require.Equal(t, "w", got.Will.Topic)
	require.Equal(t, []byte("abc"), got.Will.Payload)
	require.Nil(t, got.Password, "Options() must not hand out the password")
}

// TestOptionsValidation checks that every bad field is an *OptionError
// naming it, matching ErrInvalidOptions; [MQTT-3.1.3-7]: an empty client id
// needs a clean session; [MQTT-3.1.2-22]: a password needs a user name.
func TestOptionsValidation(t *testing.T) {
	ok := func() Options { return Options{Servers: []string{"tcp://127.0.0.1:1883"}} }
	cases := []struct {
		field string
		mod   func(*Options)
	}{
		{"Servers", func(o *Options) { o.Servers = nil }},
		{"Servers[0]", func(o *Options) { o.Servers = []string{"gopher://x:1"} }},
		{"Servers[1]", func(o *Options) { o.Servers = append(o.Servers, "tcp://") }},
		{"ClientID", func(o *Options) { o.PersistentSession = true }},
		{"Password", func(o *Options) { o.Password = []byte("x") }},
		{"KeepAlive", func(o *Options) { o.KeepAlive = -2 }},
		{"KeepAlive", func(o *Options) { o.KeepAlive = 65536 * time.Second }},
		{"KeepAlive", func(o *Options) { o.KeepAlive = time.Millisecond }},
		{"PingTimeout", func(o *Options) { o.PingTimeout = -1 }},
		{"ConnectTimeout", func(o *Options) { o.ConnectTimeout = -1 }},
		{"Backoff.Min", func(o *Options) { o.Backoff = Backoff{Min: time.Hour, Max: time.Second} }},
		{"Backoff.Jitter", func(o *Options) { o.Backoff.Jitter = 1.5 }},
		{"Will.Topic", func(o *Options) { o.Will = &Will{Topic: "a/+"} }},
		{"Will.QoS", func(o *Options) { o.Will = &Will{Topic: "a", QoS: 3} }},
		{"Version", func(o *Options) { o.Version = 5 }},
		{"MaxInFlight", func(o *Options) { o.MaxInFlight = 70000 }},
		{"OfflineBuffer", func(o *Options) { o.OfflineBuffer = -1 }},
		{"MaxPacketSize", func(o *Options) { o.MaxPacketSize = 3 }},
		{"MessageQueue", func(o *Options) { o.MessageQueue = -1 }},
	}
	for _, tc := range cases {
		o := ok()
		tc.mod(&o)
		_, err := New(o)
		require.ErrorIs(t, err, ErrInvalidOptions, tc.field)
		var oe *OptionError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, tc.field, oe.Field)
	}
	// The URI error is reachable.
	_, err := New(Options{Servers: []string{"gopher://x:1"}})
	require.ErrorIs(t, err, transport.ErrUnknownScheme)
	// The will topic's rule is reachable.
	_, err = New(Options{Servers: []string{"tcp://a:1"}, Will: &Will{Topic: "a/#"}})
	require.ErrorIs(t, err, packet.ErrInvalidTopic)
}

// TestBackoffDelay checks the back-off: doubling from Min, capped at Max,
// reduced by at most Jitter, exact for a given random number.
func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second, Jitter: 0.5}
	var got []time.Duration
	for a := 0; a < 6; a++ {
		got = append(got, b.Delay(a, 0))
	}
	want := []time.Duration{1e9, 2e9, 4e9, 8e9, 10e9, 10e9}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("delays (-want +got):\n%s", diff)
	}
	require.Equal(t, 500*time.Millisecond+500, b.Delay(0, 0.999999))
	require.Equal(t, 750*time.Millisecond, b.Delay(0, 0.5))
	require.Equal(t, 10*time.Second, b.Delay(1000, 0), "no overflow for large attempts")
	require.Equal(t, time.Second, Backoff{Min: time.Second, Max: time.Minute, Jitter: -1}.Delay(0, 0.9))
	require.Equal(t, DefaultBackoffMin-time.Duration(float64(DefaultBackoffMin)*DefaultBackoffJitter*0.5), Backoff{}.Delay(0, 0.5))
	calls := 0
	b.Rand = func() float64 { calls++; return 0.5 }
	require.Equal(t, 3*time.Second, b.next(2))
	require.Equal(t, 1, calls)
	_ = cmpopts.EquateEmpty
}

// TestErrorsMatch checks the error types: a connection-lost error unwraps
// to net.ErrClosed and its cause; a refusal matches its code.
func TestErrorsMatch(t *testing.T) {
	cause := errors.New("boom")
	err := error(&ConnectionLostError{Err: cause})
	require.ErrorIs(t, err, cause)
	require.ErrorIs(t, err, ErrConnectionLost)
	require.ErrorContains(t, err, "boom")
	ce := error(&ConnectError{Code: packet.RefusedNotAuthorized})
	require.ErrorIs(t, ce, &ConnectError{Code: packet.RefusedNotAuthorized})
	require.NotErrorIs(t, ce, &ConnectError{Code: packet.RefusedServerUnavailable})
	require.ErrorIs(t, &ViolationError{Packet: packet.TypeConnack}, packet.ErrProtocol)
	require.ErrorIs(t, &argError{what: "x", err: packet.ErrInvalidQoS}, ErrInvalidArgument)
}

// TestOptionsRedactPassword checks that the password never shows when the
// options are printed or logged.
func TestOptionsRedactPassword(t *testing.T) {
	o := Options{Servers: []string{"tcp://h:1"}, Username: "u", Password: []byte("hunter2"),
		Will: &Will{Topic: "w", Payload: []byte("hunter2")}}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v %+v %#v", o, o, o), o.LogValue().String()} {
		require.NotContains(t, s, "hunter2")
		require.Contains(t, s, "<redacted len=7>")
	}
}
