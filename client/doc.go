// Package client is Linnet's MQTT 3.1.1 client: connect to a list of
// servers, publish and subscribe at QoS 0, 1 and 2, reconnect with
// back-off, buffer while offline, and keep QoS 1 and 2 messages across
// connection losses and, with a file store, across restarts of the
// process. It follows Eclipse Paho's MqttAsyncClient, with the protocol
// state in package session, the network in package transport and the
// persistence in package store.
//
// # Usage
//
//	c, err := client.New(client.Options{
//		Servers:       []string{"tcp://127.0.0.1:1883", "tls://backup.example:8883"},
//		ClientID:      "sensor-7",
//		AutoReconnect: true,
//	})
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Connect(ctx); err != nil { ... }
//	codes, err := c.Subscribe(ctx, func(m *client.Message) {
//		fmt.Printf("%s: %s\n", m.Topic, m.Payload)
//	}, client.Subscription{Filter: "cmd/#", QoS: 1})
//	err = c.Publish(ctx, "status", 1, false, []byte("up"))
//	err = c.Disconnect(ctx)
//
// Options has a documented default for the zero value of every field;
// New copies it. Publish returns when the QoS flow is complete (written,
// PUBACK, PUBCOMP); PublishAsync returns a Token that completes at the same
// point and never earlier. Subscribe returns the SUBACK code of each
// filter: a refused filter is packet.SubackFailure in that list, not an
// error. Handle adds a route without subscribing, for a persistent session
// whose server sends queued messages right after CONNACK.
//
// Routing: a topic may match several routes (exact filters by a map,
// wildcard filters by a tree); each matching handler is called once, in
// the order the routes were added. Shared subscriptions ($share/g/f) route
// on f. Filters starting with a wildcard do not match topics starting
// with '$' [MQTT-4.7.2-1]. Messages that match nothing go to
// Options.DefaultHandler, and are acknowledged either way [MQTT-4.5.0-2].
//
// Reconnecting: with AutoReconnect, a lost connection is followed by
// rounds over the server list, the first at once and the next after
// Backoff.Delay(attempt). With PersistentSession, QoS 1 and 2 messages in
// flight are sent again after the reconnect with DUP set, in their
// original order, and their tokens complete then; subscriptions made
// through Subscribe are made again when the CONNACK says the session is
// gone. Connect falls back to MQTT 3.1 when a server refuses 3.1.1 (CONNACK
// 0x01) or closes without a CONNACK, unless Options.Version pins one.
//
// # Concurrency
//
// Every method of Client is safe for concurrent use. The client's jobs have
// Paho's names, one file and type each: the state owner (comms.go, Paho's
// ClientComms) is one goroutine that Connect starts and that lives until
// the client stops connecting; it makes every connection and reconnect,
// owns the protocol state (package session) and writes to the network,
// batching writes (conn.go, CommsSender). The receiver (receiver.go,
// CommsReceiver) reads the connection; the dispatcher (dispatch.go,
// CommsCallback) calls handlers and callbacks one at a time, in order; the
// tokens ride through the session as its tags (token.go, CommsTokenStore).
// So a connected client runs three goroutines: the receiver, the state
// owner and the dispatcher. The dispatcher's goroutine exists only while
// calls are queued: it starts when a message or callback arrives and ends
// when its queue is empty, so an idle connected client runs two
// goroutines, and a second after its last activity it lets go of the
// memory it kept for reuse.
// Handlers never run on the receiver or the state owner, so a slow handler
// cannot delay keep-alive or acks: it fills the dispatcher's bounded queue
// (Options.MessageQueue), and then the client stops reading from the
// server, which pushes back through TCP. While stalled that way, the
// client keeps sending a PINGREQ every keep-alive period and does not count
// the unread server's silence against it.
//
// When the client stops connecting (Disconnect, a failed Connect, a loss
// without AutoReconnect) the state owner and the receiver end at once and
// the dispatcher after running what is queued (OnConnectionLost, say): an
// idle, disconnected client runs no goroutine. Connect may be called again
// after Disconnect; Close is final.
//
// PublishAsync of a QoS 1 or 2 message with a store that outlives the
// process (anything but store.Memory) writes the message to the store on
// the caller's goroutine before it returns, and waits for the store's sync
// when the store syncs (store.Syncer), sharing it with concurrent
// publishers; the state owner then takes the record over. The state owner
// itself never waits for the disk: before it sends a packet whose record
// it has just written, it syncs on a goroutine of its own and goes on
// reading meanwhile.
//
// Acks of inbound QoS 1 and 2 messages are sent when the handler returns
// (or at Message.Ack with ManualAcks), always in arrival order. The
// dispatcher hands the acks of a burst of messages to the state owner
// together: when its queue empties, every 32 messages, and at the latest
// 1 ms after a handler returned while later handlers still run. Close and
// Disconnect may be called from a handler; they do not wait for the
// dispatcher, which ends after the call it is running.
//
// The client never waits on purpose before it reads or writes unless
// Options.Pacing asks it to (ThroughputPacing, for bulk transfer).
//
// Nothing is shared between clients: no package-level state.
//
// # Errors
//
//   - Options: *OptionError (ErrInvalidOptions), naming the field.
//   - Arguments: errors matching ErrInvalidArgument and the rule's
//     *packet.ProtocolError (packet.ErrInvalidTopic, packet.ErrInvalidQoS...).
//   - Refusal: *ConnectError with the CONNACK code; errors.Is(err,
//     &ConnectError{Code: packet.RefusedNotAuthorized}) or ErrRefused.
//   - Connect failures: transport errors (*transport.DialError...),
//     *HandshakeError (ErrNoCONNACK, or context.DeadlineExceeded for a server
//     that does not answer within ConnectTimeout), *ViolationError.
//   - A lost connection: *ConnectionLostError, given to OnConnectionLost and
//     to every token it fails; it unwraps to net.ErrClosed, ErrConnectionLost
//     and the cause: io.EOF, a *packet.ProtocolError for malformed input, a
//     *ViolationError for a well-formed packet that breaks the protocol (a
//     second CONNACK, an ack for an unknown packet id) [MQTT-4.8.0-1], or a
//     *session.TimeoutError for keep-alive, which is a net.Error with
//     Timeout() true.
//   - ErrNotConnected, ErrOfflineBufferFull, ErrOfflineMessageDropped
//     (OfflineBufferDropOldest), ErrClosed; a store error, wrapped, when
//     PublishAsync cannot write or sync the message.
//
// # Small binaries
//
// Build tags leave parts out for constrained devices: linnet_notls (no
// TLS), linnet_nows (no WebSocket) and linnet_noslog (no log/slog: Logger
// is then a type that discards everything, Options.Logger must stay nil and
// Options and Client have no LogValue method). A program that connects over TCP,
// publishes and disconnects (testdata/minimal) is measured with all three
// by TestMinimalBinarySize; see the repository's README.
//
// # Limitations
//
//   - MQTT 3.1.1 and 3.1 only; no MQTT 5 properties.
//   - Subscriptions are remembered in memory only: a new process re-subscribes
//     itself (a persistent session on the server keeps them anyway).
//   - The QoS 0 messages of the offline buffer are in memory unless
//     PersistOfflineBuffer is set; QoS 1 and 2 messages, buffered, waiting
//     or in flight, are always in the store.
//   - Disconnect waits for outbound messages in flight, not for inbound
//     messages still queued for handlers (their acks are not sent; the
//     server delivers them again to a persistent session).
//   - A process that dies (SIGKILL, power loss) with a persistent session
//     and the file store loses no message: on the next run the server
//     sends again what was not acknowledged, and the store still holds the
//     QoS 2 messages awaiting PUBREL. A QoS 2 message is handled once unless
//     the process died after its handler ran but before the completion
//     (the r- record's removal) reached the store; then it is handled again
//     on the next run. No client can make that step atomic with the
//     handler's own work: make such handlers idempotent, or use ManualAcks
//     and acknowledge once the work is durable.
//   - A handler that never returns holds the dispatcher for good; Close
//     does not wait for it but cannot stop it either.
//   - While the dispatcher is full the client cannot tell a dead server from
//     one whose packets it has not read yet; it waits for the handler.
//   - Token.MessageID is known once the message has been given a packet id.
//     Messages restored from a store have the tokens of RestoredTokens.
package client
