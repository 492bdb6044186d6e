package session

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// DefaultMaxInflight is the in-flight window when Options.MaxInflight is 0:
// at most this many QoS 1 and 2 publishes hold a packet identifier and await
// their final acknowledgement at once; later ones wait in the session, in
// order, without an identifier. Paho's default of 10 stalls a pipeline on any
// link with latency; 128 keeps a fast link busy while bounding the burst of
// re-sends after a reconnect and what a broker has to hold for one client.
const DefaultMaxInflight = 128

// DefaultBufferSize is the capacity of the offline buffer when
// BufferOptions.Size is 0, as in Paho's DisconnectedBufferOptions.
const DefaultBufferSize = 5000

// Options configure a Session. The zero value is usable: a memory store, the
// default window, no keep-alive, automatic acks, no offline buffer. New
// copies the options.
type Options struct {
	// Store holds the in-flight state. It must be open (the client opens
	// it with its client id and server URI). nil means a new store.Memory.
	Store store.Persistence
	// MaxInflight is the in-flight window: 1 to 65535, 0 means
	// DefaultMaxInflight. Publishes beyond it wait, they do not fail.
	MaxInflight int
	// KeepAlive is the keep-alive interval sent in CONNECT; 0 turns
	// keep-alive off. Sub-second precision is kept, although CONNECT
	// carries whole seconds.
	KeepAlive time.Duration
	// PingTimeout is how long a PINGREQ may go unanswered (no PINGRESP nor
	// any other packet) before Tick declares the connection lost. 0 means
	// KeepAlive, as in Paho.
	PingTimeout time.Duration
	// ManualAcks makes every QoS 1 and QoS 2 delivery wait for Ack before
	// its PUBACK or PUBCOMP goes out (and, for QoS 2, before its r- record
	// is removed). Without it the session acknowledges as soon as it hands
	// the delivery out. Acks go out in delivery order either way.
	ManualAcks bool
	// Buffer configures the offline buffer.
	Buffer BufferOptions
	// PingSender, when not nil, is started on OnConnack, stopped on
	// ConnectionLost and scheduled by Tick for the next keep-alive check.
	// Its Init must already have been called by the owner.
	PingSender PingSender
	// Logger receives the anomalies the session survives (unknown acks,
	// skipped records). nil discards them.
	Logger *Logger
	// StrictAcks makes Received return an *UnknownAckError (matching
	// ErrUnknownPacketID) for a PUBACK, PUBCOMP, SUBACK or UNSUBACK that no
	// message waits for, instead of only logging it, so that the owner can
	// close the connection on the protocol violation it is [MQTT-4.8.0-1].
	// The state is left alone either way. PUBREC and PUBREL for unknown
	// identifiers are answered as Paho does (PUBREL, PUBCOMP) and are not
	// errors: a server may re-send them after a reconnect.
	StrictAcks bool
}

// BufferOptions configure the offline buffer, Paho's
// DisconnectedBufferOptions: publishes made while disconnected are kept and
// sent, in order, after the next CONNACK.
type BufferOptions struct {
	// Enabled turns the buffer on. Without it a publish while disconnected
	// fails with ErrNotConnected.
	Enabled bool
	// Size is the most messages the buffer holds; 0 means
	// DefaultBufferSize.
	Size int
	// DropOldest makes a full buffer drop its oldest message (completed
	// with ErrBufferDropped) to take the new one; otherwise Publish fails
	// with ErrBufferFull.
	DropOldest bool
	// Persist writes buffered QoS 0 messages to the store under sb-<seq>
	// before Publish returns, so that they too survive a restart. QoS 1 and
	// 2 messages are written there with or without it: an accepted QoS 1
	// or 2 message is always durable.
	Persist bool
}

// Message is an application message to publish.
type Message struct {
	Topic   string
	Payload []byte // owned by the session from Publish until the message completes
	QoS     packet.QoS
	Retain  bool
}

// MsgID identifies a publish, subscribe or unsubscribe for its whole life
// in the session: Publish, Subscribe and Unsubscribe return it and the
// completion event carries it. It is not the packet identifier. IDs start at
// 1 and increase; 0 is never used.
type MsgID uint64

// AckID identifies a delivery that waits for Ack (Options.ManualAcks). 0
// means there is nothing to acknowledge.
type AckID uint64

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventDelivery: a message to hand to the application.
	EventDelivery EventKind = iota + 1
	// EventCompletion: a publish, subscribe or unsubscribe is over, with
	// Err nil (acknowledged) or the reason it failed.
	EventCompletion
)

func (k EventKind) String() string {
	switch k {
	case EventDelivery:
		return "delivery"
	case EventCompletion:
		return "completion"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is something the client must act on, taken with NextEvent.
//
// Pointers in an Event (Message, Reply) point into the session or into the
// packet given to Received. They are valid until the next call of Received,
// Ack, OnConnack or ConnectionLost; Clone what you keep longer.
type Event struct {
	Kind EventKind

	// Delivery.
	Message *packet.Publish // the message; its PacketID is the server's
	Ack     AckID           // with ManualAcks, pass to Ack when done; else 0

	// Completion.
	ID    MsgID
	Err   error         // nil: the final ack arrived (or, for QoS 0, the packet was handed out)
	Reply packet.Packet // the *packet.Suback or *packet.Unsuback of a subscribe or unsubscribe
}

type recordKind uint8

const (
	kindPublish recordKind = iota
	kindSubscribe
	kindUnsubscribe
)

type outState uint8

const (
	stWaiting  outState = iota // waiting for the window or an identifier, no packet id
	stBuffered                 // in the offline buffer
	stQueued0                  // QoS 0, queued to be handed out
	stInflight                 // sent (or queued): awaits PUBACK, PUBREC, SUBACK or UNSUBACK
	stReleased                 // QoS 2 after PUBREC: PUBREL sent, awaits PUBCOMP
)

// outRecord is one outbound publish, subscribe or unsubscribe. Records are
// pooled; gen changes each time one is recycled so that stale queue entries
// can be told apart.
type outRecord struct {
	id     MsgID
	gen    uint32
	kind   recordKind
	st     outState
	sent   bool   // handed out at least once (or restored): a re-send has DUP=1
	bufSeq uint64 // sequence of its sb- record, 0 if none
	pub    packet.Publish
	sub    packet.Subscribe
	unsub  packet.Unsubscribe

	list       *outList
	prev, next *outRecord
}

type inState uint8

const (
	inAwaitRel  inState = iota // PUBREC sent, waiting for PUBREL
	inDelivered                // delivered, PUBCOMP not yet sent
)

// inRecord is an inbound QoS 2 message between PUBLISH and PUBCOMP.
type inRecord struct {
	st  inState
	ack AckID // while delivered and waiting for Ack
	pub packet.Publish
	buf []byte // backing store of pub.Payload, reused
}

// sendEntry is a packet queued to be handed out. Entries that refer to a
// record check its generation, so an entry for a record that completed in
// the meantime is skipped.
type sendEntry struct {
	typ packet.Type
	pid uint16
	rec *outRecord
	gen uint32
}

// ackEntry is a delivery whose acknowledgement goes out in delivery order.
type ackEntry struct {
	typ  packet.Type // TypePuback or TypePubcomp
	pid  uint16
	done bool // acknowledged by the application
	void bool // belongs to a connection or session that is gone
}

const (
	keyS = iota
	keySC
	keyR
)

var keyPrefixes = [3]string{"s-", "sc-", "r-"}

// Session is the protocol state of one MQTT client: packet identifiers, the
// outbound tables of QoS 1 and 2, the inbound QoS 2 table, the send queues,
// the in-flight window, the offline buffer and keep-alive, backed by a
// store. It is Paho's ClientState and CommsTokenStore without threads.
//
// A Session is owned by one goroutine, the client's loop: every method must
// be called from it (it is not safe for concurrent use). It starts no
// goroutine and does no I/O other than calls to its store; time is passed
// in as now.
type Session struct {
	store   store.Persistence
	log     *Logger
	opts    Options
	maxIn   int
	bufSize int

	connected bool
	ids       *idSet
	byPID     map[uint16]*outRecord
	inbound   map[uint16]*inRecord
	// extraComp counts, per packet id, the PUBCOMPs this connection can
	// still get for PUBRELs it sent beyond the one that completes a
	// message: a PUBREL answering a PUBREC for an unknown id, or a second
	// PUBREL for a message already released (a server that re-sends its
	// PUBREC, as mochi does on a resumed session). Such a PUBCOMP is
	// expected, not a protocol violation; made on demand, cleared with
	// the connection.
	extraComp map[uint16]int
	nextMsgID MsgID
	nextSeq   uint64 // next sb- sequence number

	restoredSeqs []uint64 // during restore: sequences carried by s- records

	waiting     outList // publishes waiting for the window, in order
	waitingCtl  outList // subscribes and unsubscribes waiting for an identifier
	inflight    outList // publishes awaiting PUBACK or PUBREC, in send order
	released    outList // QoS 2 publishes awaiting PUBCOMP, in PUBREC order
	ctlInflight outList // subscribes and unsubscribes awaiting SUBACK or UNSUBACK
	buffer      outList // the offline buffer

	control ring[sendEntry] // acks, PINGREQ, PUBREL, SUBSCRIBE, UNSUBSCRIBE
	pubs    ring[sendEntry] // publishes
	events  ring[Event]
	acks    ring[ackEntry]
	ackHead AckID // the AckID of acks.At(0)

	outPool []*outRecord
	inPool  []*inRecord
	enc     []byte // encoding buffer for records

	// packets handed out by NextToSend, reused
	puback  packet.Puback
	pubrec  packet.Pubrec
	pubrel  packet.Pubrel
	pubcomp packet.Pubcomp
	pingreq packet.Pingreq
	pub0    packet.Publish

	keepAlive, pingTimeout time.Duration
	lastSent, lastRecv     time.Time
	pingOutstanding        bool
	pingSent               time.Time
}

// New returns a session over opts.Store, restoring what the store holds (see
// Restore in the package documentation). The session starts disconnected.
//
// Records that cannot be used are logged, removed and skipped; New fails only
// when the options are invalid or the store cannot list its keys.
func New(opts Options) (*Session, error) {
	if opts.MaxInflight < 0 || opts.MaxInflight > MaxPacketIDs {
		return nil, errors.New("session: MaxInflight " + strconv.Itoa(opts.MaxInflight) + " out of range 0.." + strconv.Itoa(MaxPacketIDs))
	}
	if opts.Buffer.Size < 0 {
		return nil, errors.New("session: buffer size " + strconv.Itoa(opts.Buffer.Size) + " is negative")
	}
	if opts.KeepAlive < 0 || opts.PingTimeout < 0 {
		return nil, errors.New("session: negative keep-alive or ping timeout")
	}
	s := &Session{
		opts:        opts,
		store:       opts.Store,
		log:         opts.Logger,
		maxIn:       opts.MaxInflight,
		bufSize:     opts.Buffer.Size,
		ids:         newIDSet(),
		byPID:       make(map[uint16]*outRecord),
		inbound:     make(map[uint16]*inRecord),
		nextMsgID:   1,
		nextSeq:     1,
		ackHead:     1,
		keepAlive:   opts.KeepAlive,
		pingTimeout: opts.PingTimeout,
	}
	if s.log == nil {
		s.log = discardLogger
	}
	if s.maxIn == 0 {
		s.maxIn = DefaultMaxInflight
	}
	if s.bufSize == 0 {
		s.bufSize = DefaultBufferSize
	}
	if s.pingTimeout == 0 {
		s.pingTimeout = s.keepAlive
	}
	if s.store == nil {
		m := store.NewMemory()
		if err := m.Open("", ""); err != nil {
			return nil, err
		}
		s.store = m
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	return s, nil
}

// key returns the store key of a packet identifier (see storeKey: it does
// not allocate).
func (s *Session) key(kind int, pid uint16) string { return storeKey(kind, pid) }

func bufKey(seq uint64) string { return "sb-" + strconv.FormatUint(seq, 10) }

func (s *Session) newOut(kind recordKind) *outRecord {
	var r *outRecord
	if n := len(s.outPool); n > 0 {
		r = s.outPool[n-1]
		s.outPool = s.outPool[:n-1]
	} else {
		r = new(outRecord)
	}
	r.kind = kind
	r.id = s.nextMsgID
	s.nextMsgID++
	return r
}

func (s *Session) freeOut(r *outRecord) {
	if r.list != nil {
		r.list.Remove(r)
	}
	*r = outRecord{gen: r.gen + 1}
	if len(s.outPool) < 1024 {
		s.outPool = append(s.outPool, r)
	}
}

func (s *Session) newIn() *inRecord {
	if n := len(s.inPool); n > 0 {
		r := s.inPool[n-1]
		s.inPool = s.inPool[:n-1]
		r.st, r.ack = inAwaitRel, 0
		return r
	}
	return new(inRecord)
}

// freeIn returns r to the pool. Its message is left as it is: a delivery
// event of the same call may still point at it, and the next newIn
// overwrites it.
func (s *Session) freeIn(r *inRecord) {
	if len(s.inPool) < 1024 && cap(r.buf) <= 64<<10 {
		s.inPool = append(s.inPool, r)
	}
}

func (s *Session) complete(r *outRecord, err error, reply packet.Packet) {
	s.events.Push(Event{Kind: EventCompletion, ID: r.id, Err: err, Reply: reply})
	s.freeOut(r)
}

// MsgIDOf returns the MsgID of the publish, subscribe or unsubscribe that
// holds packet identifier pid, and false when none does. A publish holds its
// identifier from the moment it is admitted to the in-flight window (before
// NextToSend returns it) to its final ack; an owner that shows packet
// identifiers to its users (a token's message id) looks it up here when
// NextToSend hands the PUBLISH out, whatever order publishes were admitted
// in. It costs one map lookup.
func (s *Session) MsgIDOf(pid uint16) (MsgID, bool) {
	r := s.byPID[pid]
	if r == nil {
		return 0, false
	}
	return r.id, true
}

// Connected reports whether the session is between OnConnack and
// ConnectionLost.
func (s *Session) Connected() bool { return s.connected }

// InFlight returns the number of publishes holding a packet identifier
// (awaiting PUBACK, PUBREC or PUBCOMP).
func (s *Session) InFlight() int { return s.inflight.Len() + s.released.Len() }

// Waiting returns the number of publishes accepted while connected that
// wait for room in the in-flight window.
func (s *Session) Waiting() int { return s.waiting.Len() }

// Buffered returns the number of messages in the offline buffer.
func (s *Session) Buffered() int { return s.buffer.Len() }

// InboundPending returns the number of inbound QoS 2 messages between
// PUBLISH and PUBCOMP.
func (s *Session) InboundPending() int { return len(s.inbound) }

// Publish accepts a message and returns its MsgID; an EventCompletion with
// that ID follows when it is over.
//
// While connected: a QoS 0 message is queued to be handed out; a QoS 1 or 2
// message gets a packet identifier, is persisted under s-<id> and queued, or,
// when the in-flight window is full, is persisted under sb-<seq> and waits
// until an acknowledgement makes room. It never fails because the window is
// full.
//
// While disconnected the message goes to the offline buffer (persisted
// under sb-<seq> when it is QoS 1 or 2, or with BufferOptions.Persist), or
// Publish fails with ErrNotConnected when there is none and ErrBufferFull
// when it is full.
//
// So a QoS 1 or 2 message is in the store before Publish returns without
// error, and a durable store keeps it across a crash of the process.
//
// The session keeps msg.Payload without copying it: do not modify it until
// the message completes. Errors: ErrInvalidMessage (wrapping the packet
// error), ErrNotConnected, ErrBufferFull, or an error of the store, in which
// case nothing was accepted.
func (s *Session) Publish(now time.Time, msg Message) (MsgID, error) {
	if !msg.QoS.Valid() {
		return 0, ofKind(ErrInvalidMessage, packet.ErrInvalidQoS)
	}
	if err := packet.ValidateTopicName(msg.Topic); err != nil {
		return 0, ofKind(ErrInvalidMessage, err)
	}
	if !s.connected {
		return s.bufferPublish(msg)
	}
	r := s.newOut(kindPublish)
	r.pub = packet.Publish{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain}
	if msg.QoS == packet.QoS0 {
		r.st = stQueued0
		s.pubs.Push(sendEntry{typ: packet.TypePublish, rec: r, gen: r.gen})
		return r.id, nil
	}
	if s.waiting.Len() == 0 && s.InFlight() < s.maxIn && !s.ids.Full() {
		if err := s.admit(r); err != nil {
			s.nextMsgID-- // the ID was never seen
			s.freeOut(r)
			return 0, err
		}
		return r.id, nil
	}
	// The window is full: the message waits, durably, so that accepting it
	// means it survives a crash. Only a message that waits pays the write.
	if err := s.persistQueued(r); err != nil {
		s.nextMsgID--
		s.freeOut(r)
		return 0, err
	}
	r.st = stWaiting
	s.waiting.PushBack(r)
	return r.id, nil
}

// admit gives a QoS 1 or 2 publish a packet identifier, persists it under
// s-<id> and queues it. On an error nothing is left of it but r.
func (s *Session) admit(r *outRecord) error {
	pid, err := s.ids.Alloc()
	if err != nil {
		return err
	}
	r.pub.PacketID, r.pub.Dup = pid, false
	b, err := r.pub.Append(s.enc[:0])
	if err != nil {
		s.ids.Free(pid)
		return ofKind(ErrInvalidMessage, err)
	}
	if r.bufSeq != 0 {
		// A queued message carries the sequence of its sb- record in its s-
		// record, so that restore can tell the two copies apart.
		b = appendSeqTrailer(b, r.bufSeq)
	}
	s.enc = b
	if err := s.store.Put(s.key(keyS, pid), b); err != nil { // persisted before it is handed out
		s.ids.Free(pid)
		return errwrap.Wrap("session: persisting PUBLISH "+strconv.Itoa(int(pid)), err)
	}
	if r.bufSeq != 0 {
		// Now that s-<id> holds it, the queued copy goes. A crash between
		// the two leaves both; restore keeps the s- record and removes the
		// sb- record whose sequence it carries: nothing lost, nothing sent
		// twice.
		if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
			s.log.Error("session: removing queued record", "key", bufKey(r.bufSeq), "err", err)
		}
		r.bufSeq = 0
	}
	r.st = stInflight
	s.byPID[pid] = r
	s.inflight.PushBack(r)
	s.pubs.Push(sendEntry{typ: packet.TypePublish, pid: pid, rec: r, gen: r.gen})
	return nil
}

// Subscribe queues a SUBSCRIBE and returns its MsgID; the completion event
// carries the SUBACK as Reply. The session keeps subs without copying it.
// It waits for a packet identifier when all are in use. Errors:
// ErrNotConnected, ErrInvalidMessage.
func (s *Session) Subscribe(now time.Time, subs []packet.Subscription) (MsgID, error) {
	if !s.connected {
		return 0, ErrNotConnected
	}
	if len(subs) == 0 {
		return 0, ofKind(ErrInvalidMessage, packet.ErrEmptyPayload)
	}
	for _, sub := range subs {
		if err := packet.ValidateTopicFilter(sub.Filter); err != nil {
			return 0, ofKind(ErrInvalidMessage, err)
		}
		if !sub.QoS.Valid() {
			return 0, ofKind(ErrInvalidMessage, packet.ErrInvalidQoS)
		}
	}
	r := s.newOut(kindSubscribe)
	r.sub.Subscriptions = subs
	s.admitCtlOrWait(r)
	return r.id, nil
}

// Unsubscribe queues an UNSUBSCRIBE and returns its MsgID; the completion
// event carries the UNSUBACK as Reply. As Subscribe otherwise.
func (s *Session) Unsubscribe(now time.Time, filters []string) (MsgID, error) {
	if !s.connected {
		return 0, ErrNotConnected
	}
	if len(filters) == 0 {
		return 0, ofKind(ErrInvalidMessage, packet.ErrEmptyPayload)
	}
	for _, f := range filters {
		if err := packet.ValidateTopicFilter(f); err != nil {
			return 0, ofKind(ErrInvalidMessage, err)
		}
	}
	r := s.newOut(kindUnsubscribe)
	r.unsub.Filters = filters
	s.admitCtlOrWait(r)
	return r.id, nil
}

func (s *Session) admitCtlOrWait(r *outRecord) {
	if s.waitingCtl.Len() > 0 || s.ids.Full() {
		r.st = stWaiting
		s.waitingCtl.PushBack(r)
		return
	}
	s.admitCtl(r)
}

func (s *Session) admitCtl(r *outRecord) {
	pid, _ := s.ids.Alloc() // callers check that one is free
	typ := packet.TypeSubscribe
	if r.kind == kindSubscribe {
		r.sub.PacketID = pid
	} else {
		r.unsub.PacketID = pid
		typ = packet.TypeUnsubscribe
	}
	r.st = stInflight
	s.byPID[pid] = r
	s.ctlInflight.PushBack(r)
	s.control.Push(sendEntry{typ: typ, pid: pid, rec: r, gen: r.gen})
}

// promote moves waiting subscribes and publishes into flight while there
// are identifiers and room in the window. A publish that cannot be persisted
// completes with the error.
func (s *Session) promote() {
	if !s.connected {
		return
	}
	for s.waitingCtl.Len() > 0 && !s.ids.Full() {
		s.admitCtl(s.waitingCtl.PopFront())
	}
	for s.waiting.Len() > 0 {
		r := s.waiting.head
		if r.pub.QoS == packet.QoS0 { // from the offline buffer: keeps its place in the order
			s.waiting.Remove(r)
			r.st = stQueued0
			s.pubs.Push(sendEntry{typ: packet.TypePublish, rec: r, gen: r.gen})
			continue
		}
		if s.InFlight() >= s.maxIn || s.ids.Full() {
			return
		}
		s.waiting.Remove(r)
		if err := s.admit(r); err != nil {
			s.log.Error("session: admitting a waiting publish", "id", r.id, "err", err)
			if r.bufSeq != 0 {
				// It completes with the error: it must not come back after a
				// restart.
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing queued record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.complete(r, err, nil)
		}
	}
}

// Cancel withdraws a publish that is still waiting for the window or in the
// offline buffer, removing its sb- record, and reports whether it did. A
// message that already holds a packet identifier cannot be withdrawn: it
// completes through its acknowledgements. No event follows a cancel.
func (s *Session) Cancel(id MsgID) bool {
	for _, l := range []*outList{&s.waiting, &s.buffer} {
		for r := l.head; r != nil; r = r.next {
			if r.id != id {
				continue
			}
			if r.bufSeq != 0 {
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing buffered record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.freeOut(r)
			return true
		}
	}
	return false
}

// NextToSend returns the next packet to write, or false when there is none.
// Control packets (acks, PINGREQ, PUBREL, SUBSCRIBE, UNSUBSCRIBE) come
// before publishes. Everything that needs a record was persisted before it
// is returned here.
//
// The packet is owned by the session and valid until the next call on it:
// encode it at once (packet.Writer.Queue). The session counts it as sent at
// now for keep-alive. A QoS 0 publish completes (an EventCompletion) when it
// is handed out.
func (s *Session) NextToSend(now time.Time) (packet.Packet, bool) {
	for s.control.Len() > 0 {
		e := s.control.Pop()
		if e.rec != nil && e.rec.gen != e.gen {
			continue // the record completed meanwhile
		}
		s.lastSent = now
		switch e.typ {
		case packet.TypePuback:
			s.puback.PacketID = e.pid
			return &s.puback, true
		case packet.TypePubrec:
			s.pubrec.PacketID = e.pid
			return &s.pubrec, true
		case packet.TypePubrel:
			s.pubrel.PacketID = e.pid
			return &s.pubrel, true
		case packet.TypePubcomp:
			s.pubcomp.PacketID = e.pid
			return &s.pubcomp, true
		case packet.TypePingreq:
			return &s.pingreq, true
		case packet.TypeSubscribe:
			e.rec.sent = true
			return &e.rec.sub, true
		case packet.TypeUnsubscribe:
			e.rec.sent = true
			return &e.rec.unsub, true
		}
	}
	for s.pubs.Len() > 0 {
		e := s.pubs.Pop()
		r := e.rec
		if r.gen != e.gen || (r.st != stInflight && r.st != stQueued0) {
			continue
		}
		s.lastSent = now
		if r.st == stQueued0 {
			s.pub0 = r.pub
			if r.bufSeq != 0 {
				if err := s.store.Remove(bufKey(r.bufSeq)); err != nil {
					s.log.Error("session: removing buffered record", "key", bufKey(r.bufSeq), "err", err)
				}
			}
			s.complete(r, nil, nil)
			return &s.pub0, true
		}
		r.sent = true
		return &r.pub, true
	}
	return nil, false
}

// Pending reports whether NextToSend has a packet.
func (s *Session) Pending() bool { return s.control.Len() > 0 || s.pubs.Len() > 0 }

// NextEvent returns the next delivery or completion, in the order they
// happened, or false when there is none. Drain it after every call of
// Received, Ack, Tick, NextToSend, OnConnack and ConnectionLost: the
// pointers in an event are valid only until the next such call.
func (s *Session) NextEvent() (Event, bool) {
	if s.events.Len() == 0 {
		return Event{}, false
	}
	return s.events.Pop(), true
}

// Received processes a packet from the server: acks move outbound messages
// on (completing them on their final ack), PUBLISH and PUBREL produce
// deliveries, and replies are queued for NextToSend. Any packet counts as
// a sign of life for keep-alive.
//
// p may point into the reader's buffer: the session copies what it keeps.
// An ack for an unknown packet identifier is logged and answered as Paho
// does (PUBREL for a PUBREC, PUBCOMP for a PUBREL, nothing otherwise)
// without touching the state.
//
// Errors: *UnexpectedPacketError for a packet a client never receives (close
// the connection), *UnknownAckError for an ack no message waits for (only
// with Options.StrictAcks; close the connection), or an error of the store
// (the packet was not accepted; the server will re-send it after a
// reconnect).
func (s *Session) Received(now time.Time, p packet.Packet) error {
	s.lastRecv = now
	s.pingOutstanding = false
	switch p := p.(type) {
	case *packet.Publish:
		return s.receivePublish(p)
	case *packet.Puback:
		return s.receivePuback(p.PacketID)
	case *packet.Pubrec:
		return s.receivePubrec(p.PacketID)
	case *packet.Pubrel:
		return s.receivePubrel(p.PacketID)
	case *packet.Pubcomp:
		return s.receivePubcomp(p.PacketID)
	case *packet.Suback:
		return s.receiveSuback(p)
	case *packet.Unsuback:
		return s.receiveUnsuback(p)
	case *packet.Pingresp:
	default:
		return &UnexpectedPacketError{Type: p.Type()}
	}
	return nil
}

func (s *Session) receivePublish(p *packet.Publish) error {
	switch p.QoS {
	case packet.QoS0:
		s.events.Push(Event{Kind: EventDelivery, Message: p})
	case packet.QoS1:
		// [MQTT-4.3.2-2]: PUBACK once the message is ours, in arrival order
		// [MQTT-4.6.0-2].
		ack := s.pushAck(packet.TypePuback, p.PacketID)
		s.events.Push(Event{Kind: EventDelivery, Message: p, Ack: ack})
		s.flushAcks()
	case packet.QoS2:
		if _, dup := s.inbound[p.PacketID]; dup {
			// [MQTT-4.3.3-2]: a re-send of a message we hold is answered
			// again, not delivered again.
			s.control.Push(sendEntry{typ: packet.TypePubrec, pid: p.PacketID})
			return nil
		}
		r := s.newIn()
		r.buf = append(r.buf[:0], p.Payload...)
		r.pub = *p
		r.pub.Payload = r.buf
		r.st = inAwaitRel
		b, err := r.pub.Append(s.enc[:0])
		if err == nil {
			s.enc = b
			err = s.store.Put(s.key(keyR, p.PacketID), b) // persisted before PUBREC
		}
		if err != nil {
			s.freeIn(r)
			return errwrap.Wrap("session: persisting inbound PUBLISH "+strconv.Itoa(int(p.PacketID)), err)
		}
		s.inbound[p.PacketID] = r
		s.control.Push(sendEntry{typ: packet.TypePubrec, pid: p.PacketID}) // in arrival order [MQTT-4.6.0-3]
	}
	return nil
}

func (s *Session) pushAck(typ packet.Type, pid uint16) AckID {
	id := s.ackHead + AckID(s.acks.Len())
	s.acks.Push(ackEntry{typ: typ, pid: pid, done: !s.opts.ManualAcks})
	if !s.opts.ManualAcks {
		return 0
	}
	return id
}

// Ack acknowledges a delivery made with ManualAcks. For QoS 2 the r- record
// is removed at once, so a crash after Ack never delivers the message again.
// The PUBACK or PUBCOMP goes out once every earlier delivery is
// acknowledged too, so acks leave in delivery order. Acking an unknown,
// stale or already acknowledged AckID does nothing. The error is a store
// error removing the r- record; the delivery then stays unacknowledged and
// Ack may be called again.
func (s *Session) Ack(now time.Time, id AckID) error {
	if id < s.ackHead || id >= s.ackHead+AckID(s.acks.Len()) {
		return nil
	}
	e := s.acks.At(int(id - s.ackHead))
	if e.void || e.done {
		return nil
	}
	if e.typ == packet.TypePubcomp {
		if err := s.releaseInbound(e.pid); err != nil {
			return err
		}
	}
	e.done = true
	s.flushAcks()
	return nil
}

// releaseInbound ends an inbound QoS 2 message after its delivery: the r-
// record goes from the store, then from memory. A crash before the Remove
// delivers the message again after a restart; nothing is lost.
func (s *Session) releaseInbound(pid uint16) error {
	if err := s.store.Remove(s.key(keyR, pid)); err != nil {
		return errwrap.Wrap("session: removing inbound record "+strconv.Itoa(int(pid)), err)
	}
	if r := s.inbound[pid]; r != nil {
		delete(s.inbound, pid)
		s.freeIn(r)
	}
	return nil
}

// flushAcks queues the acknowledgements at the head of the delivery order
// that are done.
func (s *Session) flushAcks() {
	for s.acks.Len() > 0 {
		e := s.acks.At(0)
		if !e.done && !e.void {
			return
		}
		if !e.void && s.connected {
			s.control.Push(sendEntry{typ: e.typ, pid: e.pid})
		}
		s.acks.Pop()
		s.ackHead++
	}
}

func (s *Session) receivePuback(pid uint16) error {
	r := s.byPID[pid]
	if r == nil || r.kind != kindPublish || r.st != stInflight || r.pub.QoS != packet.QoS1 {
		return s.unknownAck(packet.TypePuback, pid)
	}
	s.finish(r, keyS, nil)
	return nil
}

// unknownAck logs an acknowledgement that no message waits for and, with
// StrictAcks, reports it.
func (s *Session) unknownAck(t packet.Type, pid uint16) error {
	s.log.Warn("session: acknowledgement for an unknown packet identifier, ignored", "type", t, "id", pid)
	if s.opts.StrictAcks {
		return &UnknownAckError{Type: t, PacketID: pid}
	}
	return nil
}

// finish ends an outbound publish or subscribe on its final ack: the record
// goes from the store, then the identifier is freed [MQTT-2.3.1-3], then the
// completion is queued.
func (s *Session) finish(r *outRecord, kind int, reply packet.Packet) {
	pid := r.pub.PacketID
	switch r.kind {
	case kindSubscribe:
		pid = r.sub.PacketID
	case kindUnsubscribe:
		pid = r.unsub.PacketID
	default:
		if err := s.store.Remove(s.key(kind, pid)); err != nil {
			// The record stays in the store: after a restart the message is
			// sent once more, which QoS 1 allows and QoS 2's receiver
			// absorbs. Completing it now is right: the server has it.
			s.log.Error("session: removing completed record", "key", s.key(kind, pid), "err", err)
		}
	}
	delete(s.byPID, pid)
	s.ids.Free(pid)
	var err error
	if r.kind == kindSubscribe {
		if sa, ok := reply.(*packet.Suback); ok && len(sa.ReturnCodes) != len(r.sub.Subscriptions) {
			err = ErrSubackCount
		}
	}
	s.complete(r, err, reply)
	s.promote()
}

func (s *Session) receivePubrec(pid uint16) error {
	r := s.byPID[pid]
	switch {
	case r == nil:
		// Paho answers an unknown PUBREC with PUBREL; §4.3.3 allows it and
		// the server then completes with PUBCOMP.
		s.log.Warn("session: PUBREC for an unknown packet identifier, answering PUBREL", "id", pid)
		s.expectExtraComp(pid)
		s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid})
		return nil
	case r.kind != kindPublish || r.pub.QoS != packet.QoS2:
		s.log.Warn("session: PUBREC for a packet identifier that is not a QoS 2 publish, ignored", "id", pid)
		return nil
	case r.st == stReleased:
		// The server sent PUBREC again: answer it [MQTT-4.3.3-1]; the
		// PUBREL sent before may still bring its own PUBCOMP.
		s.expectExtraComp(pid)
		s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid, rec: r, gen: r.gen})
		return nil
	}
	rel := packet.Pubrel{PacketID: pid}
	b, _ := rel.Append(s.enc[:0]) // cannot fail: pid is not 0
	s.enc = b
	// sc- first, then s- goes: a crash between them leaves both, and
	// restore lets sc- win [MQTT-4.3.3-1]: no PUBLISH after PUBREL.
	if err := s.store.Put(s.key(keySC, pid), b); err != nil {
		return errwrap.Wrap("session: persisting PUBREL "+strconv.Itoa(int(pid)), err)
	}
	if err := s.store.Remove(s.key(keyS, pid)); err != nil {
		s.log.Error("session: removing released PUBLISH record", "key", s.key(keyS, pid), "err", err)
	}
	s.inflight.Remove(r)
	r.st = stReleased
	s.released.PushBack(r)
	s.control.Push(sendEntry{typ: packet.TypePubrel, pid: pid, rec: r, gen: r.gen}) // in PUBREC order [MQTT-4.6.0-4]
	return nil
}

func (s *Session) receivePubrel(pid uint16) error {
	r := s.inbound[pid]
	switch {
	case r == nil:
		s.log.Warn("session: PUBREL for an unknown packet identifier, answering PUBCOMP", "id", pid)
		s.control.Push(sendEntry{typ: packet.TypePubcomp, pid: pid})
		return nil
	case r.st == inDelivered && r.ack != 0:
		return nil // delivered, waiting for Ack: PUBCOMP then
	case r.st == inDelivered:
		// Delivered, but removing the record failed before: retry.
		if err := s.releaseInbound(pid); err != nil {
			return err
		}
		s.control.Push(sendEntry{typ: packet.TypePubcomp, pid: pid})
		return nil
	}
	r.st = inDelivered
	r.ack = s.pushAck(packet.TypePubcomp, pid)
	s.events.Push(Event{Kind: EventDelivery, Message: &r.pub, Ack: r.ack}) // delivered once, on PUBREL
	if r.ack != 0 {
		return nil
	}
	// Automatic acks: delivered (handed out), then the record goes, then
	// PUBCOMP.
	if err := s.releaseInbound(pid); err != nil {
		s.acks.At(s.acks.Len() - 1).void = true // no PUBCOMP before the record is gone
		s.flushAcks()
		return err
	}
	s.flushAcks()
	return nil
}

func (s *Session) receivePubcomp(pid uint16) error {
	r := s.byPID[pid]
	if r == nil || r.kind != kindPublish || r.st != stReleased {
		// The server answers each PUBREL: a PUBCOMP for an extra one comes
		// after the one that completed the message, and before the PUBREC
		// of any later message with the same id, which it cannot complete.
		if n := s.extraComp[pid]; n > 0 {
			if n == 1 {
				delete(s.extraComp, pid)
			} else {
				s.extraComp[pid] = n - 1
			}
			return nil
		}
		return s.unknownAck(packet.TypePubcomp, pid)
	}
	s.finish(r, keySC, nil)
	return nil
}

// maxExtraComp bounds the bookkeeping of extra PUBCOMPs, so that a server
// sending PUBREC after PUBREC cannot make it grow: past the bound, its
// PUBCOMPs are unknown acks again.
const maxExtraComp = 256

// expectExtraComp records that a PUBREL about to go out for pid may bring
// a PUBCOMP beyond the one that completes the message.
func (s *Session) expectExtraComp(pid uint16) {
	if s.extraComp == nil {
		s.extraComp = make(map[uint16]int)
	}
	if n, ok := s.extraComp[pid]; (ok || len(s.extraComp) < maxExtraComp) && n < maxExtraComp {
		s.extraComp[pid] = n + 1
	}
}

func (s *Session) receiveSuback(p *packet.Suback) error {
	r := s.byPID[p.PacketID]
	if r == nil || r.kind != kindSubscribe {
		return s.unknownAck(packet.TypeSuback, p.PacketID)
	}
	s.finish(r, 0, p)
	return nil
}

func (s *Session) receiveUnsuback(p *packet.Unsuback) error {
	r := s.byPID[p.PacketID]
	if r == nil || r.kind != kindUnsubscribe {
		return s.unknownAck(packet.TypeUnsuback, p.PacketID)
	}
	s.finish(r, 0, p)
	return nil
}

// OnConnack starts a connection after a CONNACK that accepted it.
// cleanSession is the flag the CONNECT carried; sessionPresent the CONNACK's.
//
// With cleanSession, the old session goes [MQTT-3.1.2-6]: every in-flight
// publish completes with ErrSessionCleared, inbound QoS 2 state is dropped
// and the s-, sc- and r- records are removed from the store. Without it,
// everything in flight is queued again in its original order
// [MQTT-4.4.0-1] [MQTT-4.6.0-1]: a PUBREL for each QoS 2 message whose PUBREC
// was seen, in PUBREC order, then every unacknowledged PUBLISH with DUP=1
// [MQTT-3.3.1-1], in publish order.
//
// Then waiting publishes and the offline buffer are admitted, in order,
// through the in-flight window, and keep-alive starts counting at now.
// The error is an error of the store while clearing; the session is
// connected all the same.
func (s *Session) OnConnack(now time.Time, sessionPresent, cleanSession bool) error {
	s.connected = true
	s.extraComp = nil // no PUBCOMP of an earlier connection arrives on this one
	s.control.Clear()
	s.pubs.Clear()
	s.lastSent, s.lastRecv, s.pingOutstanding = now, now, false
	var err error
	if cleanSession {
		err = s.clearSession()
	} else {
		if !sessionPresent && s.InFlight() > 0 {
			s.log.Warn("session: the server has no session for in-flight messages; re-sending them anyway",
				"inflight", s.InFlight())
		}
		for r := s.released.head; r != nil; r = r.next {
			s.control.Push(sendEntry{typ: packet.TypePubrel, pid: r.pub.PacketID, rec: r, gen: r.gen})
		}
		for r := s.inflight.head; r != nil; r = r.next {
			r.pub.Dup = r.sent // [MQTT-3.3.1-1]
			s.pubs.Push(sendEntry{typ: packet.TypePublish, pid: r.pub.PacketID, rec: r, gen: r.gen})
		}
	}
	s.waiting.AppendList(&s.buffer)
	s.promote()
	if ps := s.opts.PingSender; ps != nil && s.keepAlive > 0 {
		ps.Start()
		ps.Schedule(s.keepAlive)
	}
	return err
}

// clearSession discards all session state, memory and store [MQTT-3.1.2-6].
// Offline-buffered and waiting messages were never sent: they stay.
func (s *Session) clearSession() error {
	for _, l := range []*outList{&s.inflight, &s.released} {
		for r := l.PopFront(); r != nil; r = l.PopFront() {
			delete(s.byPID, r.pub.PacketID)
			s.ids.Free(r.pub.PacketID)
			s.complete(r, ErrSessionCleared, nil)
		}
	}
	for pid, r := range s.inbound {
		delete(s.inbound, pid)
		s.freeIn(r)
	}
	// AckIDs handed out so far become stale.
	s.ackHead += AckID(s.acks.Len())
	s.acks.Clear()
	keys, err := s.store.Keys()
	if err != nil {
		return errwrap.Wrap("session: clearing the store", err)
	}
	var first error
	for _, k := range keys {
		if _, _, ok := parseKey(k); ok {
			if err := s.store.Remove(k); err != nil && first == nil {
				first = errwrap.Wrap("session: clearing the store", err)
			}
		}
	}
	return first
}

// ConnectionLost ends the connection. Subscribes and unsubscribes in flight
// or waiting complete with cause (net.ErrClosed when nil), as do QoS 0
// publishes not yet handed out (except those of a persisted offline buffer,
// which go back to it); queued acks are dropped (the server re-sends
// what they answered); QoS 1 deliveries awaiting Ack are voided, QoS 2 ones
// stay and are completed by Ack. QoS 1 and 2 publishes stay in flight for
// the next OnConnack. The ping sender is stopped.
func (s *Session) ConnectionLost(now time.Time, cause error) {
	if cause == nil {
		cause = net.ErrClosed
	}
	s.connected = false
	s.pingOutstanding = false
	if ps := s.opts.PingSender; ps != nil {
		ps.Stop()
	}
	s.control.Clear()
	var back outList // persisted buffered QoS 0 messages not handed out: back to the buffer
	for s.pubs.Len() > 0 {
		e := s.pubs.Pop()
		if e.rec.gen != e.gen || e.rec.st != stQueued0 {
			continue
		}
		if e.rec.bufSeq != 0 {
			e.rec.st = stBuffered
			back.PushBack(e.rec)
			continue
		}
		s.complete(e.rec, cause, nil)
	}
	if back.Len() > 0 {
		back.AppendList(&s.buffer)
		s.buffer.AppendList(&back)
	}
	for _, l := range []*outList{&s.ctlInflight, &s.waitingCtl} {
		for r := l.PopFront(); r != nil; r = l.PopFront() {
			if r.st == stInflight {
				pid := r.sub.PacketID
				if r.kind == kindUnsubscribe {
					pid = r.unsub.PacketID
				}
				delete(s.byPID, pid)
				s.ids.Free(pid)
			}
			s.complete(r, cause, nil)
		}
	}
	for i := 0; i < s.acks.Len(); i++ {
		if e := s.acks.At(i); e.typ == packet.TypePuback {
			e.void = true
		}
	}
	s.flushAcks() // pops the voided entries at the head
}
