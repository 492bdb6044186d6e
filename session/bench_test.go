package session

import (
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// nopStore is a Persistence that keeps nothing, to measure the session
// alone.
type nopStore struct{}

func (nopStore) Open(string, string) error     { return nil }
func (nopStore) Put(string, []byte) error      { return nil }
func (nopStore) Get(string) ([]byte, error)    { return nil, store.ErrNotFound }
func (nopStore) Remove(string) error           { return nil }
func (nopStore) Keys() ([]string, error)       { return nil, nil }
func (nopStore) Contains(string) (bool, error) { return false, nil }
func (nopStore) Clear() error                  { return nil }
func (nopStore) Close() error                  { return nil }

func benchStores(b *testing.B, run func(b *testing.B, st store.Persistence)) {
	b.Run("store=nop", func(b *testing.B) { run(b, nopStore{}) })
	b.Run("store=memory", func(b *testing.B) {
		m := store.NewMemory()
		if err := m.Open("c", "u"); err != nil {
			b.Fatal(err)
		}
		run(b, m)
	})
	b.Run("store=file", func(b *testing.B) {
		f := store.NewFile(store.FileOptions{Dir: b.TempDir()})
		if err := f.Open("c", "tcp://127.0.0.1:1883"); err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		run(b, f)
	})
}

func benchSession(b *testing.B, st store.Persistence) *Session {
	s, err := New(Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.OnConnack(epoch, false, false); err != nil {
		b.Fatal(err)
	}
	return s
}

func drainEvents(s *Session) {
	for {
		if _, ok := s.NextEvent(); !ok {
			return
		}
	}
}

// BenchmarkQoS1RoundTrip measures one outbound QoS 1 message: Publish,
// NextToSend, PUBACK in, completion out. The first 65535 identifiers each
// cost one allocation for their cached store key; after that, none.
func BenchmarkQoS1RoundTrip(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Persistence) {
		s := benchSession(b, st)
		msg := Message{Topic: "bench/topic", Payload: make([]byte, 64), QoS: packet.QoS1}
		var ack packet.Puback
		now := epoch
		round := func() {
			if _, err := s.Publish(now, msg); err != nil {
				b.Fatal(err)
			}
			p, _, _ := s.NextToSend(now)
			ack.PacketID = p.(*packet.Publish).PacketID
			if err := s.Received(now, &ack); err != nil {
				b.Fatal(err)
			}
			drainEvents(s)
		}
		runRounds(b, st, round)
	})
}

// BenchmarkQoS2RoundTrip measures one outbound QoS 2 message: Publish,
// NextToSend, PUBREC in, PUBREL out, PUBCOMP in, completion out.
func BenchmarkQoS2RoundTrip(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Persistence) {
		s := benchSession(b, st)
		msg := Message{Topic: "bench/topic", Payload: make([]byte, 64), QoS: packet.QoS2}
		var rec packet.Pubrec
		var comp packet.Pubcomp
		now := epoch
		round := func() {
			if _, err := s.Publish(now, msg); err != nil {
				b.Fatal(err)
			}
			p, _, _ := s.NextToSend(now)
			rec.PacketID = p.(*packet.Publish).PacketID
			if err := s.Received(now, &rec); err != nil {
				b.Fatal(err)
			}
			s.NextToSend(now) // PUBREL
			comp.PacketID = rec.PacketID
			if err := s.Received(now, &comp); err != nil {
				b.Fatal(err)
			}
			drainEvents(s)
		}
		runRounds(b, st, round)
	})
}

// BenchmarkInboundQoS2 measures one inbound QoS 2 message: PUBLISH in,
// PUBREC out, PUBREL in, delivery, PUBCOMP out.
func BenchmarkInboundQoS2(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Persistence) {
		s := benchSession(b, st)
		pub := packet.Publish{Topic: "bench/topic", Payload: make([]byte, 64), QoS: packet.QoS2}
		var rel packet.Pubrel
		now := epoch
		id := uint16(0)
		round := func() {
			id = id%MaxPacketIDs + 1
			pub.PacketID, rel.PacketID = id, id
			if err := s.Received(now, &pub); err != nil {
				b.Fatal(err)
			}
			s.NextToSend(now)
			if err := s.Received(now, &rel); err != nil {
				b.Fatal(err)
			}
			drainEvents(s)
			s.NextToSend(now)
		}
		runRounds(b, st, round)
	})
}

// BenchmarkKeepAliveTick measures a keep-alive check that has nothing to do.
func BenchmarkKeepAliveTick(b *testing.B) {
	s, _ := New(Options{KeepAlive: time.Minute})
	s.OnConnack(epoch, false, false)
	b.ReportAllocs()
	for b.Loop() {
		s.Tick(epoch.Add(time.Second))
	}
}

// runRounds runs round under the benchmark's loop. With a store that does
// not touch the disk it first runs it once per packet identifier, so that
// the record pools and the shared key table are warm (steady state).
func runRounds(b *testing.B, st store.Persistence, round func()) {
	if _, ok := st.(*store.File); !ok {
		for range MaxPacketIDs {
			round()
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		round()
	}
}
