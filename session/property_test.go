package session

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// model is a broker and an application around a session, for the property
// test. The broker acks in any order, loses acks in flight on a disconnect,
// re-sends its own unfinished QoS 2 messages on reconnect, and counts what
// it receives, deduplicating QoS 2 by packet identifier as a broker must.
type model struct {
	t      testing.TB
	rng    *rand.Rand
	st     *crashStore
	opts   Options
	s      *Session
	now    time.Time
	serial int

	published map[string]packet.QoS // payload -> QoS, accepted by Publish
	gotOut    map[string]int        // payload -> times the broker took it
	brokerQ2  map[uint16]bool       // QoS 2 PUBLISHes the broker holds until PUBREL
	toClient  []packet.Packet       // acks from the broker in flight

	bNext     uint16
	bOut      map[uint16]*bmsg // broker's QoS 2 messages to the client
	sentIn    map[string]bool  // payloads the broker sent
	delivered map[string]int   // payload -> deliveries to the application
	mayRedo   map[string]bool  // delivered, not acked, then crashed: may be delivered again
	unacked   map[AckID]string // deliveries waiting for Ack
	inUse     map[MsgID]bool   // MsgIDs of this session instance not yet completed
	qos0      map[MsgID]bool   // MsgIDs of QoS 0 publishes: they may fail on a disconnect
}

// crashStore is a memory store that outlives the sessions over it, as a
// file store outlives a process, and that can make the process die just
// before one of its next writes: Put or Remove panics with errCrash before
// it changes anything, and the model restarts from what the store holds.
// That puts a crash between every two writes the session makes, in
// particular between admit's s-<id> and the removal of sb-<seq>, and
// between PUBREC's sc-<id> and the removal of s-<id>.
type crashStore struct {
	*store.Memory
	countdown int // > 0: die before the countdown-th next write
	crashes   int
}

var errCrash = errors.New("the process died")

func (c *crashStore) write() {
	if c.countdown == 0 {
		return
	}
	c.countdown--
	if c.countdown == 0 {
		c.crashes++
		panic(errCrash)
	}
}

func (c *crashStore) Put(k string, b []byte) error { c.write(); return c.Memory.Put(k, b) }
func (c *crashStore) Remove(k string) error        { c.write(); return c.Memory.Remove(k) }

// alive disarms the crash.
func (c *crashStore) alive() { c.countdown = 0 }

type bmsg struct {
	payload string
	pubrecd bool
}

func newModel(t testing.TB, seed uint64, manual bool) *model {
	m := &model{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: epoch,
		published: map[string]packet.QoS{}, gotOut: map[string]int{}, brokerQ2: map[uint16]bool{},
		bOut: map[uint16]*bmsg{}, sentIn: map[string]bool{}, delivered: map[string]int{},
		mayRedo: map[string]bool{}, unacked: map[AckID]string{}}
	mem := store.NewMemory()
	if err := mem.Open("c", "u"); err != nil {
		t.Fatal(err)
	}
	m.st = &crashStore{Memory: mem}
	m.opts = Options{Store: m.st, MaxInFlight: 1 + m.rng.IntN(8), ManualAcks: manual,
		Buffer: BufferOptions{Enabled: true, Persist: m.rng.IntN(2) == 0, Size: 1 << 20}}
	m.restart()
	return m
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf(format, args...)
}

func (m *model) restart() {
	m.st.alive()
	s, err := New(m.opts)
	if err != nil {
		m.fatalf("New: %v", err)
	}
	m.s = s
	m.inUse = map[MsgID]bool{}
	m.qos0 = map[MsgID]bool{}
	for _, o := range s.Outstanding() {
		m.inUse[o.ID] = true
		m.qos0[o.ID] = o.Message.QoS == 0
	}
	for id, p := range m.unacked {
		m.mayRedo[p] = true // crash between delivery and Ack: the documented window
		delete(m.unacked, id)
	}
	m.toClient = nil
}

func (m *model) tick() { m.now = m.now.Add(time.Duration(1+m.rng.IntN(1000)) * time.Microsecond) }

func (m *model) events() {
	for {
		e, ok := m.s.NextEvent()
		if !ok {
			return
		}
		switch e.Kind {
		case EventDelivery:
			p := string(e.Message.Payload)
			if e.Message.QoS == 2 {
				if m.delivered[p] > 0 && !m.mayRedo[p] {
					m.fatalf("QoS 2 message %q delivered twice", p)
				}
				delete(m.mayRedo, p)
			}
			m.delivered[p]++
			if e.Ack != 0 {
				m.unacked[e.Ack] = p
			}
		case EventCompletion:
			if !m.inUse[e.ID] {
				m.fatalf("completion of MsgID %d, not in use (twice?)", e.ID)
			}
			delete(m.inUse, e.ID)
			if e.Err != nil && !(m.qos0[e.ID] && errors.Is(e.Err, net.ErrClosed)) {
				m.fatalf("completion %d failed: %v", e.ID, e.Err)
			}
		}
	}
}

// flush hands every queued packet to the broker.
func (m *model) flush() {
	for {
		p, _, ok := m.s.NextToSend(m.now)
		if !ok {
			break
		}
		switch p := p.(type) {
		case *packet.Publish:
			if p.QoS == 0 {
				m.gotOut[string(p.Payload)]++
				break
			}
			if p.QoS == 1 {
				m.gotOut[string(p.Payload)]++
				m.toClient = append(m.toClient, &packet.Puback{PacketID: p.PacketID})
				break
			}
			if !m.brokerQ2[p.PacketID] {
				m.brokerQ2[p.PacketID] = true
				m.gotOut[string(p.Payload)]++
			}
			m.toClient = append(m.toClient, &packet.Pubrec{PacketID: p.PacketID})
		case *packet.Pubrel:
			delete(m.brokerQ2, p.PacketID)
			m.toClient = append(m.toClient, &packet.Pubcomp{PacketID: p.PacketID})
		case *packet.Pubrec:
			if b := m.bOut[p.PacketID]; b != nil {
				b.pubrecd = true
				m.toClient = append(m.toClient, &packet.Pubrel{PacketID: p.PacketID})
			}
		case *packet.Pubcomp:
			delete(m.bOut, p.PacketID)
		case *packet.Puback, *packet.Pingreq:
		default:
			m.fatalf("unexpected %v", p)
		}
		m.events()
	}
	m.events()
}

func (m *model) deliverOne(i int) {
	p := m.toClient[i]
	m.toClient = append(m.toClient[:i], m.toClient[i+1:]...)
	if err := m.s.Received(m.now, p); err != nil {
		m.fatalf("Received(%v): %v", p, err)
	}
	m.events()
}

func (m *model) freeID() uint16 {
	for {
		id := uint16(1 + m.rng.IntN(MaxPacketIDs))
		if m.s.byPID[id] == nil {
			return id
		}
	}
}

func (m *model) connect() {
	if err := m.s.OnConnack(m.now, true, false); err != nil {
		m.fatalf("OnConnack: %v", err)
	}
	m.events()
	// The broker re-sends its unfinished QoS 2 messages [MQTT-4.4.0-1].
	for id, b := range m.bOut {
		if b.pubrecd {
			m.toClient = append(m.toClient, &packet.Pubrel{PacketID: id})
		} else {
			m.toClient = append(m.toClient, &packet.Publish{Topic: "in", QoS: 2, PacketID: id, Dup: true, Payload: []byte(b.payload)})
		}
	}
}

// step runs one random operation. When the store makes the process die
// in the middle of it, what the operation did in memory is lost, as are
// events not yet taken, and the model restarts from the store.
func (m *model) step() {
	defer func() {
		if r := recover(); r != nil {
			if r != errCrash {
				panic(r)
			}
			m.restart()
		}
	}()
	m.tick()
	switch op := m.rng.IntN(100); {
	case op < 25: // publish
		m.serial++
		payload := fmt.Sprintf("m%d", m.serial)
		q := packet.QoS(m.rng.IntN(3))
		id, err := m.s.Publish(m.now, Message{Topic: "t", Payload: []byte(payload), QoS: q})
		if err != nil {
			m.fatalf("Publish: %v", err)
		}
		m.inUse[id] = true
		m.qos0[id] = q == 0
		if q > 0 {
			m.published[payload] = q
		}
		m.events()
	case op < 45:
		m.flush()
	case op < 70:
		if len(m.toClient) > 0 && m.s.Connected() {
			m.deliverOne(m.rng.IntN(len(m.toClient)))
		}
	case op < 75: // the broker publishes QoS 2 (and sometimes QoS 1)
		if !m.s.Connected() {
			break
		}
		m.serial++
		payload := fmt.Sprintf("b%d", m.serial)
		m.bNext++
		if m.bNext == 0 {
			m.bNext = 1
		}
		if m.bOut[m.bNext] != nil {
			break
		}
		m.bOut[m.bNext] = &bmsg{payload: payload}
		m.sentIn[payload] = true
		m.toClient = append(m.toClient, &packet.Publish{Topic: "in", QoS: 2, PacketID: m.bNext, Payload: []byte(payload)})
	case op < 80: // a duplicate or unknown ack
		if !m.s.Connected() {
			break
		}
		id := m.freeID()
		var p packet.Packet
		switch m.rng.IntN(4) {
		case 0:
			p = &packet.Puback{PacketID: id}
		case 1:
			p = &packet.Pubcomp{PacketID: id}
		case 2:
			p = &packet.Pubrec{PacketID: id}
		default:
			if m.bOut[id] != nil {
				return
			}
			p = &packet.Pubrel{PacketID: id}
		}
		if err := m.s.Received(m.now, p); err != nil {
			m.fatalf("Received(%v): %v", p, err)
		}
		m.events()
		m.flush() // what it answered goes to a broker that ignores it
	case op < 88: // the application acks
		for id := range m.unacked {
			if err := m.s.Ack(m.now, id); err != nil {
				m.fatalf("Ack: %v", err)
			}
			delete(m.unacked, id) // only now: a crash inside Ack may deliver it again
			m.events()
			break
		}
	case op < 93: // the connection drops
		if m.s.Connected() {
			m.s.ConnectionLost(m.now, nil)
			m.toClient = nil
			m.events()
		} else {
			m.connect()
		}
	case op < 96: // the process dies and restarts, now or before one of the next writes
		if m.rng.IntN(2) == 0 {
			m.restart()
		} else {
			m.st.countdown = 1 + m.rng.IntN(6)
		}
	default:
		if !m.s.Connected() {
			m.connect()
		}
	}
	m.checkIDs()
}

func (m *model) checkIDs() {
	want := m.s.InFlight() + m.s.ctlInflight.Len()
	if m.s.ids.Len() != want || len(m.s.byPID) != want {
		m.fatalf("identifiers leak: %d in use, %d in the table, %d records", m.s.ids.Len(), len(m.s.byPID), want)
	}
}

// settle connects and runs everything to completion.
func (m *model) settle() {
	m.st.alive()
	if !m.s.Connected() {
		m.connect()
	}
	for i := 0; i < 10000; i++ {
		m.tick()
		m.flush()
		for id := range m.unacked {
			delete(m.unacked, id)
			if err := m.s.Ack(m.now, id); err != nil {
				m.fatalf("Ack: %v", err)
			}
		}
		m.events()
		m.flush()
		if len(m.toClient) == 0 && !m.s.Pending() {
			break
		}
		for len(m.toClient) > 0 {
			m.deliverOne(0)
		}
	}
	m.checkIDs()
	if n := m.s.InFlight() + m.s.Waiting() + m.s.Buffered() + m.s.InboundPending(); n != 0 {
		m.fatalf("not settled: %d in flight, %d waiting, %d buffered, %d inbound", m.s.InFlight(), m.s.Waiting(), m.s.Buffered(), m.s.InboundPending())
	}
	if m.s.ids.Len() != 0 {
		m.fatalf("%d identifiers still in use", m.s.ids.Len())
	}
	keys, _ := m.st.Keys()
	if len(keys) != 0 {
		m.fatalf("store not empty: %v", keys)
	}
	for p, q := range m.published {
		switch n := m.gotOut[p]; {
		case n == 0:
			m.fatalf("QoS %d message %q lost", q, p)
		case q == 2 && n > 1:
			m.fatalf("QoS 2 message %q taken %d times by the broker", p, n)
		}
	}
	for p := range m.sentIn {
		if m.delivered[p] == 0 {
			m.fatalf("inbound QoS 2 message %q never delivered", p)
		}
	}
	if len(m.inUse) != 0 {
		m.fatalf("MsgIDs never completed: %v", m.inUse)
	}
}

func runModel(t testing.TB, seed uint64, steps int, manual bool) {
	m := newModel(t, seed, manual)
	for i := 0; i < steps; i++ {
		m.step()
	}
	m.settle()
}

// TestSessionProperty checks, over random sequences of publishes, acks in
// any order, duplicate and unknown acks, inbound QoS 2 messages with their
// re-sends, disconnects and process restarts (also in the middle of an
// operation, between any two writes to the store, which outlives the
// process):
//
//   - [MQTT-2.3.1-2] and [MQTT-2.3.1-3]: identifiers in use equal the
//     records holding them at every step, and all are free at the end;
//   - [MQTT-4.3.3-1]: no QoS 2 message reaches the broker twice (no PUBLISH
//     after PUBREL, DUP re-sends keep their identifier);
//   - [MQTT-4.3.3-2]: no inbound QoS 2 message is delivered twice, except
//     after a crash between delivery and Ack (the documented window);
//   - [MQTT-4.4.0-1]: no QoS 1 or 2 message is lost in either direction:
//     every one Publish accepted reaches the broker, whether it was in
//     flight, waiting for the window or in the offline buffer when the
//     process died; and every MsgID completes exactly once, without error.
func TestSessionProperty(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		for _, manual := range []bool{false, true} {
			t.Run(fmt.Sprintf("seed=%d/manual=%t", seed, manual), func(t *testing.T) {
				runModel(t, seed, 1500, manual)
			})
		}
	}
}

// FuzzSession runs the property model with seeds from the fuzzer; see
// TestSessionProperty for what it checks ([MQTT-2.3.1-2], [MQTT-2.3.1-3],
// [MQTT-4.3.3-1], [MQTT-4.3.3-2], [MQTT-4.4.0-1]).
func FuzzSession(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 0xdeadbeef} {
		f.Add(binary.LittleEndian.AppendUint64(nil, s), true)
	}
	f.Fuzz(func(t *testing.T, seed []byte, manual bool) {
		var b [8]byte
		copy(b[:], seed)
		runModel(t, binary.LittleEndian.Uint64(b[:]), 600, manual)
	})
}
