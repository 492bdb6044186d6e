package dms

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// DefaultNetworkInfoKeys returns the keys under which the default parser
// looks for the DMS server URI in a JSON join-network message, in this
// order: "url" is the documented one; the others are accepted for back
// ends that name it differently. Each call returns a new slice.
func DefaultNetworkInfoKeys() []string {
	return []string{"url", "uri", "dmsUrl", "dms_url", "serverUri", "server"}
}

// ParseNetworkInfo extracts the DMS server URI from a join-network payload
// with the default parser and keys (DefaultNetworkInfoKeys): a JSON object
// with the URI as a string under one of the keys
// ({"url":"ssl://dms.example:8883"}), a JSON string, or the bare URI as
// text. validate checks the URI (transport.Validate, or a registry's
// Validate); nil accepts any non-empty URI. Anything else is a
// *NetworkInfoError (malformed JSON: wrapping a *JSONSyntaxError).
func ParseNetworkInfo(topic string, payload []byte, validate func(string) error) (string, error) {
	return parseNetworkInfo(topic, payload, DefaultNetworkInfoKeys(), validate)
}

// payloadHead is how much of a payload a *NetworkInfoError keeps.
const payloadHead = 128

func networkInfoError(topic string, payload []byte, reason string, err error) *NetworkInfoError {
	p := payload
	if len(p) > payloadHead {
		p = p[:payloadHead]
	}
	return &NetworkInfoError{Topic: topic, Payload: string(p), Reason: reason, Err: err}
}

func parseNetworkInfo(topic string, payload []byte, keys []string, validate func(string) error) (string, error) {
	fail := func(reason string, err error) (string, error) {
		return "", networkInfoError(topic, payload, reason, err)
	}
	if !utf8.Valid(payload) {
		return fail("payload is not UTF-8", nil)
	}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return fail("empty payload", nil)
	}
	var uri string
	switch trimmed[0] {
	case '{':
		members, err := jsonObject(trimmed)
		if err != nil {
			return fail("malformed JSON", err)
		}
		found := false
		for _, k := range keys {
			raw, ok := lookup(members, k)
			if !ok {
				continue
			}
			if uri, ok = jsonStringValue(raw); !ok {
				return fail("key "+k+" is not a string", nil)
			}
			found = true
			break
		}
		if !found {
			return fail("no URI under any of the keys "+strings.Join(keys, ", "), nil)
		}
	case '"':
		if err := checkJSON(trimmed); err != nil {
			return fail("malformed JSON string", err)
		}
		uri = decodeString(trimmed)
	case '[':
		return fail("a JSON array is not a join-network message", nil)
	default:
		uri = string(trimmed)
	}
	return checkNetworkURI(topic, payload, uri, validate)
}

// checkNetworkURI checks the URI a parser found.
func checkNetworkURI(topic string, payload []byte, uri string, validate func(string) error) (string, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return "", networkInfoError(topic, payload, "empty URI", nil)
	}
	if validate != nil {
		if err := validate(uri); err != nil {
			return "", networkInfoError(topic, payload, "unusable DMS URI", err)
		}
	}
	return uri, nil
}
