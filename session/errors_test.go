package session

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
	"github.com/stretchr/testify/require"
)

// failingStore is a memory store whose Put, Remove and Keys fail on demand.
type failingStore struct {
	*store.Memory
	put, remove, keys bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) Put(k string, b []byte) error {
	if f.put {
		return errDisk
	}
	return f.Memory.Put(k, b)
}

func (f *failingStore) Remove(k string) error {
	if f.remove {
		return errDisk
	}
	return f.Memory.Remove(k)
}

func (f *failingStore) Keys() ([]string, error) {
	if f.keys {
		return nil, errDisk
	}
	return f.Memory.Keys()
}

// TestErrorTexts pins the text of the session's errors, which logs show and
// callers may compare, and what each matches with errors.Is: the literals are
// what the package wrote with fmt before it dropped fmt (issue 5).
func TestErrorTexts(t *testing.T) {
	m := store.NewMemory()
	require.NoError(t, m.Open("c", "tcp://x"))
	fs := &failingStore{Memory: m}
	h := newHarness(t, Options{Store: fs, Buffer: BufferOptions{Enabled: true, Size: 1, DropOldest: true}})
	now := at(0)

	enc := func(p packet.Packet, trailer ...byte) []byte {
		b, err := packet.AppendIllegal(nil, p)
		require.NoError(t, err)
		return append(b, trailer...)
	}
	seq0 := binary.BigEndian.AppendUint64(nil, 0)

	type errCase struct {
		name string
		err  error
		want string
		is   []error
	}
	var cases []errCase
	add := func(name string, err error, want string, is ...error) {
		cases = append(cases, errCase{name, err, want, is})
	}

	_, err := New(Options{Store: m, MaxInFlight: -1})
	add("MaxInFlight", err, "session: MaxInFlight -1 out of range 0..65535")
	_, err = New(Options{Store: m, MaxInFlight: 70000})
	add("MaxInFlight high", err, "session: MaxInFlight 70000 out of range 0..65535")
	_, err = New(Options{Store: m, Buffer: BufferOptions{Size: -3}})
	add("buffer size", err, "session: buffer size -3 is negative")

	add("UnknownAckError", &UnknownAckError{Type: packet.TypePubcomp, PacketID: 65535},
		"session: PUBCOMP for packet identifier 65535, which is not in use", ErrUnknownPacketID)
	add("TimeoutError", &TimeoutError{KeepAlive: time.Minute, PingTimeout: 1500 * time.Millisecond},
		"session: keep-alive timeout: no packet from the server within 1.5s of a PINGREQ (keep-alive 1m0s)",
		ErrKeepAliveTimeout, net.ErrClosed)
	add("TimeoutError zero", &TimeoutError{},
		"session: keep-alive timeout: no packet from the server within 0s of a PINGREQ (keep-alive 0s)",
		ErrKeepAliveTimeout, net.ErrClosed)

	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 3})
	add("Publish QoS", err, "session: invalid message: invalid QoS", ErrInvalidMessage, packet.ErrInvalidQoS)
	_, err = h.s.Publish(now, Message{Topic: "a/+"})
	add("Publish topic", err, "session: invalid message: mqtt: wildcard in a topic name [MQTT-4.7.1-1]", ErrInvalidMessage, packet.ErrInvalidTopic)

	// Offline, QoS 1 goes to the buffer and is persisted there.
	fs.put = true
	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 1})
	add("persist queued", err, "session: persisting a queued message: disk on fire", errDisk)
	fs.put = false
	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 1})
	require.NoError(t, err)
	fs.remove = true
	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 1})
	add("drop oldest", err, "session: dropping the oldest buffered message: disk on fire", errDisk)
	fs.remove = false

	require.NoError(t, h.s.OnConnack(now, false, false))
	_, err = h.s.Subscribe(now, nil, nil)
	add("Subscribe empty", err, "session: invalid message: no entries in payload", ErrInvalidMessage, packet.ErrEmptyPayload)
	_, err = h.s.Subscribe(now, []packet.Subscription{{Filter: "a/#/b"}}, nil)
	add("Subscribe filter", err, "session: invalid message: mqtt: '#' not alone in the last level of a filter [MQTT-4.7.1-2]", ErrInvalidMessage, packet.ErrInvalidFilter)
	_, err = h.s.Subscribe(now, []packet.Subscription{{Filter: "a", QoS: 4}}, nil)
	add("Subscribe QoS", err, "session: invalid message: invalid QoS", ErrInvalidMessage, packet.ErrInvalidQoS)
	_, err = h.s.Unsubscribe(now, nil, nil)
	add("Unsubscribe empty", err, "session: invalid message: no entries in payload", ErrInvalidMessage, packet.ErrEmptyPayload)
	_, err = h.s.Unsubscribe(now, []string{"#/a"}, nil)
	add("Unsubscribe filter", err, "session: invalid message: mqtt: '#' not alone in the last level of a filter [MQTT-4.7.1-2]", ErrInvalidMessage, packet.ErrInvalidFilter)

	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 2})
	require.NoError(t, err)
	var pid uint16 // of the QoS 2 PUBLISH, behind the one from the buffer
	for p, _, ok := h.s.NextToSend(now); ok; p, _, ok = h.s.NextToSend(now) {
		if pub, isPub := p.(*packet.Publish); isPub && pub.QoS == packet.QoS2 {
			pid = pub.PacketID
		}
	}
	require.NotZero(t, pid)
	fs.put = true
	err = h.s.Received(now, &packet.Pubrec{PacketID: pid})
	add("persist PUBREL", err, "session: persisting PUBREL 2: disk on fire", errDisk)
	_, err = h.s.Publish(now, Message{Topic: "t", QoS: 2})
	add("persist PUBLISH", err, "session: persisting PUBLISH 3: disk on fire", errDisk)
	err = h.s.Received(now, &packet.Publish{Topic: "t", QoS: 2, PacketID: 7})
	add("persist inbound", err, "session: persisting inbound PUBLISH 7: disk on fire", errDisk)
	fs.put = false
	fs.remove = true
	add("release inbound", h.s.releaseInbound(7), "session: removing inbound record 7: disk on fire", errDisk)
	add("clear remove", h.s.clearSession(), "session: clearing the store: disk on fire", errDisk)
	fs.remove = false
	fs.keys = true
	add("clear keys", h.s.clearSession(), "session: clearing the store: disk on fire", errDisk)
	fs.keys = false

	// Records restore cannot use.
	put := func(k string, b []byte) { require.NoError(t, m.Put(k, b)) }
	put("sb-1", enc(&packet.Puback{PacketID: 10}))
	put("s-3", []byte{0xff, 0x00, 0x01})
	put("s-4", enc(&packet.Publish{Topic: "t", QoS: 1, PacketID: 5}))
	put("s-5", enc(&packet.Publish{Topic: "t", QoS: 1, PacketID: 5}, 1, 2, 3))
	put("s-6", enc(&packet.Publish{Topic: "t", QoS: 1, PacketID: 6}, seq0...))
	put("sc-9", enc(&packet.Puback{PacketID: 9}))
	put("r-7", enc(&packet.Publish{Topic: "t", QoS: 1, PacketID: 7}))
	put("sc-8", enc(&packet.Pubrel{PacketID: 8}))
	put("s-8", enc(&packet.Publish{Topic: "t", QoS: 2, PacketID: 8}))
	require.NoError(t, h.s.restoreKey("sc-8"))
	for _, r := range []struct {
		key, want string
		is        error
	}{
		{"sb-1", "session: unusable record: PUBACK{id=10} does not belong under sb-1", errBadRecord},
		{"s-3", "session: unusable record: mqtt: reserved packet type [§2.2.1]", errBadRecord},
		{"s-4", `session: unusable record: PUBLISH{topic="t" qos=1 id=5 dup=false retain=false payload=0 bytes} does not belong under s-4`, errBadRecord},
		{"s-5", "session: unusable record: 3 bytes after the packet", errBadRecord},
		{"s-6", "session: unusable record: sequence 0 after the PUBLISH", errBadRecord},
		{"s-8", "session: unusable record: superseded by its PUBREL record", errBadRecord},
		{"sc-9", "session: unusable record: PUBACK{id=9} does not belong under sc-9", errBadRecord},
		{"r-7", `session: unusable record: PUBLISH{topic="t" qos=1 id=7 dup=false retain=false payload=0 bytes} does not belong under r-7`, errBadRecord},
		{"s-11", "session: reading the record: store: key not found", store.ErrNotFound},
	} {
		add("restore "+r.key, h.s.restoreKey(r.key), r.want, r.is)
	}

	unwrapped := map[string]error{ // what errors.Unwrap gives
		"persist PUBLISH": errDisk,      // a single %w
		"restore s-6":     errBadRecord, // errBadRecord with a detail
		"Publish QoS":     nil,          // ErrInvalidMessage and the cause: two %w
		"restore s-3":     nil,
	}
	for _, c := range cases {
		if want, ok := unwrapped[c.name]; ok && errors.Unwrap(c.err) != want {
			t.Errorf("%s: errors.Unwrap = %v, want %v", c.name, errors.Unwrap(c.err), want)
		}
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if c.err.Error() != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.err.Error(), c.want)
		}
		for _, target := range c.is {
			if !errors.Is(c.err, target) {
				t.Errorf("%s: %v does not match %v", c.name, c.err, target)
			}
		}
	}
}
