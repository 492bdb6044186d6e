// Package session holds the protocol state of one MQTT 3.1.1 client, free
// of goroutines and sockets: packet-identifier allocation, the outbound
// tables of QoS 1 and 2, the inbound QoS 2 table, the send queues, the
// in-flight window, the offline buffer, keep-alive bookkeeping, and restore
// from a store.Persistence. It is Paho Java's ClientState, CommsTokenStore
// and MqttPingSender translated into Go: every method takes the time as now
// and returns what to send instead of sending it, so every rule can be
// tested with a table of events.
//
// # Usage
//
// The client's loop goroutine owns a Session and drives it:
//
//	s, err := session.New(session.Options{Store: st, KeepAlive: 30 * time.Second})
//	// after CONNACK accepted the connection:
//	s.OnConnack(now, connack.SessionPresent, cleanSession)
//	// user requests, handed to the loop:
//	id, err := s.Publish(now, session.Message{Topic: "a/b", Payload: p, QoS: 1})
//	// or persisted on the publisher's goroutine first, then handed over:
//	seq, err := s.Stage(msg) // any goroutine
//	msg.Seq = seq
//	id, err = s.Publish(now, msg) // the loop
//	id, err = s.Subscribe(now, subs, tag)
//	// each packet the reader decoded:
//	err = s.Received(now, p)
//	// when NextDeadline is reached (or the PingSender fires):
//	err = s.Tick(now)
//	// after each of these, write what is queued and act on the events:
//	for p, _, ok := s.NextToSend(now); ok; p, _, ok = s.NextToSend(now) { w.Queue(p) }
//	w.Flush()
//	for e, ok := s.NextEvent(); ok; e, ok = s.NextEvent() { ... }
//	// when the connection ends (read/write error, Tick's timeout, Close):
//	s.ConnectionLost(now, err)
//
// Events are deliveries (a message for the application; with
// Options.ManualAcks its AckID goes back through Ack when the application is
// done) and completions (a MsgID is over: Err nil after the final ack, or why
// it failed; Tag is the owner's tag given with the message, see
// Message.Tag, so that the owner needs no table from MsgID to its token). A completion never comes before the final ack: PUBACK for QoS
// 1, PUBCOMP for QoS 2, SUBACK, UNSUBACK; a QoS 0 publish completes when it
// is handed out.
//
// Records are persisted under the keys of Paho: s-<id> for an outbound QoS 1
// or 2 PUBLISH (written before NextToSend can return it), sc-<id> for the
// PUBREL after PUBREC (written before the s- record is removed), r-<id> for
// an inbound QoS 2 PUBLISH (written before PUBREC), and sb-<seq> for an
// accepted message that holds no packet identifier yet, seq counting up from
// 1 across restarts. Every QoS 1 and 2 message is durable before Publish
// returns: it has an s- record when it was admitted to the in-flight window
// at once, an sb- record when it waits for room in the window or sits in the
// offline buffer. A QoS 0 message gets an sb- record only in an offline
// buffer with BufferOptions.Persist, or when it was staged. When a queued
// (or staged) message is admitted, its s- record carries seq (8 bytes,
// big-endian, after the PUBLISH) and is written before the sb- record is
// removed. A message admitted at once costs one Put and one Remove; only
// messages that wait pay the second pair. Stage writes the sb- record
// before Publish: a staged message pays the Put, the s- Put and the Remove
// whether it waits or not, and one Publish refuses loses its record.
//
// New restores what the store holds, in the store's insertion order (not
// identifier order, so the order survives wrap-around): s- records become
// unacknowledged publishes (re-sent with DUP=1), sc- records PUBRELs to
// re-send (an sc- replaces the s- of the same identifier; an sc- alone is
// the normal state after PUBREC), r- records inbound messages waiting for
// PUBREL, sb- records the offline buffer, in sequence order, behind
// everything in flight. An sb- record whose seq an s- record carries (a
// crash between writing the s- record and removing the sb- record) is
// removed: the message is restored once, in flight. Records that do not
// decode, or do not belong under their key, are logged, removed and skipped.
// Outstanding lists the restored messages so that the client can rebuild
// its tokens, and SetTag attaches a token to each.
//
// On OnConnack without clean session, PUBRELs are re-sent first (in PUBREC
// order), then the unacknowledged PUBLISHes (in publish order, DUP=1), then
// messages waiting for the window, then the offline buffer, all through the
// in-flight window: at most MaxInFlight of the re-sent messages are on the
// wire at once, the others follow as acknowledgements free room, and no
// waiting or buffered message is admitted before the last of them is out. With clean session, the in-flight messages complete with
// ErrSessionCleared and the s-, sc- and r- records are removed; waiting and
// buffered messages, never sent, are kept and sent.
//
// Keep-alive follows Paho's checkForActivity: Tick queues a PINGREQ
// whenever nothing was sent for the keep-alive period, even while an
// earlier PINGREQ is unanswered [MQTT-3.1.2-23], or when nothing was
// received for it and no PINGREQ is outstanding, and returns a
// *TimeoutError when nothing at all arrived within the ping timeout of the
// first unanswered PINGREQ. NextDeadline is the exact time of the next
// check. A
// PingSender (TimerPingSender on one time.Timer, or ManualPingSender for a
// host's own loop) can be given in Options; the session starts, schedules
// and stops it.
//
// # Concurrency
//
// A Session is not safe for concurrent use: it belongs to one goroutine (the
// client's loop) and starts none. The exceptions are Stage and Unstage,
// safe for concurrent use with each other and with every other method:
// they let a publisher persist a message on its own goroutine, before it
// hands the message (with Message.Seq) to the owner, which passes it to
// Publish. They need a store safe for concurrent use, as those of package
// store are. Packets and events it returns point into
// its own memory and are valid until the next call (see Event). The ping
// senders are safe for concurrent use: the session drives them from its
// owner's goroutine, while TimerPingSender calls its check function on a
// timer goroutine and ManualPingSender on whichever goroutine calls Poll (a
// host's main loop); that function must hand the check over to the owning
// goroutine. ServerAlive is for an owner that holds back reading from a
// live server (its application is slow): keep-alive then neither times out
// nor stops sending PINGREQs.
//
// # Errors
//
// Every error matches a sentinel with errors.Is: ErrInvalidMessage (wrapping
// the packet error), ErrNotConnected, ErrBufferFull, ErrUnexpectedPacket
// (*UnexpectedPacketError: close the connection), ErrKeepAliveTimeout
// (*TimeoutError, a net.Error with Timeout() true that also matches
// net.ErrClosed), or an error of the store wrapped with %w. Completions carry
// ErrSessionCleared, ErrBufferDropped, ErrSubackCount or the cause given to
// ConnectionLost. Acks for identifiers the session does not hold are not
// errors: they are logged and answered as Paho does (PUBREL for PUBREC,
// PUBCOMP for PUBREL, nothing for PUBACK and PUBCOMP); with
// Options.StrictAcks a PUBACK, PUBCOMP, SUBACK or UNSUBACK nobody waits for
// is an *UnknownAckError (ErrUnknownPacketID), a protocol violation.
//
// # Limitations
//
// Exactly once for inbound QoS 2 holds within a process and across a
// restart with a durable store, with one window: the message is delivered
// on PUBREL and its r- record removed after the delivery (at once without
// ManualAcks, at Ack with it). A crash after the delivery was handed out and
// before the record was removed delivers it again after the restart; the
// other order would lose it instead. Without ManualAcks the record goes
// before the client's handler runs, so a crash in between loses the
// message: a client that wants no loss uses ManualAcks and calls Ack after
// its handler returns.
//
// A QoS 0 message is held in memory only, unless it is in an offline buffer
// with BufferOptions.Persist or was staged: a crash loses it, which QoS 0 allows. With a
// store.Memory, nothing survives the process, whatever the records say.
//
// Inbound QoS 1 deliveries awaiting Ack when the connection drops are voided
// (the server re-sends them); QoS 2 ones stay and complete through Ack.
// SUBSCRIBE and UNSUBSCRIBE are not persisted; they fail on a lost
// connection, as in Paho. The session keeps the caller's payload and
// subscription slices without copying: do not modify them until the
// message completes.
package session
