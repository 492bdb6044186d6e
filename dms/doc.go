// Package dms is the device-management layer of Linnet: the device side of
// a two-phase connect (a redirect server hands out the real DMS server),
// heartbeats, RRPC, and the server side's online detection by RRPC, plus a
// simulator of the DMS back end for tests and demos. It is built on the
// public API of the client package only.
//
// # Usage
//
// A device runs an Agent:
//
//	a, err := dms.NewAgent(dms.Config{
//		DeviceID:         "dev-42",
//		RedirectServer:   "ssl://redirect.example:8883",
//		DefaultDMSServer: "ssl://dms.example:8883", // optional fallback
//		Transport:        []transport.Option{transport.WithTLSConfig(tlsConf)},
//		Status:           func(ctx context.Context) ([]byte, error) { return statusJSON(), nil },
//		OnControlDevice:  func(topic string, payload []byte) { ... a.PublishAsync(replyTopic, 1, false, reply) },
//		RRPC:             &dms.RRPCConfig{ProductKey: "pk", DeviceName: "dev-42"},
//		OnTransition:     func(tr dms.Transition) { log.Print(tr) },
//	})
//	err = a.Start()
//	...
//	err = a.Publish(ctx, "/elogger/dev-42/status", 1, false, body) // Online only
//	...
//	err = a.Stop(ctx)
//
// The flow of one attempt:
//
//  1. Connect to RedirectServer with client id = user name = DeviceID and
//     the password of Config.Password (default: Password, the lowercase hex
//     MD5 of "ovopark_<id>_<unix seconds / 100>"), computed again before
//     every connect through the client's Credentials callback.
//  2. Subscribe at QoS 1 to /elogger/<id>/verify_pwd, /elogger/<id>/join_network
//     and /elogger/<id>/ctrlDevice (Config.Topics; "{id}" is replaced), and
//     to Config.RedirectSubscriptions, in one SUBSCRIBE; wait at most
//     SubscribeTimeout (10 s) for the SUBACK. State RedirectConnected →
//     AwaitingNetworkInfo.
//  3. Wait up to JoinNetworkWait (30 s) for a join-network message, read by
//     Config.NetworkInfo or by default as a JSON object with the DMS URI
//     under "url" (or another of Config.NetworkInfoKeys), a JSON string, or
//     the bare URI; the URI is checked with transport.Validate (or
//     Config.Registry). A payload that does not give a usable URI is a
//     *NetworkInfoError, logged at warning level with its first bytes and
//     ignored: the wait goes on. A DMS URI without TLS after a redirect
//     server over TLS fails the attempt (*DowngradeError) unless
//     Config.AllowInsecureDMS. On timeout, DefaultDMSServer is used if set
//     (Transition.Event.Fallback, shown in Transition.String), otherwise
//     the attempt fails with ErrNoNetworkInfo (which also matches the last
//     unreadable message's *NetworkInfoError, if one came).
//  4. Leave the redirect server (DISCONNECT), connect to the DMS server with
//     the same identity and automatic reconnect, subscribe again to the
//     verify_pwd and ctrlDevice topics (so control messages reach the
//     device on either server) and to Config.DMSSubscriptions and, with
//     Config.RRPC, to the RRPC request filter, each SUBACK within
//     SubscribeTimeout. State DMSConnected → Online.
//  5. Heartbeat: the Status body (JSON) to /monitor/report/Sync_MainDeviceInfo
//     at QoS 1, not retained, at once and then every HeartbeatInterval (30 s).
//
// A failed connect, subscribe or wait (ConnectionFailed), or
// MaxHeartbeatFailures heartbeats in a row without a PUBACK before the next
// is due (HeartbeatFailed), closes the connection and starts the flow again
// from the redirect server after Config.Backoff's delay for the attempt
// (reset once Online). A DMS connection that drops is reconnected by the
// client itself (ConnectionLost → ReconnectingDMS); when it is back
// (DMSConnected → Online) the heartbeat resumes at once, without a redirect.
// Heartbeats due while reconnecting count as failures, so a DMS server that
// stays away leads back to the redirect server.
//
// The device talks on its DMS connection with Agent.Publish,
// Agent.PublishAsync and Agent.Subscribe: in Online, and for publishes in
// ReconnectingDMS too (held in the client's offline buffer, Config.OfflineBuffer,
// until the reconnect); in any other state they return a *StateError.
//
// Stop waits for the device's own publishes in flight at most DrainTimeout
// (2 s), withdraws the heartbeat in flight and sends DISCONNECT at once.
//
// The states and events are in State and EventKind; the table is fixed and
// an event a state does not accept (from a connection the flow has already
// left) is ignored and logged at debug level. Observers
// (Config.OnTransition, Agent.Observe) see every transition in order;
// Agent.State reads the current state at any time.
//
// A device can also answer RRPC on a client of its own with ServeRRPC. On
// the server side, a Prober on one client judges many devices:
//
//	p, err := dms.NewProber(ctx, c, dms.ProberConfig{Policy: dms.PolicyNormal})
//	verdicts := p.CheckAll(ctx, []dms.Device{{ProductKey: "pk", DeviceName: "dev-42"}})
//
// It subscribes once to /sys/+/+/rrpc/response/+, publishes
// {"id":"<id>","version":"1.0","time":<unix ms>} to each device's
// /sys/<pk>/<dn>/rrpc/request/<id> at QoS 0 and waits (Timeout, 5 s) for
// the same body on the response topic; a different body is a failure
// (ErrReplyMismatch). Check probes a device until one probe succeeds or
// Policy probes in a row failed: strict 1, normal 2, loose 3, or any count.
//
// Simulator plays the back end on any broker: Register publishes a
// device's join-network message retained, heartbeats are recorded, and
// Authenticate answers a broker's authentication hook with CheckPassword.
//
// Time: Config.Clock, ProberConfig.Clock and SimulatorConfig.Clock drive the
// password window, the SUBACK waits, the join-network wait, the heartbeat,
// the back-off and the probe timeout, so that tests control time. The MQTT
// client keeps its own real-time keep-alive and connect timeout, and Stop's
// drain is in real time.
//
// # Concurrency
//
// An Agent runs one goroutine from Start to Stop that owns the state
// machine, the clients of the current attempt and the heartbeat; the
// clients' callbacks hand events to it over channels that never block past
// the connection's end. Observers run on that goroutine, in order; they must
// not call Stop. verify_pwd, ctrlDevice, Subscription and RRPC handlers run
// on the MQTT client's dispatcher goroutine; they may reply with
// PublishAsync (Publish waits for the acknowledgement and is better called
// from a goroutine of its own). State, Observe, Publish, PublishAsync,
// Subscribe and Stop are safe from any goroutine. Stop leaves no goroutine
// behind once it returned nil.
//
// A Prober is safe for concurrent use: probes of many goroutines share the
// one subscription; CheckAll runs at most Concurrency checks at a time. A
// Simulator is safe for concurrent use.
//
// # Errors
//
//   - *ConfigError (ErrInvalidConfig): an unusable configuration, from
//     NewAgent, NewProber, NewSimulator.
//   - *PhaseError: carried by ConnectionFailed and HeartbeatFailed
//     transitions, with the phase and server; it unwraps to the cause: a
//     *client.ConnectError (a refused password is
//     errors.Is(err, &client.ConnectError{Code: packet.RefusedBadUserNamePassword})
//     or RefusedNotAuthorized), a transport error, *TimeoutError
//     (ErrTimeout: no SUBACK in time), *DowngradeError (ErrInsecureDMS),
//     ErrNoNetworkInfo, *SubscribeError (ErrSubscribeRefused), ErrHeartbeat.
//   - *NetworkInfoError (ErrBadNetworkInfo): a join-network payload that was
//     ignored; it reaches the log, and the ConnectionFailed of a wait that
//     found nothing better. Malformed JSON in it is a *JSONSyntaxError.
//   - *StateError (ErrNotOnline, and ErrStopped once stopping): Publish,
//     PublishAsync or Subscribe outside Online.
//   - *ProbeError: one failed probe, unwrapping to ErrProbeTimeout,
//     ErrReplyMismatch, a publish error or the context's error.
//   - ErrAlreadyStarted, ErrNotStarted, ErrStopped, ErrUnknownDevice.
//
// Passwords never appear in logs or errors.
//
// # Limitations
//
//   - The default password scheme is an MD5 of public data: it identifies,
//     it does not protect. Run both phases over TLS.
//   - CheckPassword accepts the current and the previous 100 s window only:
//     a device clock more than 100 s off is refused.
//   - MQTT 3.1.1 does not tell a subscriber who published, so the simulator
//     learns a heartbeat's device from the "deviceId" field of its JSON body
//     (the default Status has it); a broker hook can attribute it by client
//     id instead.
//   - A Prober's verdict is one Check of up to Policy probes; it keeps no
//     history between calls. Replies are matched by the exact bytes of the
//     request body, as the original server code does: a device that
//     re-encodes the JSON is judged offline.
//   - The heartbeat's first message goes out at once on DMSConnected, and
//     again at once after an automatic reconnect; the period restarts from
//     the ticker, not from the reconnect.
//   - ServeRRPC sends replies with PublishAsync at QoS 0 and does not wait
//     for them (the handler runs on the client's dispatcher); a reply that
//     cannot be written is logged only when it fails at once.
//   - The agent's clients use clean sessions; messages published to the
//     device while it is between servers are not queued for it. The
//     device's own publishes wait for a DMS reconnect, not for a new
//     attempt of the flow: those still queued when the agent leaves the
//     DMS server fail with client.ErrClosed. Subscriptions made with
//     Agent.Subscribe last as long as the DMS connection.
//   - TLS is recognised by scheme (ssl, tls, mqtts, tcps, wss, or the
//     redirect server's own scheme); a custom scheme of a Registry counts
//     as clear text for the downgrade rule.
//   - With the linnet_noslog build tag the agent, prober and simulator log
//     nothing (Logger discards). A constrained agent (linnet_nows,
//     linnet_notls, linnet_noslog) is at most 2.9 MB on Go 1.26
//     linux/amd64 (TestMinimalBinarySize); the package links
//     neither fmt, encoding/json nor crypto: JSON and MD5 are written by
//     hand, held to the standard library by tests and FuzzJSON.
package dms
