package packet

import (
	"slices"
	"strconv"
)

// Protocol names and levels for CONNECT.
const (
	ProtocolName311  = "MQTT"   // MQTT 3.1.1
	ProtocolLevel311 = 4        // MQTT 3.1.1
	ProtocolName31   = "MQIsdp" // MQTT 3.1, for servers that predate 3.1.1
	ProtocolLevel31  = 3        // MQTT 3.1
)

// Connect opens a session (§3.1). The flags are explicit fields so that a
// decoded CONNECT shows exactly what was sent; for an ordinary CONNECT set
// UsernameFlag with Username, PasswordFlag with Password and WillFlag with
// the will fields.
//
// A zero ProtocolName and ProtocolLevel encode as MQTT 3.1.1; the decoder
// always fills both in.
type Connect struct {
	ProtocolName  string // "MQTT" (level 4) or "MQIsdp" (level 3)
	ProtocolLevel byte
	CleanSession  bool
	KeepAlive     uint16 // seconds; 0 turns keep-alive off
	ClientID      string // empty only with CleanSession [MQTT-3.1.3-7]

	WillFlag    bool
	WillQoS     QoS
	WillRetain  bool
	WillTopic   string
	WillMessage []byte

	UsernameFlag bool
	Username     string
	PasswordFlag bool   // only with UsernameFlag [MQTT-3.1.2-22]
	Password     []byte // never printed by String

	// Reserved is bit 0 of the connect flags, which the spec sets to 0
	// [MQTT-3.1.2-3]. It exists so that conformance tests can send it with
	// AppendIllegal.
	Reserved bool
}

var (
	errConnectFlags       = perr(TypeConnect, "MQTT-2.2.2-1", ErrReservedFlags, "reserved fixed-header flags")
	errConnectShort       = perr(TypeConnect, "§3.1", ErrMalformed, "packet ends inside a field")
	errConnectProtocol    = perr(TypeConnect, "MQTT-3.1.2-1", ErrInvalidProtocol, "protocol name other than MQTT or MQIsdp")
	errConnectLevel       = perr(TypeConnect, "MQTT-3.1.2-2", ErrUnsupportedLevel, "protocol level other than 4 for MQTT or 3 for MQIsdp")
	errConnectReserved    = perr(TypeConnect, "MQTT-3.1.2-3", ErrReservedFlags, "reserved connect flag set")
	errConnectWillQoS0    = perr(TypeConnect, "MQTT-3.1.2-13", ErrInvalidConnectFlags, "will QoS without the will flag")
	errConnectWillRetain0 = perr(TypeConnect, "MQTT-3.1.2-15", ErrInvalidConnectFlags, "will retain without the will flag")
	errConnectWillFields  = perr(TypeConnect, "MQTT-3.1.2-11", ErrInvalidConnectFlags, "will topic or message without the will flag")
	errConnectWillQoS3    = perr(TypeConnect, "MQTT-3.1.2-14", ErrInvalidQoS, "will QoS 3")
	errConnectWillMissing = perr(TypeConnect, "MQTT-3.1.2-9", ErrMalformed, "will flag without will topic and message")
	errConnectPassword    = perr(TypeConnect, "MQTT-3.1.2-22", ErrInvalidConnectFlags, "password flag without user name flag")
	errConnectUserMissing = perr(TypeConnect, "MQTT-3.1.2-19", ErrMalformed, "user name flag without a user name")
	errConnectPassMissing = perr(TypeConnect, "MQTT-3.1.2-21", ErrMalformed, "password flag without a password")
	errConnectUserExtra   = perr(TypeConnect, "MQTT-3.1.2-18", ErrInvalidConnectFlags, "user name without the user name flag")
	errConnectPassExtra   = perr(TypeConnect, "MQTT-3.1.2-20", ErrInvalidConnectFlags, "password without the password flag")
	errConnectTrailing    = perr(TypeConnect, "§3.1.3", ErrMalformed, "bytes after the last payload field")
	errConnectEmptyID     = perr(TypeConnect, "MQTT-3.1.3-7", ErrInvalidConnectFlags, "empty client id without clean session")
)

// Type returns TypeConnect.
func (p *Connect) Type() Type { return TypeConnect }

// protocol returns the name and level to encode, filling in the defaults.
func (p *Connect) protocol() (string, byte) {
	name, level := p.ProtocolName, p.ProtocolLevel
	if level == 0 && name == "" {
		return ProtocolName311, ProtocolLevel311
	}
	if name == "" {
		if level == ProtocolLevel31 {
			return ProtocolName31, level
		}
		return ProtocolName311, level
	}
	if level == 0 {
		if name == ProtocolName31 {
			return name, ProtocolLevel31
		}
		return name, ProtocolLevel311
	}
	return name, level
}

func (p *Connect) remainingLength() int {
	name, _ := p.protocol()
	n := 2 + len(name) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if p.WillFlag {
		n += 2 + len(p.WillTopic) + 2 + len(p.WillMessage)
	}
	if p.UsernameFlag {
		n += 2 + len(p.Username)
	}
	if p.PasswordFlag {
		n += 2 + len(p.Password)
	}
	return n
}

// Len returns the encoded length of the packet.
func (p *Connect) Len() int { return packetLen(p.remainingLength()) }

// Append appends the encoded packet to b; see Packet.
func (p *Connect) Append(b []byte) ([]byte, error) { return p.appendTo(b, true) }

func (p *Connect) check() *ProtocolError {
	name, level := p.protocol()
	switch {
	case name != ProtocolName311 && name != ProtocolName31:
		return errConnectProtocol // [MQTT-3.1.2-1]
	case (name == ProtocolName311) != (level == ProtocolLevel311) || (name == ProtocolName31) != (level == ProtocolLevel31):
		return errConnectLevel // [MQTT-3.1.2-2]
	case p.Reserved:
		return errConnectReserved // [MQTT-3.1.2-3]
	case p.ClientID == "" && !p.CleanSession:
		return errConnectEmptyID // [MQTT-3.1.3-7]
	case !p.WillFlag && p.WillQoS != 0:
		return errConnectWillQoS0 // [MQTT-3.1.2-13]
	case !p.WillFlag && p.WillRetain:
		return errConnectWillRetain0 // [MQTT-3.1.2-15]
	case !p.WillFlag && (p.WillTopic != "" || len(p.WillMessage) > 0):
		return errConnectWillFields // [MQTT-3.1.2-11]
	case p.WillFlag && !p.WillQoS.Valid():
		return errConnectWillQoS3 // [MQTT-3.1.2-14]
	case !p.UsernameFlag && p.Username != "":
		return errConnectUserExtra // [MQTT-3.1.2-18]
	case !p.PasswordFlag && len(p.Password) > 0:
		return errConnectPassExtra // [MQTT-3.1.2-20]
	case p.PasswordFlag && !p.UsernameFlag:
		return errConnectPassword // [MQTT-3.1.2-22]
	}
	if e := validUTF8(p.ClientID); e != nil {
		return typed(e, TypeConnect) // [MQTT-3.1.3-4]
	}
	if p.WillFlag {
		if e := validTopicName(p.WillTopic); e != nil {
			return typed(e, TypeConnect) // [MQTT-3.1.3-10]
		}
	}
	if e := validUTF8(p.Username); e != nil {
		return typed(e, TypeConnect) // [MQTT-3.1.3-11]
	}
	return nil
}

func (p *Connect) appendTo(b []byte, strict bool) ([]byte, error) {
	if strict {
		if e := p.check(); e != nil {
			return b, e
		}
	}
	name, level := p.protocol()
	for _, n := range [...]int{len(name), len(p.ClientID), len(p.WillTopic), len(p.WillMessage), len(p.Username), len(p.Password)} {
		if n > 65535 {
			return b, typed(errStringTooLong, TypeConnect)
		}
	}
	var flags byte
	if p.UsernameFlag {
		flags |= 0x80
	}
	if p.PasswordFlag {
		flags |= 0x40
	}
	if p.WillRetain {
		flags |= 0x20
	}
	flags |= byte(p.WillQoS&3) << 3
	if p.WillFlag {
		flags |= 0x04
	}
	if p.CleanSession {
		flags |= 0x02
	}
	if p.Reserved {
		flags |= 0x01
	}
	b0 := b
	b, err := appendHeader(b, TypeConnect, 0, p.remainingLength())
	if err != nil {
		return b0, err
	}
	b = appendString(b, name)
	b = append(b, level, flags)
	b = appendUint16(b, p.KeepAlive)
	b = appendString(b, p.ClientID) // [MQTT-3.1.3-3]: first; [MQTT-3.1.3-1]: then in this order
	if p.WillFlag {
		b = appendString(b, p.WillTopic)
		b = appendBytes(b, p.WillMessage)
	}
	if p.UsernameFlag {
		b = appendString(b, p.Username)
	}
	if p.PasswordFlag {
		b = appendBytes(b, p.Password)
	}
	return b, nil
}

// decode checks every CONNECT rule that a receiver can see in the bytes. It
// accepts an empty client id without clean session, [MQTT-3.1.3-7], because
// the server's answer to it is a CONNACK with code 0x02 [MQTT-3.1.3-8],
// not a dropped connection; Append refuses to send one.
func (p *Connect) decode(flags byte, body []byte, in *interner) error {
	if flags != 0 {
		return errConnectFlags // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
	}
	r := reader{b: body, bad: errConnectShort}
	name, err := r.bytes()
	if err != nil {
		return err
	}
	switch string(name) {
	case ProtocolName311:
		p.ProtocolName = ProtocolName311
	case ProtocolName31:
		p.ProtocolName = ProtocolName31
	default:
		return errConnectProtocol // [MQTT-3.1.2-1]
	}
	if p.ProtocolLevel, err = r.byte(); err != nil {
		return err
	}
	if (p.ProtocolName == ProtocolName311) != (p.ProtocolLevel == ProtocolLevel311) ||
		(p.ProtocolName == ProtocolName31) != (p.ProtocolLevel == ProtocolLevel31) {
		return errConnectLevel // [MQTT-3.1.2-2]
	}
	cf, err := r.byte()
	if err != nil {
		return err
	}
	p.UsernameFlag, p.PasswordFlag = cf&0x80 != 0, cf&0x40 != 0
	p.WillRetain, p.WillQoS, p.WillFlag = cf&0x20 != 0, QoS(cf>>3&3), cf&0x04 != 0
	p.CleanSession, p.Reserved = cf&0x02 != 0, cf&0x01 != 0
	switch {
	case p.Reserved:
		return errConnectReserved // [MQTT-3.1.2-3]
	case !p.WillFlag && p.WillQoS != 0:
		return errConnectWillQoS0 // [MQTT-3.1.2-13]
	case !p.WillFlag && p.WillRetain:
		return errConnectWillRetain0 // [MQTT-3.1.2-15]
	case p.WillQoS == 3:
		return errConnectWillQoS3 // [MQTT-3.1.2-14]
	case p.PasswordFlag && !p.UsernameFlag:
		return errConnectPassword // [MQTT-3.1.2-22]
	}
	if p.KeepAlive, err = r.uint16(); err != nil {
		return err
	}
	if p.ClientID, err = r.utf8(TypeConnect, in); err != nil { // [MQTT-3.1.3-3] [MQTT-3.1.3-4]
		return err
	}
	p.WillTopic, p.WillMessage, p.Username, p.Password = "", nil, "", nil
	if p.WillFlag {
		if r.remaining() == 0 {
			return errConnectWillMissing // [MQTT-3.1.2-9]
		}
		wt, err := r.bytes()
		if err != nil {
			return err
		}
		if e := validTopicName(wt); e != nil {
			return typed(e, TypeConnect) // [MQTT-3.1.3-10]
		}
		p.WillTopic = in.string(wt)
		if r.remaining() == 0 {
			return errConnectWillMissing // [MQTT-3.1.2-9]
		}
		if p.WillMessage, err = r.bytes(); err != nil {
			return err
		}
	}
	if p.UsernameFlag {
		if r.remaining() == 0 {
			return errConnectUserMissing // [MQTT-3.1.2-19]
		}
		if p.Username, err = r.utf8(TypeConnect, in); err != nil { // [MQTT-3.1.3-11]
			return err
		}
	}
	if p.PasswordFlag {
		if r.remaining() == 0 {
			return errConnectPassMissing // [MQTT-3.1.2-21]
		}
		if p.Password, err = r.bytes(); err != nil {
			return err
		}
	}
	if r.remaining() > 0 {
		switch {
		case !p.UsernameFlag:
			return errConnectUserExtra // [MQTT-3.1.2-18]
		case !p.PasswordFlag:
			return errConnectPassExtra // [MQTT-3.1.2-20]
		}
		return errConnectTrailing
	}
	return nil
}

// Clone returns a copy of p that shares no memory with it.
func (p *Connect) Clone() *Connect {
	c := *p
	c.WillMessage = slices.Clone(p.WillMessage)
	c.Password = slices.Clone(p.Password)
	return &c
}

// String describes the packet; the password shows only its length.
func (p *Connect) String() string {
	name, level := p.protocol()
	b := lineBuf("CONNECT{protocol=")
	b = append(b, name...)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(level), 10)
	b = append(b, " client_id="...)
	b = strconv.AppendQuote(b, p.ClientID)
	b = append(b, " clean_session="...)
	b = strconv.AppendBool(b, p.CleanSession)
	b = append(b, " keep_alive="...)
	b = strconv.AppendUint(b, uint64(p.KeepAlive), 10)
	if p.WillFlag {
		b = append(b, " will_topic="...)
		b = strconv.AppendQuote(b, p.WillTopic)
		b = append(b, " will_qos="...)
		b = strconv.AppendUint(b, uint64(p.WillQoS), 10)
		b = append(b, " will_retain="...)
		b = strconv.AppendBool(b, p.WillRetain)
		b = append(b, " will_message="...)
		b = strconv.AppendInt(b, int64(len(p.WillMessage)), 10)
		b = append(b, " bytes"...)
	}
	if p.UsernameFlag {
		b = append(b, " username="...)
		b = strconv.AppendQuote(b, p.Username)
	}
	if p.PasswordFlag {
		b = append(b, " password=<redacted len="...)
		b = strconv.AppendInt(b, int64(len(p.Password)), 10)
		b = append(b, '>')
	}
	return string(append(b, '}'))
}
