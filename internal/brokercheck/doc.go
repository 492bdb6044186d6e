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
// over names and statement ids. Ten checks follow the scenarios of the
// Eclipse Paho interoperability suite (Check.Scenario, Scenarios) with the
// verdicts that suite gives; the others check single statements: publish
// and subscribe at each QoS, retained messages, sessions, wills,
// keep-alive, redelivery, subscriptions and unsubscriptions, ordering,
// topic matching, and malformed input the broker must refuse by closing
// the connection. Statements lists, for every statement that binds the
// server, the checks that name it, or why a client cannot observe it, or
// why the suite does not check it yet.
//
// A Result is pass, fail, timeout or skip. A failure is always shown by
// packets: it names the rule broken and carries a transcript of every
// packet sent and received, decoded and in hex, with times relative to
// the start of the check. A check that runs out of its time limit
// (Check.Limit: Config.Timeout, more for the keep-alive checks) before the
// broker has shown a verdict ends with status timeout, the rule it waited
// on and the transcript so far. WriteTable, WriteJSON and WriteJUnit
// render results.
//
// Every client id and topic of a run starts with Config.Prefix (random by
// default) and the check's own name or number, so checks and parallel runs
// against one broker do not share ids, topics, retained messages or
// sessions. Persistent sessions a check creates are removed again with a
// clean connect, retained messages with an empty one.
//
// # Concurrency
//
// Run runs Config.Parallel checks at a time, each on its own connections,
// and returns when all have ended; against a broker that answers nothing
// that is within the sum of the checks' limits. Checks, Select, Statements
// and the writers are safe for concurrent use.
//
// # Errors
//
// Run returns an error only for an unusable Config. A broker that cannot be
// reached fails the checks with a *DialError; a broker that breaks a rule
// fails them with a *ViolationError naming the rule.
//
// # Limitations
//
// Checks that expect nothing to happen (an absent message) use a fence:
// a PINGREQ for what the broker sends on a connection's own account, a
// marker message from the same publisher for what it routes from another
// connection. A broker that sends retained messages for a subscription
// after it answers a later PINGREQ (mochi does) can slip a wrong retained
// message past a fence, so such a check may pass a broker it should fail;
// checks that expect a message wait for it. The keep-alive check waits up
// to 1.5 x keep-alive plus Config.KeepAliveSlack, since brokers check
// keep-alives at their own resolution (mosquitto 2.0 every 6 s). The
// subscribe-refused check needs a broker configured to refuse a filter and
// is skipped without one; websocket-framing runs only over ws:// and
// wss://. Only MQTT 3.1.1 is checked.
package brokercheck
