package packet

import (
	"math/bits"
	"strings"
)

// Errors of topic names and filters (§4.7), without a packet type; the
// packet decoders add the type of the packet they came in.
var (
	errTopicEmpty       = perr(0, "MQTT-4.7.3-1", ErrInvalidTopic, "empty topic name")
	errTopicTooLong     = perr(0, "MQTT-4.7.3-3", ErrInvalidTopic, "topic longer than 65535 bytes")
	errTopicWildcard    = perr(0, "MQTT-4.7.1-1", ErrInvalidTopic, "wildcard in a topic name")
	errFilterEmpty      = perr(0, "MQTT-4.7.3-1", ErrInvalidFilter, "empty topic filter")
	errFilterTooLong    = perr(0, "MQTT-4.7.3-3", ErrInvalidFilter, "topic filter longer than 65535 bytes")
	errFilterMultiLevel = perr(0, "MQTT-4.7.1-2", ErrInvalidFilter, "'#' not alone in the last level of a filter")
	errFilterSingle     = perr(0, "MQTT-4.7.1-3", ErrInvalidFilter, "'+' not alone in its level of a filter")
)

// ValidateTopicName checks a topic name as PUBLISH carries it: at least one
// byte [MQTT-4.7.3-1], at most 65535 [MQTT-4.7.3-3], well-formed UTF-8
// without U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2], and no wildcard
// [MQTT-4.7.1-1]. The error is a *ProtocolError.
func ValidateTopicName(topic string) error {
	if e := validTopicName(topic); e != nil {
		return e
	}
	return nil
}

// ValidateTopicFilter checks a topic filter as SUBSCRIBE carries it: at
// least one byte, at most 65535, well-formed UTF-8 without U+0000, '#'
// alone in the last level [MQTT-4.7.1-2] and '+' alone in its level
// [MQTT-4.7.1-3]. A shared subscription filter ($share/<group>/<filter>) is
// an ordinary filter to MQTT 3.1.1 and passes when it is one.
func ValidateTopicFilter(filter string) error {
	if e := validTopicFilter(filter); e != nil {
		return e
	}
	return nil
}

func validTopicName[T string | []byte](s T) *ProtocolError {
	switch {
	case len(s) == 0:
		return errTopicEmpty // [MQTT-4.7.3-1]
	case len(s) > 65535:
		return errTopicTooLong // [MQTT-4.7.3-3]
	}
	if cleanASCII(s, true) {
		return nil
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if w := load64(s, i); hasByte(w, '+') || hasByte(w, '#') {
			return errTopicWildcard // [MQTT-4.7.1-1] [MQTT-3.3.2-2]
		}
	}
	for ; i < len(s); i++ {
		if s[i] == '+' || s[i] == '#' {
			return errTopicWildcard // [MQTT-4.7.1-1] [MQTT-3.3.2-2]
		}
	}
	return validUTF8(s)
}

func validTopicFilter[T string | []byte](s T) *ProtocolError {
	n := len(s)
	switch {
	case n == 0:
		return errFilterEmpty // [MQTT-4.7.3-1]
	case n > 65535:
		return errFilterTooLong // [MQTT-4.7.3-3]
	}
	if n < 8 {
		for i := 0; i < n; i++ {
			if e := wildcardError(s, i); e != nil {
				return e
			}
		}
		return validUTF8(s)
	}
	// Eight bytes at a time, visiting only the wildcards; the last word
	// overlaps the one before, which only checks some positions twice. The
	// same pass tells whether the filter is ASCII without U+0000, which
	// spares the UTF-8 check.
	var bad uint64
	for i := 0; i < n; i += 8 {
		j := min(i, n-8)
		w := load64(s, j)
		bad |= w | (w-lowBits)&^w
		if wildcards(w)&highBits == 0 {
			continue
		}
		for m := byteMask(w, '+') | byteMask(w, '#'); m != 0; m &= m - 1 {
			if e := wildcardError(s, j+bits.TrailingZeros64(m)>>3); e != nil {
				return e
			}
		}
	}
	if bad&highBits == 0 {
		return nil
	}
	return validUTF8(s)
}

// wildcardError checks the wildcard, if any, at s[i] of a topic filter.
func wildcardError[T string | []byte](s T, i int) *ProtocolError {
	switch s[i] {
	case '#':
		// [MQTT-4.7.1-2]: the whole filter, or after a '/', and last.
		if (i > 0 && s[i-1] != '/') || i != len(s)-1 {
			return errFilterMultiLevel
		}
	case '+':
		// [MQTT-4.7.1-3]: fills its whole level.
		if (i > 0 && s[i-1] != '/') || (i < len(s)-1 && s[i+1] != '/') {
			return errFilterSingle
		}
	}
	return nil
}

const sharePrefix = "$share/"

// SharedFilter splits a shared subscription filter, $share/<group>/<filter>,
// into its group and filter parts. ok is false when filter is not of that
// form (no group, or nothing after it). Shared subscriptions are an MQTT 5
// feature that many MQTT 3.1.1 brokers also accept; to the 3.1.1 codec the
// whole string is an ordinary filter.
func SharedFilter(filter string) (group, topicFilter string, ok bool) {
	rest, found := strings.CutPrefix(filter, sharePrefix)
	if !found {
		return "", "", false
	}
	group, topicFilter, found = strings.Cut(rest, "/")
	if !found || group == "" || topicFilter == "" || strings.ContainsAny(group, "+#") {
		return "", "", false
	}
	return group, topicFilter, true
}

// MatchTopic reports whether the topic name matches the filter (§4.7).
// '+' matches exactly one level, including an empty one; '#' matches any
// number of levels, including the parent level itself ("sport/#" matches
// "sport"). A filter that starts with a wildcard never matches a topic that
// starts with '$' [MQTT-4.7.2-1]. A shared subscription filter matches on its
// filter part. Matching compares bytes: no Unicode normalisation
// [MQTT-4.7.3-4]. Both arguments are taken as valid; MatchTopic does not
// allocate.
func MatchTopic(filter, topic string) bool {
	if _, f, ok := SharedFilter(filter); ok {
		filter = f
	}
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}
