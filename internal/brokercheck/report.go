package brokercheck

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary counts results by status.
type Summary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// TimedOut counts the checks that ran out of their time limit.
	TimedOut int `json:"timed_out"`
}

// Summarize counts results by status.
func Summarize(results []Result) Summary {
	s := Summary{Total: len(results)}
	for _, r := range results {
		switch r.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Skip:
			s.Skipped++
		case Timeout:
			s.TimedOut++
		}
	}
	return s
}

// OK reports whether every check passed or was skipped.
func (s Summary) OK() bool { return s.Failed == 0 && s.TimedOut == 0 }

func (s Summary) String() string {
	return fmt.Sprintf("%d checks: %d passed, %d failed, %d timed out, %d skipped", s.Total, s.Passed, s.Failed, s.TimedOut, s.Skipped)
}

// WriteTable writes a readable table: one line per check, and under each
// failure or timeout the rule it breaks or waited on, why, and the
// transcript of what was sent and received, with bytes in hex.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tRULES\tTIME\tDETAIL")
	for _, r := range results {
		detail := r.Reason
		switch {
		case r.Status == Fail && r.Rule != "":
			detail = "breaks [" + r.Rule + "]: " + r.Reason
		case r.Status == Timeout && r.Rule != "":
			detail = "waiting on [" + r.Rule + "]: " + r.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", strings.ToUpper(string(r.Status)), r.Name, strings.Join(r.Rules, " "),
			r.Duration.Round(time.Millisecond), oneLine(detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Status != Fail && r.Status != Timeout {
			continue
		}
		fmt.Fprintf(w, "\n--- %s %s", strings.ToUpper(string(r.Status)), r.Name)
		if r.Rule != "" {
			fmt.Fprintf(w, " [%s]", r.Rule)
		}
		fmt.Fprintf(w, ": %s\n", r.Reason)
		for _, l := range r.Transcript {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	_, err := fmt.Fprintf(w, "\n%v\n", Summarize(results))
	return err
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// Report is the JSON form of a run.
type Report struct {
	Broker  string   `json:"broker"`
	Prefix  string   `json:"prefix,omitempty"`
	Summary Summary  `json:"summary"`
	Results []Result `json:"results"`
}

// WriteJSON writes the results as one indented JSON object.
func WriteJSON(w io.Writer, broker string, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Report{Broker: broker, Summary: Summarize(results), Results: results})
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Props    []junitProp `xml:"properties>property"`
	Cases    []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the results as JUnit XML, one testcase per check, for
// CI systems. A failure's type is the rule it breaks and its body the
// transcript; a timeout is a failure of type "timeout".
func WriteJUnit(w io.Writer, broker string, results []Result) error {
	sum := Summarize(results)
	var total time.Duration
	suite := junitSuite{Name: "linnet conformance", Tests: sum.Total, Failures: sum.Failed + sum.TimedOut, Skipped: sum.Skipped,
		Props: []junitProp{{Name: "broker", Value: broker}}}
	for _, r := range results {
		total += r.Duration
		c := junitCase{Name: r.Name + " " + strings.Join(r.Rules, " "), Classname: "linnet.conformance",
			Time: fmt.Sprintf("%.3f", r.Duration.Seconds())}
		switch r.Status {
		case Fail:
			c.Failure = &junitMessage{Message: r.Reason, Type: r.Rule, Body: strings.Join(r.Transcript, "\n")}
		case Timeout:
			c.Failure = &junitMessage{Message: r.Reason, Type: "timeout", Body: strings.Join(r.Transcript, "\n")}
		case Skip:
			c.Skipped = &junitMessage{Message: r.Reason}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = fmt.Sprintf("%.3f", total.Seconds())
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
