package session

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/linnet-mqtt/linnet/packet"
	"github.com/linnet-mqtt/linnet/store"
)

// DefaultMaxInFlight is the in-flight window when Options.MaxInFlight is 0:
// at most this many QoS 1 and 2 publishes are on the wire awaiting their
// final acknowledgement at once; later ones wait in the session, in order,
// without an identifier. It is mosquitto's default max_inflight_messages
// (a server that allows fewer refuses the client) and the client's default.
const DefaultMaxInFlight = 20

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
	// MaxInFlight is the in-flight window: 1 to 65535, 0 means
	// DefaultMaxInFlight. Publishes beyond it wait, they do not fail.
	MaxInFlight int
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
	// ConnectionLost and scheduled for the next keep-alive check by Tick,
	// and again whenever that check moves earlier (see PingSender). Its
	// Init must already have been called by the owner.
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
	// Tag is the owner's, carried without a look from Publish to the
	// message's completion event (Event.Tag) and handed back by NextToSend
	// with its PUBLISH, so that an owner keeps no table of its own (a token,
	// typically). It is not persisted: a restored message has none until
	// SetTag gives it one.
	Tag any
	// Seq, when not 0, says that the message is in the store already,
	// under sb-<Seq>, written there by Stage. Publish then writes no record
	// of its own: a message admitted to the window at once moves to s-<id>
	// as a waiting one does, one that waits or is buffered keeps its staged
	// record, a QoS 0 message sent at once loses it when it is handed out,
	// and a message Publish refuses loses it before Publish returns.
	Seq uint64
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
	Tag   any           // the tag given to Publish, Subscribe, Unsubscribe or SetTag
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
	held   bool   // in flight from an earlier connection, not re-sent on this one yet (see Session.resend)
	bufSeq uint64 // sequence of its sb- record, 0 if none
	tag    any    // the owner's, see Message.Tag
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
// A Session is owned by one goroutine, the client's loop: every method but
// Stage and Unstage must be called from it (it is not safe for concurrent
// use). Stage and Unstage may be called from any goroutine at any time. It starts no
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
	// seqMu guards nextSeq and serialises the writes of sb- records, by
	// Stage on any goroutine and persistQueued on the owner's, so that the
	// store's key order is the sequence order.
	seqMu   sync.Mutex
	nextSeq uint64 // next sb- sequence number

	restoredSeqs []uint64 // during restore: sequences carried by s- records

	waiting     outList // publishes waiting for the window, in order
	waitingCtl  outList // subscribes and unsubscribes waiting for an identifier
	inflight    outList // publishes awaiting PUBACK or PUBREC, in send order
	released    outList // QoS 2 publishes awaiting PUBCOMP, in PUBREC order
	ctlInflight outList // subscribes and unsubscribes awaiting SUBACK or UNSUBACK
	buffer      outList // the offline buffer

	control ring[sendEntry] // acks, PINGREQ, PUBREL, SUBSCRIBE, UNSUBSCRIBE
	// resend holds, in re-send order, the PUBRELs and PUBLISHes in flight
	// from an earlier connection that OnConnack could not put on the wire
	// at once because the window was full; held counts their records.
	// promote lets them out as acknowledgements free room, before any
	// waiting publish. An entry whose record is no longer held is stale.
	resend  ring[sendEntry]
	held    int
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
	pingOutstanding        bool      // a PINGREQ is unanswered
	pingSent               time.Time // when the first unanswered PINGREQ was queued
	pingQueued             bool      // a PINGREQ waits in control to be handed out
	scheduled              time.Time // the check last scheduled on the PingSender; zero if none
}

// New returns a session over opts.Store, restoring what the store holds (see
// Restore in the package documentation). The session starts disconnected.
//
// Records that cannot be used are logged, removed and skipped; New fails only
// when the options are invalid or the store cannot list its keys.
func New(opts Options) (*Session, error) {
	if opts.MaxInFlight < 0 || opts.MaxInFlight > MaxPacketIDs {
		return nil, errors.New("session: MaxInFlight " + strconv.Itoa(opts.MaxInFlight) + " out of range 0.." + strconv.Itoa(MaxPacketIDs))
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
		maxIn:       opts.MaxInFlight,
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
		s.maxIn = DefaultMaxInFlight
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
	s.events.Push(Event{Kind: EventCompletion, ID: r.id, Tag: r.tag, Err: err, Reply: reply})
	s.freeOut(r)
}

// SetTag gives the publish id, still held by the session, the tag its
// completion event and NextToSend carry (see Message.Tag): for messages New
// restored, which Outstanding lists without one. It reports whether the
// session holds id.
func (s *Session) SetTag(id MsgID, tag any) bool {
	for _, l := range []*outList{&s.released, &s.inflight, &s.waiting, &s.buffer} {
		for r := l.head; r != nil; r = r.next {
			if r.id == id {
				r.tag = tag
				return true
			}
		}
	}
	return false
}

// Connected reports whether the session is between OnConnack and
// ConnectionLost.
func (s *Session) Connected() bool { return s.connected }

// InFlight returns the number of publishes holding a packet identifier
// (awaiting PUBACK, PUBREC or PUBCOMP). It counts, too, those in flight from
// an earlier connection (or restored from the store) that wait for room in
// the window to be re-sent on this one: after a reconnect it may exceed the
// window, while at most MaxInFlight of them are on the wire (Unsent says how
// many are not).
func (s *Session) InFlight() int { return s.inflight.Len() + s.released.Len() }

// Unsent returns the number of publishes that hold a packet identifier from
// an earlier connection and wait for room in the window to be re-sent on
// this one (see OnConnack). InFlight() - Unsent() are on the wire.
func (s *Session) Unsent() int { return s.held }

// onWire is the number of in-flight publishes that count against the
// window on this connection.
func (s *Session) onWire() int { return s.inflight.Len() + s.released.Len() - s.held }

// Waiting returns the number of publishes accepted while connected that
// wait for room in the in-flight window.
func (s *Session) Waiting() int { return s.waiting.Len() }

// Buffered returns the number of messages in the offline buffer.
func (s *Session) Buffered() int { return s.buffer.Len() }

// InboundPending returns the number of inbound QoS 2 messages between
// PUBLISH and PUBCOMP.
func (s *Session) InboundPending() int { return len(s.inbound) }
