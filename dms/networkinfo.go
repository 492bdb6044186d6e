package dms

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// NetworkInfoKeys are the keys under which a JSON join-network message may
// carry the DMS server URI, tried in this order. "url" is the documented
// one; the others are accepted for back ends that name it differently.
var NetworkInfoKeys = []string{"url", "uri", "dmsUrl", "dms_url", "serverUri", "server"}

// ParseNetworkInfo extracts the DMS server URI from a join-network payload:
// a JSON object with the URI as a string under one of NetworkInfoKeys
// ({"url":"ssl://dms.example:8883"}), a JSON string, or the bare URI as
// text. validate checks the URI (transport.Validate, or a registry's
// Validate); nil accepts any non-empty URI. Anything else is a
// *NetworkInfoError.
func ParseNetworkInfo(topic string, payload []byte, validate func(string) error) (string, error) {
	fail := func(reason string, err error) (string, error) {
		p := payload
		if len(p) > 128 {
			p = p[:128]
		}
		return "", &NetworkInfoError{Topic: topic, Payload: string(p), Reason: reason, Err: err}
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
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return fail("malformed JSON", err)
		}
		found := false
		for _, k := range NetworkInfoKeys {
			raw, ok := obj[k]
			if !ok {
				continue
			}
			if err := json.Unmarshal(raw, &uri); err != nil {
				return fail("key "+k+" is not a string", err)
			}
			found = true
			break
		}
		if !found {
			return fail("no URI under any of the keys "+strings.Join(NetworkInfoKeys, ", "), nil)
		}
	case '"':
		if err := json.Unmarshal(trimmed, &uri); err != nil {
			return fail("malformed JSON string", err)
		}
	case '[':
		return fail("a JSON array is not a join-network message", nil)
	default:
		uri = string(trimmed)
	}
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return fail("empty URI", nil)
	}
	if validate != nil {
		if err := validate(uri); err != nil {
			return fail("unusable DMS URI", err)
		}
	}
	return uri, nil
}
