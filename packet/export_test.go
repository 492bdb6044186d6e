package packet

// Test seams: unexported parts of the package that the external tests
// (package packet_test) need to see. They are not part of the API.

// ValidUTF8 is the hand-written MQTT string check, for FuzzValidateUTF8.
func ValidUTF8(s string) error {
	if e := validUTF8(s); e != nil {
		return e
	}
	return nil
}

// BufferCap returns the capacity of r's read buffer, to see it shrink.
func BufferCap(r *Reader) int { return cap(r.buf) }

// DecodeErrors holds every preallocated error the decoder can return, by the
// name of its variable (or variable.field for the rule tables). The vector
// test checks that each of them is produced by at least one vector, and
// TestErrorTablesComplete checks this table against the source.
var DecodeErrors = map[string]*ProtocolError{
	"errRemainingLengthTooLong": errRemainingLengthTooLong,
	"errTypeReserved":           errTypeReserved,
	"errUTF8Invalid":            errUTF8Invalid,
	"errUTF8Null":               errUTF8Null,

	"errTopicEmpty":       errTopicEmpty,
	"errTopicWildcard":    errTopicWildcard,
	"errFilterEmpty":      errFilterEmpty,
	"errFilterMultiLevel": errFilterMultiLevel,
	"errFilterSingle":     errFilterSingle,

	"errConnectFlags":       errConnectFlags,
	"errConnectShort":       errConnectShort,
	"errConnectProtocol":    errConnectProtocol,
	"errConnectLevel":       errConnectLevel,
	"errConnectReserved":    errConnectReserved,
	"errConnectWillQoS0":    errConnectWillQoS0,
	"errConnectWillRetain0": errConnectWillRetain0,
	"errConnectWillQoS3":    errConnectWillQoS3,
	"errConnectWillMissing": errConnectWillMissing,
	"errConnectPassword":    errConnectPassword,
	"errConnectUserMissing": errConnectUserMissing,
	"errConnectPassMissing": errConnectPassMissing,
	"errConnectUserExtra":   errConnectUserExtra,
	"errConnectPassExtra":   errConnectPassExtra,
	"errConnectTrailing":    errConnectTrailing,

	"errConnackFlags":    errConnackFlags,
	"errConnackLen":      errConnackLen,
	"errConnackAckFlags": errConnackAckFlags,
	"errConnackCode":     errConnackCode,
	"errConnackPresent":  errConnackPresent,

	"errPublishQoS3":    errPublishQoS3,
	"errPublishDupQoS0": errPublishDupQoS0,
	"errPublishZeroID":  errPublishZeroID,
	"errPublishShort":   errPublishShort,
	"errPublishTopic":   errPublishTopic,
	"errPublishEmpty":   errPublishEmpty,

	"pubackRules.badFlags":   pubackRules.badFlags,
	"pubackRules.badLen":     pubackRules.badLen,
	"pubackRules.zeroID":     pubackRules.zeroID,
	"pubrecRules.badFlags":   pubrecRules.badFlags,
	"pubrecRules.badLen":     pubrecRules.badLen,
	"pubrecRules.zeroID":     pubrecRules.zeroID,
	"pubrelRules.badFlags":   pubrelRules.badFlags,
	"pubrelRules.badLen":     pubrelRules.badLen,
	"pubrelRules.zeroID":     pubrelRules.zeroID,
	"pubcompRules.badFlags":  pubcompRules.badFlags,
	"pubcompRules.badLen":    pubcompRules.badLen,
	"pubcompRules.zeroID":    pubcompRules.zeroID,
	"unsubackRules.badFlags": unsubackRules.badFlags,
	"unsubackRules.badLen":   unsubackRules.badLen,
	"unsubackRules.zeroID":   unsubackRules.zeroID,

	"errSubscribeFlags":  errSubscribeFlags,
	"errSubscribeZeroID": errSubscribeZeroID,
	"errSubscribeEmpty":  errSubscribeEmpty,
	"errSubscribeQoS":    errSubscribeQoS,
	"errSubscribeShort":  errSubscribeShort,

	"errSubackFlags":  errSubackFlags,
	"errSubackZeroID": errSubackZeroID,
	"errSubackEmpty":  errSubackEmpty,
	"errSubackCode":   errSubackCode,
	"errSubackShort":  errSubackShort,

	"errUnsubscribeFlags":  errUnsubscribeFlags,
	"errUnsubscribeZeroID": errUnsubscribeZeroID,
	"errUnsubscribeEmpty":  errUnsubscribeEmpty,
	"errUnsubscribeShort":  errUnsubscribeShort,

	"pingreqRules.badFlags":    pingreqRules.badFlags,
	"pingreqRules.badLen":      pingreqRules.badLen,
	"pingrespRules.badFlags":   pingrespRules.badFlags,
	"pingrespRules.badLen":     pingrespRules.badLen,
	"disconnectRules.badFlags": disconnectRules.badFlags,
	"disconnectRules.badLen":   disconnectRules.badLen,
}

// EncodeOnlyErrors holds the preallocated errors that only an encoder (or
// ValidateTopicName/Filter) can return: the decoder cannot see them in bytes
// (a string over 65535 bytes) or accepts what they refuse. The strict
// encoding tests produce each of them.
var EncodeOnlyErrors = map[string]*ProtocolError{
	"errRemainingLengthTooBig": errRemainingLengthTooBig,
	"errStringTooLong":         errStringTooLong,
	"errTopicTooLong":          errTopicTooLong,
	"errFilterTooLong":         errFilterTooLong,
	"errConnectWillFields":     errConnectWillFields,
	"errConnectEmptyID":        errConnectEmptyID,
}
