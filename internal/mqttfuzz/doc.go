// Package mqttfuzz fuzzes an MQTT broker over real connections: it sends
// mutated sequences of MQTT 3.1.1 packets and, after each, checks with a
// liveness probe that the broker still serves clients. It is what
// `linnet fuzz` runs.
//
// # Usage
//
//	rep, err := mqttfuzz.Run(ctx, mqttfuzz.Config{URI: "tcp://127.0.0.1:1883", Seed: 1, N: 10000, OutDir: "findings"})
//	for _, f := range rep.Findings { fmt.Println(f.File, f.Err) }
//
// A case starts as a valid sequence (CONNECT with random flags, will and
// credentials; SUBSCRIBE, PUBLISH at QoS 0, 1 and 2, the acks, UNSUBSCRIBE,
// PINGREQ, DISCONNECT), with topics under Config.Prefix. It is then mutated
// with knowledge of the structure: fields set to values the spec forbids
// (QoS 3, wildcards and U+0000 in topic names, protocol levels, reserved
// flags, empty filter lists, packet id 0), then bytes (flipped bits, fixed
// header flags and types, truncation, remaining lengths too long, of five
// bytes or padded), then the sequence (no CONNECT, two CONNECTs, swapped
// or repeated packets). Case i of a run is a function of (Seed, i) alone.
//
// After each case, Probe connects afresh, subscribes and sends itself a
// QoS 1 message within Config.Timeout. A failed probe is a Finding: the case
// is saved (Save, Format) as hex text with a comment per packet, which
// `linnet dump -x` decodes and ParseCase and Replay send again.
//
// # Concurrency
//
// Run, Replay and Probe may be called concurrently; each uses its own
// connections. Generate is a pure function.
//
// # Errors
//
// Run returns an error wrapping ErrNotLive when the broker fails the probe
// before the first case, and the error of a finding it cannot save.
// ParseCase returns errors matching ErrBadCase.
//
// # Limitations
//
// The fuzzer only detects a broker that stops serving (a crash, a hang, a
// refusal of new clients); it does not judge the broker's answers, which is
// the job of the conformance suite (internal/brokercheck). It stops at the
// first finding. A broker that is slow for a moment (more than
// Config.Timeout) counts as a finding; replay it to tell. It connects only to
// Config.URI; the command refuses addresses that are not on this machine
// unless told otherwise (Loopback).
package mqttfuzz
