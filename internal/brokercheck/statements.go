package brokercheck

import (
	"slices"
	"strings"
)

// The normative statements of MQTT 3.1.1 that bind the server (server only
// or both sides, 108 of the 141) and that no check names, each with why.
// A test keeps these tables, the checks and the statement list of
// testdata/conformance/statements.tsv in agreement: every server-binding
// statement is named by a check or listed here, never both.

// unobservable holds the statements a client cannot observe on the wire.
var unobservable = map[string]string{
	"MQTT-3.1.2-12": "with the will flag 0 a client names no will topic or message, so nothing the server publishes can be told to be a will",
	"MQTT-3.2.2-6":  "which CONNECT no return code fits is the server's own judgement; no CONNECT a client can send is defined to need it",
	"MQTT-4.6.0-5":  "marking topics unordered is the server administrator's choice, made outside the protocol",
	"MQTT-4.7.3-3":  "the two-byte length of a UTF-8 string cannot express more than 65535 bytes, so no packet can carry a longer topic",
	"MQTT-4.8.0-2":  "a transient error is internal to the server; a client can neither cause one on purpose nor tell it from another close",
	"MQTT-7.0.0-1":  "a server's outbound connections to other servers (bridges) are not visible to its clients",
}

// notChecked holds the statements a client could observe that the suite
// does not check yet, with what it would take.
var notChecked = map[string]string{
	"MQTT-3.3.5-2": "needs a broker configured to refuse a PUBLISH and a way to name that topic (like -refused-filter for SUBSCRIBE)",
	"MQTT-6.0.0-1": "needs a WebSocket text frame, which the transport package never sends",
}

// Coverage says how the suite covers one server-binding statement.
type Coverage struct {
	ID string `json:"id"`
	// Checks are the checks that name the statement.
	Checks []string `json:"checks,omitempty"`
	// Unobservable says why a client cannot observe the statement.
	Unobservable string `json:"unobservable,omitempty"`
	// NotChecked says why the suite does not check an observable statement.
	NotChecked string `json:"not_checked,omitempty"`
}

// Statements returns the coverage of every server-binding statement that
// a check names or a table above lists, sorted by id in the order of the
// specification.
func Statements(checks []Check) []Coverage {
	by := map[string]*Coverage{}
	get := func(id string) *Coverage {
		if by[id] == nil {
			by[id] = &Coverage{ID: id}
		}
		return by[id]
	}
	for _, c := range checks {
		for _, id := range c.Rules {
			cv := get(id)
			if !slices.Contains(cv.Checks, c.Name) {
				cv.Checks = append(cv.Checks, c.Name)
			}
		}
	}
	for id, why := range unobservable {
		get(id).Unobservable = why
	}
	for id, why := range notChecked {
		get(id).NotChecked = why
	}
	out := make([]Coverage, 0, len(by))
	for _, cv := range by {
		out = append(out, *cv)
	}
	slices.SortFunc(out, func(a, b Coverage) int { return compareIDs(a.ID, b.ID) })
	return out
}

// compareIDs orders statement ids by their numbers: MQTT-3.1.2-9 before
// MQTT-3.1.2-10.
func compareIDs(a, b string) int {
	na, nb := idNumbers(a), idNumbers(b)
	return slices.Compare(na, nb)
}

func idNumbers(id string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(strings.TrimPrefix(id, "MQTT-"), func(r rune) bool { return r == '.' || r == '-' }) {
		n := 0
		for _, r := range f {
			n = n*10 + int(r-'0')
		}
		out = append(out, n)
	}
	return out
}
