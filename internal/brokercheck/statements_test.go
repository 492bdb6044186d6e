package brokercheck

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/conformance"
)

// TestEveryServerStatementCovered checks that each of the 108 statements
// that bind the server (server only or both) is named by a check, or
// listed as unobservable or not checked with a reason, and only one of
// these; and that every id a check names is a statement.
func TestEveryServerStatementCovered(t *testing.T) {
	dir, err := os.Getwd()
	require.NoError(t, err)
	statements, err := conformance.ReadStatements(filepath.Join(dir, "..", "..", "testdata", "conformance", "statements.tsv"))
	require.NoError(t, err)
	binds := map[string]string{}
	server := 0
	for _, s := range statements {
		binds[s.ID] = s.Binds
		if s.Binds != "Client" {
			server++
		}
	}
	require.Equal(t, 108, server)
	cov := Statements(Checks())
	seen := map[string]bool{}
	for _, c := range cov {
		if strings.HasPrefix(c.ID, "MQTT-") {
			// A client-only statement may be named by a check whose
			// packet breaks it (the empty SUBSCRIBE of [MQTT-3.8.3-3]).
			_, ok := binds[c.ID]
			require.True(t, ok, "%s is not a statement of MQTT 3.1.1", c.ID)
		}
		n := 0
		for _, s := range []bool{len(c.Checks) > 0, c.Unobservable != "", c.NotChecked != ""} {
			if s {
				n++
			}
		}
		require.Equal(t, 1, n, "%s: want exactly one of checks, unobservable, not checked: %+v", c.ID, c)
		seen[c.ID] = true
	}
	for _, s := range statements {
		if s.Binds != "Client" {
			require.True(t, seen[s.ID], "%s (%s) has no check and no reason", s.ID, s.Binds)
		}
	}
	require.Equal(t, compareIDs("MQTT-3.1.2-9", "MQTT-3.1.2-10"), -1)
}

// TestScenariosCovered checks that each scenario of the Paho
// interoperability suite has a check.
func TestScenariosCovered(t *testing.T) {
	require.Len(t, Scenarios, 10)
	for _, s := range Scenarios {
		n := 0
		for _, c := range Checks() {
			if c.Scenario == s {
				n++
			}
		}
		require.Equal(t, 1, n, "scenario %q", s)
	}
}

// TestReportsParse writes results with awkward text (invalid UTF-8, a NUL,
// markup characters, a newline) as JSON and JUnit and reads them back with
// the standard parsers.
func TestReportsParse(t *testing.T) {
	nasty := "a\x00b\xff<&>\"]]>\nline"
	results := []Result{
		{Name: "p", Rules: []string{"MQTT-3.3.1-4"}, Status: Pass, Duration: time.Millisecond, Limit: time.Second},
		{Name: "f", Rules: []string{"MQTT-3.3.1-4"}, Status: Fail, Rule: "MQTT-3.3.1-4", Reason: nasty, Transcript: []string{nasty, "x"}},
		{Name: "t", Status: Timeout, Rule: "MQTT-3.3.5-1", Reason: "timed out " + nasty, Transcript: []string{nasty}},
		{Name: "s", Status: Skip, Reason: nasty},
	}
	var js bytes.Buffer
	require.NoError(t, WriteJSON(&js, "tcp://x:1883", results))
	var rep Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &rep), js.String())
	require.Equal(t, Summary{Total: 4, Passed: 1, Failed: 1, TimedOut: 1, Skipped: 1}, rep.Summary)
	require.Equal(t, Timeout, rep.Results[2].Status)
	require.Equal(t, "MQTT-3.3.5-1", rep.Results[2].Rule)

	var x bytes.Buffer
	require.NoError(t, WriteJUnit(&x, "tcp://x:1883", results))
	var suites junitSuites
	require.NoError(t, xml.Unmarshal(x.Bytes(), &suites), x.String())
	require.Len(t, suites.Suites, 1)
	s := suites.Suites[0]
	require.Equal(t, 4, s.Tests)
	require.Equal(t, 2, s.Failures)
	require.Equal(t, 1, s.Skipped)
	require.Equal(t, "timeout", s.Cases[2].Failure.Type)
	require.Equal(t, "MQTT-3.3.1-4", s.Cases[1].Failure.Type)
	require.Contains(t, s.Cases[1].Failure.Body, "line")
	// Every character that XML cannot carry was replaced, so a strict
	// decoder reads the whole document.
	dec := xml.NewDecoder(bytes.NewReader(x.Bytes()))
	dec.Strict = true
	for {
		if _, err := dec.Token(); err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
	}
}
