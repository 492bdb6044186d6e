package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// BrokerRecord is what the broker suite (internal/brokercheck) recorded
// for one broker in testdata/conformance/brokers.json.
type BrokerRecord struct {
	Broker  string        `json:"broker"`
	Version string        `json:"version"`
	Results []BrokerCheck `json:"results"`
}

// Unstable is the recorded status of a check whose verdict on a broker
// changes from run to run: some runs pass it, others fail it on Rule.
const Unstable = "unstable"

// BrokerCheck is one check's recorded outcome: pass, fail, timeout, skip
// or unstable; for a failure or an unstable verdict, the rule a failure
// breaks, why, and the packets of a failing run.
type BrokerCheck struct {
	Name   string   `json:"name"`
	Rules  []string `json:"rules"`
	Status string   `json:"status"`
	Rule   string   `json:"rule,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Packets are what the check sent and received, for a failure or a
	// timeout: the packets that show it.
	Packets []string `json:"packets,omitempty"`
}

// ReadBrokers reads the recorded broker results; a missing file is no
// records.
func ReadBrokers(path string) ([]BrokerRecord, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []BrokerRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// BuildBrokers renders the section of CONFORMANCE.md that records which
// broker checks each broker passes. It fails on a statement id that is not
// one of statements, like Build.
func BuildBrokers(statements []Statement, recs []BrokerRecord) (string, error) {
	if len(recs) == 0 {
		return "", nil
	}
	known := make(map[string]bool, len(statements))
	for _, s := range statements {
		known[s.ID] = true
	}
	var names []string
	rules := map[string][]string{}
	status := map[string]map[string]BrokerCheck{}
	var unknown []string
	for _, r := range recs {
		status[r.Broker] = map[string]BrokerCheck{}
		for _, c := range r.Results {
			if _, ok := rules[c.Name]; !ok {
				names = append(names, c.Name)
				rules[c.Name] = c.Rules
			}
			status[r.Broker][c.Name] = c
			for _, id := range append(slices.Clone(c.Rules), c.Rule) {
				if id != "" && idPattern.MatchString(id) && !known[id] {
					unknown = append(unknown, id)
				}
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return "", fmt.Errorf("brokers.json: not normative statement ids of MQTT 3.1.1: %s", strings.Join(slices.Compact(unknown), ", "))
	}

	var b strings.Builder
	b.WriteString("\n## Brokers checked with `linnet conformance`\n\n")
	b.WriteString("The broker suite (`internal/brokercheck`, the checks of `linnet conformance`) run against the brokers\n")
	b.WriteString("of the test suite by `go test ./internal/brokercheck`, which fails when a result changes from the one\n")
	b.WriteString("recorded in `testdata/conformance/brokers.json` (re-record with `-update`). A failure listed here is\n")
	b.WriteString("a real deviation of that broker, explained below the table; the packets that show each one are\n")
	b.WriteString("recorded with it in brokers.json. A check marked unstable passes in some runs on that broker and\n")
	b.WriteString("fails in others, on the rule given; the packets of a failing run are recorded.\n\n")
	b.WriteString("| check | statements |")
	sep := "|---|---|"
	for _, r := range recs {
		fmt.Fprintf(&b, " %s %s |", r.Broker, r.Version)
		sep += "---|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| `%s` | %s |", n, strings.Join(rules[n], " "))
		for _, r := range recs {
			c, ok := status[r.Broker][n]
			switch {
			case !ok:
				b.WriteString(" — |")
			case c.Status == "fail" && c.Rule != "":
				fmt.Fprintf(&b, " **fail** (%s) |", c.Rule)
			case c.Status == Unstable && c.Rule != "":
				fmt.Fprintf(&b, " **unstable**: pass or fail (%s) |", c.Rule)
			case c.Status == Unstable:
				b.WriteString(" **unstable**: pass or fail |")
			default:
				fmt.Fprintf(&b, " %s |", c.Status)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, r := range recs {
		pass, fail, skip, timeout, flaky := 0, 0, 0, 0, 0
		var notes []string
		for _, c := range r.Results {
			switch c.Status {
			case "pass":
				pass++
			case "fail":
				fail++
				notes = append(notes, fmt.Sprintf("- `%s`: %s", c.Name, cell(c.Reason)))
			case "skip":
				skip++
				notes = append(notes, fmt.Sprintf("- `%s` (skipped): %s", c.Name, cell(c.Reason)))
			case "timeout":
				timeout++
				notes = append(notes, fmt.Sprintf("- `%s` (timed out): %s", c.Name, cell(c.Reason)))
			case Unstable:
				flaky++
				notes = append(notes, fmt.Sprintf("- `%s` (unstable: some runs pass it, others fail it): %s", c.Name, cell(c.Reason)))
			}
		}
		fmt.Fprintf(&b, "%s %s: %d passed, %d failed, %d timed out, %d skipped", r.Broker, r.Version, pass, fail, timeout, skip)
		if flaky > 0 {
			fmt.Fprintf(&b, ", %d unstable", flaky)
		}
		b.WriteString(".\n")
		for _, n := range notes {
			b.WriteString(n + "\n")
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

// StatementCoverage is how the broker suite covers one statement: the
// checks that name it, or why it has none.
type StatementCoverage struct {
	ID           string
	Checks       []string
	Unobservable string // why a client cannot observe it
	NotChecked   string // why the suite does not check it yet
}

// BuildCoverage renders the section of CONFORMANCE.md that lists, for
// every statement that binds the server, the broker checks that name it or
// why none does.
func BuildCoverage(statements []Statement, cov []StatementCoverage) string {
	by := make(map[string]StatementCoverage, len(cov))
	for _, c := range cov {
		by[c.ID] = c
	}
	var b strings.Builder
	b.WriteString("\n## Server statements in `linnet conformance`\n\n")
	b.WriteString("Every statement that binds the server, with the broker checks that name it (`linnet conformance\n")
	b.WriteString("-list` prints the same), or why no check does.\n\n")
	b.WriteString("| id | binds | broker checks |\n|---|---|---|\n")
	for _, s := range statements {
		if s.Binds == "Client" {
			continue
		}
		c := by[s.ID]
		var what string
		switch {
		case len(c.Checks) > 0:
			what = "`" + strings.Join(c.Checks, "`, `") + "`"
		case c.Unobservable != "":
			what = "not observable by a client: " + cell(c.Unobservable)
		case c.NotChecked != "":
			what = "not checked yet: " + cell(c.NotChecked)
		default:
			what = "none"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.ID, s.Binds, what)
	}
	return b.String()
}
