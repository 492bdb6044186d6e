package packet

import (
	"errors"
	"strconv"
)

// ErrProtocol matches every *ProtocolError: errors.Is(err, ErrProtocol)
// tells a malformed or illegal packet apart from an I/O error.
var ErrProtocol = errors.New("mqtt: protocol violation")

// Sentinels for the kinds of violation. Every *ProtocolError matches exactly
// one of them (and ErrProtocol) with errors.Is.
var (
	// ErrMalformed: the bytes do not form a packet of the type they claim:
	// lengths that do not match, a truncated field, a remaining length
	// over four bytes.
	ErrMalformed = errors.New("malformed packet")
	// ErrReservedFlags: reserved bits of the fixed header or of a
	// variable-header byte are not as the spec sets them.
	ErrReservedFlags = errors.New("reserved flag bits")
	// ErrInvalidQoS: a QoS of 3 (or a requested-QoS byte over 2).
	ErrInvalidQoS = errors.New("invalid QoS")
	// ErrZeroPacketID: a packet identifier of 0 where one is required.
	ErrZeroPacketID = errors.New("packet identifier 0")
	// ErrInvalidUTF8: an ill-formed UTF-8 string, a surrogate or U+0000.
	ErrInvalidUTF8 = errors.New("invalid UTF-8 string")
	// ErrInvalidTopic: an empty topic name, or one with a wildcard.
	ErrInvalidTopic = errors.New("invalid topic name")
	// ErrInvalidFilter: a topic filter with a misplaced wildcard or empty.
	ErrInvalidFilter = errors.New("invalid topic filter")
	// ErrEmptyPayload: a SUBSCRIBE, UNSUBSCRIBE or SUBACK without entries.
	ErrEmptyPayload = errors.New("no entries in payload")
	// ErrInvalidReturnCode: a CONNACK or SUBACK return code the spec
	// reserves.
	ErrInvalidReturnCode = errors.New("invalid return code")
	// ErrInvalidProtocol: a CONNECT protocol name other than MQTT or
	// MQIsdp.
	ErrInvalidProtocol = errors.New("invalid protocol name")
	// ErrUnsupportedLevel: a CONNECT protocol level this codec does not
	// speak. A server answers it with CONNACK 0x01 [MQTT-3.1.2-2].
	ErrUnsupportedLevel = errors.New("unsupported protocol level")
	// ErrInvalidConnectFlags: CONNECT flags that contradict each other or
	// the payload (will, user name and password rules).
	ErrInvalidConnectFlags = errors.New("invalid CONNECT flags")
	// ErrPacketTooLarge: a packet over the Reader's maximum size, or over
	// the 268,435,455 bytes the remaining length can express.
	ErrPacketTooLarge = errors.New("packet too large")
	// ErrInvalidType: a packet type of 0 or 15, or a type the caller did
	// not expect.
	ErrInvalidType = errors.New("invalid packet type")
)

// ProtocolError reports a packet that breaks the MQTT specification. Rule
// names the normative statement it breaks ("MQTT-3.3.1-4"), or the section
// ("§2.2.3") where the spec states the rule without an identifier.
//
// The errors the decoder returns are preallocated and shared: treat them as
// read-only. Compare with errors.Is against ErrProtocol, a kind sentinel
// (ErrInvalidQoS, ...) or a *ProtocolError with only Rule (and optionally
// Type) set:
//
//	errors.Is(err, &packet.ProtocolError{Rule: "MQTT-3.3.1-4"})
type ProtocolError struct {
	Type   Type   // the packet being decoded or encoded; 0 when not known yet
	Rule   string // "MQTT-3.3.1-4" or "§2.2.3"
	Reason string // what is wrong, in a few words
	Kind   error  // one of the kind sentinels above
}

func (e *ProtocolError) Error() string {
	s := "mqtt: "
	if e.Type != 0 {
		s += e.Type.String() + ": "
	}
	s += e.Reason
	if e.Rule != "" {
		s += " [" + e.Rule + "]"
	}
	return s
}

// Unwrap returns the kind sentinel.
func (e *ProtocolError) Unwrap() error { return e.Kind }

// Is reports whether target is ErrProtocol, or a *ProtocolError whose
// non-zero fields (Rule, Type, Kind) all equal e's.
func (e *ProtocolError) Is(target error) bool {
	if target == ErrProtocol {
		return true
	}
	t, ok := target.(*ProtocolError)
	if !ok {
		return false
	}
	if t == e {
		return true
	}
	if t.Rule == "" && t.Type == 0 && t.Kind == nil {
		return false
	}
	return (t.Rule == "" || t.Rule == e.Rule) &&
		(t.Type == 0 || t.Type == e.Type) &&
		(t.Kind == nil || t.Kind == e.Kind)
}

func perr(t Type, rule string, kind error, reason string) *ProtocolError {
	return &ProtocolError{Type: t, Rule: rule, Reason: reason, Kind: kind}
}

// Errors shared by every packet type. Per-type errors sit beside the type.
var (
	errRemainingLengthTooLong = perr(0, "§2.2.3", ErrMalformed, "remaining length longer than 4 bytes")
	errRemainingLengthTooBig  = perr(0, "§2.2.3", ErrPacketTooLarge, "remaining length over 268435455")
	errTypeReserved           = perr(0, "§2.2.1", ErrInvalidType, "reserved packet type")
	errUTF8Invalid            = perr(0, "MQTT-1.5.3-1", ErrInvalidUTF8, "ill-formed UTF-8 or a surrogate in a string")
	errUTF8Null               = perr(0, "MQTT-1.5.3-2", ErrInvalidUTF8, "U+0000 in a string")
	errStringTooLong          = perr(0, "§1.5.3", ErrMalformed, "string longer than 65535 bytes")
)

// typed returns a copy of a shared error with the packet type filled in, or
// the shared error itself when it already names a type. It allocates, so
// the hot paths use per-type preallocated errors instead; this is for the
// rarer failures of strings and topics inside a packet.
func typed(e *ProtocolError, t Type) *ProtocolError {
	if e.Type == t {
		return e
	}
	c := *e
	c.Type = t
	return &c
}

// sizeError reports a packet over a Reader's limit. It allocates; a limit
// breach ends the connection, so it happens once.
func sizeError(t Type, size, limit int) *ProtocolError {
	return &ProtocolError{Type: t, Kind: ErrPacketTooLarge,
		Reason: "packet of " + strconv.Itoa(size) + " bytes over the limit of " + strconv.Itoa(limit)}
}
