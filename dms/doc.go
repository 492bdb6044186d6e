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
//		Status:           func(ctx context.Context) ([]byte, error) { return json.Marshal(status()) },
//		OnControlDevice:  func(topic string, payload []byte) { ... },
//		RRPC:             &dms.RRPCConfig{ProductKey: "pk", DeviceName: "dev-42"},
//		OnTransition:     func(tr dms.Transition) { log.Print(tr) },
//	})
//	err = a.Start()
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
//     and /elogger/<id>/ctrlDevice (Config.Topics; "{id}" is replaced).
//     State RedirectConnected → AwaitingNetworkInfo.
//  3. Wait up to JoinNetworkWait (30 s) for a join-network message. Its
//     payload is a JSON object with the DMS URI under "url" (also accepted:
//     the other NetworkInfoKeys), a JSON string, or the bare URI; it is
//     checked with transport.Validate (or Config.Registry). A payload that
//     does not give a usable URI is a *NetworkInfoError, logged and ignored:
//     the wait goes on. On timeout, DefaultDMSServer is used if set
//     (Transition.Event.Fallback), otherwise the attempt fails with
//     ErrNoNetworkInfo.
//  4. Leave the redirect server (DISCONNECT), connect to the DMS server with
//     the same identity and automatic reconnect, subscribe again to the
//     verify_pwd and ctrlDevice topics (so control messages reach the
//     device on either server) and, with Config.RRPC, to the RRPC request
//     filter. State DMSConnected → Online.
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
// The states and events are in State and EventKind; the table is fixed and
// an event a state does not accept is rejected (*TransitionError) and
// ignored. Observers (Config.OnTransition, Agent.Observe) see every
// transition in order; Agent.State reads the current state at any time.
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
// password window, the join-network wait, the heartbeat, the back-off and
// the probe timeout, so that tests control time. The MQTT client keeps its
// own real-time keep-alive and connect timeout.
//
// # Concurrency
//
// An Agent runs one goroutine from Start to Stop that owns the state
// machine, the clients of the current attempt and the heartbeat; the
// clients' callbacks hand events to it over channels that never block past
// the connection's end. Observers run on that goroutine, in order; they must
// not call Stop. verify_pwd, ctrlDevice and RRPC handlers run on the MQTT
// client's dispatcher goroutine. State, Observe and Stop are safe from any
// goroutine. Stop leaves no goroutine behind once it returned nil.
//
// A Prober is safe for concurrent use: probes of many goroutines share the
// one subscription; CheckAll runs at most Concurrency checks at a time
// (golang.org/x/sync/errgroup). A Simulator is safe for concurrent use.
//
// # Errors
//
//   - *ConfigError (ErrInvalidConfig): an unusable configuration, from
//     NewAgent, NewProber, NewSimulator.
//   - *PhaseError: carried by ConnectionFailed and HeartbeatFailed
//     transitions, with the phase and server; it unwraps to the cause: a
//     *client.ConnectError (a refused password is
//     errors.Is(err, &client.ConnectError{Code: packet.RefusedBadUserNamePassword})
//     or RefusedNotAuthorized), a transport error, ErrNoNetworkInfo,
//     *SubscribeError (ErrSubscribeRefused), ErrHeartbeat.
//   - *NetworkInfoError (ErrBadNetworkInfo): a join-network payload that was
//     ignored; it reaches the log, not the state machine.
//   - *TransitionError (ErrIllegalTransition): an event the state does not
//     accept.
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
//     device while it is between servers are not queued for it.
package dms
