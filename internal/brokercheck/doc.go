// Package brokercheck is a suite of checks of an MQTT 3.1.1 broker against
// the normative statements of the specification, run over real connections
// with exact packets (packet.Reader and a packet encoder that also writes
// illegal packets). It is what `linnet conformance` runs.
//
// # Usage
//
//	results, err := brokercheck.Run(ctx, brokercheck.Config{URI: "tcp://127.0.0.1:1883"}, brokercheck.Checks())
//	brokercheck.WriteTable(os.Stdout, results)
//
// Each Check is named after what it does and lists the statements it
// exercises ("MQTT-3.3.1-4"); Select picks checks by a regular expression
// over names and statement ids. The suite has two parts: interoperability
// scenarios (publish and subscribe at each QoS, retained messages and their
// deletion, offline queueing, clean sessions, overlapping subscriptions,
// keep-alive expiry with the will, redelivery after reconnect, a refused
// subscription, $ topics, unsubscribe, empty client ids) and malformed input
// the broker must refuse by closing the connection (a second CONNECT, bad
// protocol name or level, reserved flag bits, a five-byte remaining length,
// QoS 3, an empty SUBSCRIBE, invalid UTF-8, U+0000 and wildcards in topic
// names).
//
// A Result is pass, fail or skip. A failure names the rule it breaks and
// carries a transcript: every packet sent and received, decoded and in hex,
// with times relative to the start of the check. WriteTable, WriteJSON and
// WriteJUnit render results.
//
// Every client id and topic of a run starts with Config.Prefix (random by
// default), so parallel runs against one broker do not collide. Persistent
// sessions a check creates are removed again with a clean connect.
//
// # Concurrency
//
// Run runs Config.Parallel checks at a time, each on its own connections;
// it returns when all have ended. Checks, Select and the writers are safe
// for concurrent use.
//
// # Errors
//
// Run returns an error only for an unusable Config. A broker that cannot be
// reached fails the checks with a *DialError; a broker that breaks a rule
// fails them with a *ViolationError naming the rule.
//
// # Limitations
//
// Checks that expect nothing to happen (a close, an absent message) use a
// PINGREQ as a fence where the stream allows, so a conforming broker
// answers at once; a broker that ignores a bad packet and stalls costs
// Config.Timeout. The keep-alive check waits up to 1.5 x keep-alive plus
// Config.Timeout, since brokers check keep-alive at their own resolution
// (mosquitto 2.0 takes up to about 5.5 s with a keep-alive of 1 s). The
// subscribe-refused check needs a broker configured to refuse a filter and
// is skipped without one. Only MQTT 3.1.1 is checked.
package brokercheck
