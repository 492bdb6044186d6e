package conformance

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/brokercheck"
)

var update = flag.Bool("update", false, "rewrite CONFORMANCE.md from the tests")

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
}

// TestMatrix checks that CONFORMANCE.md matches the statement ids named in
// the doc comments of the module's tests.
func TestMatrix(t *testing.T) {
	root := moduleRoot(t)
	statements, err := ReadStatements(filepath.Join(root, "testdata/conformance/statements.tsv"))
	require.NoError(t, err)
	require.Len(t, statements, 141, "MQTT 3.1.1 has 141 normative statements")
	notes, err := ReadNotes(filepath.Join(root, "testdata/conformance/notes.tsv"))
	require.NoError(t, err)
	claims, err := ScanTests(root)
	require.NoError(t, err)
	got, err := Build(statements, claims, notes)
	require.NoError(t, err)
	recs, err := ReadBrokers(filepath.Join(root, "testdata/conformance/brokers.json"))
	require.NoError(t, err)
	brokers, err := BuildBrokers(statements, recs)
	require.NoError(t, err)
	got += brokers
	var cov []StatementCoverage
	for _, c := range brokercheck.Statements(brokercheck.Checks()) {
		cov = append(cov, StatementCoverage{ID: c.ID, Checks: c.Checks, Unobservable: c.Unobservable, NotChecked: c.NotChecked})
	}
	got += BuildCoverage(statements, cov)

	path := filepath.Join(root, "CONFORMANCE.md")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run: go test ./internal/conformance -update")
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Fatalf("CONFORMANCE.md is out of date with the tests (-file +tests); run: go test ./internal/conformance -update\n%s", diff)
	}
}

// TestStatementCounts checks the statement list against the counts the
// spec's appendix gives: 33 client-only, 69 server-only, 39 both.
func TestStatementCounts(t *testing.T) {
	statements, err := ReadStatements(filepath.Join(moduleRoot(t), "testdata/conformance/statements.tsv"))
	require.NoError(t, err)
	counts := map[string]int{}
	for _, s := range statements {
		counts[s.Binds]++
	}
	require.Equal(t, map[string]int{"Client": 33, "Server": 69, "Both": 39}, counts)
}

// TestBuildRejectsUnknownIDs shows that a typo in a doc comment fails the
// build of the matrix instead of passing for coverage.
func TestBuildRejectsUnknownIDs(t *testing.T) {
	st := []Statement{{ID: "MQTT-1.5.3-1", Section: "1.5.3", Binds: "Both", Paraphrase: "x"}}
	_, err := Build(st, map[string][]string{"MQTT-9.9.9-9": {"x.TestY"}}, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "MQTT-9.9.9-9")

	out, err := Build(st, map[string][]string{"MQTT-1.5.3-1": {"packet.TestA"}}, nil)
	require.NoError(t, err)
	require.True(t, strings.Contains(out, "| MQTT-1.5.3-1 | Both | x | `packet.TestA` |"), out)
	out, err = Build(st, nil, nil)
	require.NoError(t, err)
	require.True(t, strings.Contains(out, "| MQTT-1.5.3-1 | Both | x | not yet |"), out)
}

// TestScanFindsDocComments runs the scanner over a small tree.
func TestScanFindsDocComments(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "p"), 0o755))
	src := "package p\n\nimport \"testing\"\n\n// TestA checks [MQTT-3.3.1-4] and MQTT-2.2.2-1.\nfunc TestA(t *testing.T) {}\n\n" +
		"// helper mentions MQTT-1.5.3-1 but is not a test.\nfunc helper() {}\n\n// FuzzB checks [MQTT-3.3.1-4].\nfunc FuzzB(f *testing.F) {}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p", "a_test.go"), []byte(src), 0o644))
	claims, err := ScanTests(dir)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"MQTT-3.3.1-4": {"p.FuzzB", "p.TestA"},
		"MQTT-2.2.2-1": {"p.TestA"},
	}, claims)
}

// TestListedTestsExist checks that every test CONFORMANCE.md names is a
// Test or Fuzz function of the module today, so the file cannot keep
// credit for a test that was deleted or renamed.
func TestListedTestsExist(t *testing.T) {
	root := moduleRoot(t)
	md, err := os.ReadFile(filepath.Join(root, "CONFORMANCE.md"))
	require.NoError(t, err)
	claims, err := ScanTests(root)
	require.NoError(t, err)
	exists := map[string]bool{}
	for _, tests := range claims {
		for _, name := range tests {
			exists[name] = true
		}
	}
	listed := regexp.MustCompile("`([\\w./-]+\\.(?:Test|Fuzz)\\w*)`").FindAllStringSubmatch(string(md), -1)
	require.NotEmpty(t, listed)
	for _, m := range listed {
		require.True(t, exists[m[1]], "CONFORMANCE.md lists %s, which no longer claims a statement (or no longer exists); run: go test ./internal/conformance -update", m[1])
	}
}

// TestBuildBrokersRejectsUnknownIDs shows that a typo in a broker check's
// statement ids fails like one in a doc comment.
func TestBuildBrokersRejectsUnknownIDs(t *testing.T) {
	st := []Statement{{ID: "MQTT-1.5.3-1", Binds: "Both"}}
	_, err := BuildBrokers(st, []BrokerRecord{{Broker: "b", Results: []BrokerCheck{{Name: "c", Rules: []string{"MQTT-9.9.9-9"}, Status: "pass"}}}})
	require.ErrorContains(t, err, "MQTT-9.9.9-9")
	out, err := BuildBrokers(st, []BrokerRecord{{Broker: "b", Version: "1", Results: []BrokerCheck{
		{Name: "c", Rules: []string{"MQTT-1.5.3-1"}, Status: "fail", Rule: "MQTT-1.5.3-1", Reason: "why"}}}})
	require.NoError(t, err)
	require.Contains(t, out, "| `c` | MQTT-1.5.3-1 | **fail** (MQTT-1.5.3-1) |")
	require.Contains(t, out, "- `c`: why")
}

// TestEveryClientStatementCovered fails when a statement that binds the
// client has neither a test that claims it nor a note saying why it needs
// none. Regenerating CONFORMANCE.md cannot make a lost test pass: the
// statement must get a test back, or a note that a reviewer reads.
func TestEveryClientStatementCovered(t *testing.T) {
	root := moduleRoot(t)
	statements, err := ReadStatements(filepath.Join(root, "testdata/conformance/statements.tsv"))
	require.NoError(t, err)
	notes, err := ReadNotes(filepath.Join(root, "testdata/conformance/notes.tsv"))
	require.NoError(t, err)
	claims, err := ScanTests(root)
	require.NoError(t, err)
	var uncovered []string
	for _, s := range statements {
		if s.ClientBinding() && len(claims[s.ID]) == 0 && notes[s.ID] == "" {
			uncovered = append(uncovered, s.ID)
		}
	}
	require.Empty(t, uncovered, "client-binding statements with no test and no note in testdata/conformance/notes.tsv")
}

// TestBuildBrokersUnstable shows that a check whose verdict flips is
// rendered as unstable, with its rule and reason, counted apart from
// passes and failures, and that a record without one keeps its old
// summary line.
func TestBuildBrokersUnstable(t *testing.T) {
	st := []Statement{{ID: "MQTT-3.3.1-7", Binds: "Server"}}
	out, err := BuildBrokers(st, []BrokerRecord{
		{Broker: "b", Version: "1", Results: []BrokerCheck{
			{Name: "c", Rules: []string{"MQTT-3.3.1-7"}, Status: Unstable, Rule: "MQTT-3.3.1-7", Reason: "sometimes"},
			{Name: "d", Rules: []string{"MQTT-3.3.1-7"}, Status: Unstable, Reason: "no rule"},
			{Name: "e", Rules: []string{"MQTT-3.3.1-7"}, Status: "pass"}}},
		{Broker: "s", Version: "2", Results: []BrokerCheck{{Name: "c", Rules: []string{"MQTT-3.3.1-7"}, Status: "pass"}}},
	})
	require.NoError(t, err)
	require.Contains(t, out, "| `c` | MQTT-3.3.1-7 | **unstable**: pass or fail (MQTT-3.3.1-7) | pass |")
	require.Contains(t, out, "| `d` | MQTT-3.3.1-7 | **unstable**: pass or fail | — |")
	require.Contains(t, out, "- `c` (unstable: some runs pass it, others fail it): sometimes")
	require.Contains(t, out, "b 1: 1 passed, 0 failed, 0 timed out, 0 skipped, 2 unstable.")
	require.Contains(t, out, "s 2: 1 passed, 0 failed, 0 timed out, 0 skipped.")
}
