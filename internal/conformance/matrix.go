package conformance

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Statement is one normative statement of MQTT 3.1.1.
type Statement struct {
	ID, Section, Binds, Paraphrase string
}

// ClientBinding reports whether the statement binds a client.
func (s Statement) ClientBinding() bool { return s.Binds == "Client" || s.Binds == "Both" }

var idPattern = regexp.MustCompile(`MQTT-\d+\.\d+\.\d+-\d+`)

// ReadStatements reads the tab-separated statement list.
func ReadStatements(path string) ([]Statement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Statement
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 4 || !idPattern.MatchString(parts[0]) {
			return nil, fmt.Errorf("%s:%d: want id, section, binds, paraphrase separated by tabs", path, n)
		}
		out = append(out, Statement{parts[0], parts[1], parts[2], parts[3]})
	}
	return out, sc.Err()
}

// ReadNotes reads id<TAB>note lines: why a statement cannot apply to a
// client library, or how it is met without a test of its own.
func ReadNotes(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	notes := make(map[string]string)
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, note, ok := strings.Cut(line, "\t")
		if !ok || !idPattern.MatchString(id) {
			return nil, fmt.Errorf("%s:%d: want id<TAB>note", path, n+1)
		}
		notes[id] = note
	}
	return notes, nil
}

// ScanTests returns, for every statement id named in the doc comment of a
// Test or Fuzz function under root, the tests that name it, as
// "dir.TestName" sorted.
func ScanTests(root string) (map[string][]string, error) {
	claims := make(map[string][]string)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			name, doc := funcDoc(decl)
			if doc == "" || !(strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Fuzz")) {
				continue
			}
			for _, id := range idPattern.FindAllString(doc, -1) {
				test := filepath.ToSlash(rel) + "." + name
				if !slices.Contains(claims[id], test) {
					claims[id] = append(claims[id], test)
				}
			}
		}
		return nil
	})
	for _, tests := range claims {
		slices.Sort(tests)
	}
	return claims, err
}

// Build renders CONFORMANCE.md.
func Build(statements []Statement, claims map[string][]string, notes map[string]string) (string, error) {
	known := make(map[string]bool, len(statements))
	for _, s := range statements {
		known[s.ID] = true
	}
	var unknown []string
	for id := range claims {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	for id := range notes {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return "", fmt.Errorf("not normative statement ids of MQTT 3.1.1: %s", strings.Join(unknown, ", "))
	}

	var client, clientTested, clientNoted int
	for _, s := range statements {
		if !s.ClientBinding() {
			continue
		}
		client++
		if len(claims[s.ID]) > 0 {
			clientTested++
		} else if notes[s.ID] != "" {
			clientNoted++
		}
	}

	var b strings.Builder
	b.WriteString("# Conformance matrix\n\n")
	b.WriteString("Which normative statements of MQTT 3.1.1 Linnet's tests check. Generated from the doc comments\n")
	b.WriteString("of the Test and Fuzz functions by `go test ./internal/conformance -update`; a test fails when\n")
	b.WriteString("this file and the tests disagree, so a statement cannot lose its tests unnoticed. Statement\n")
	b.WriteString("texts are our own paraphrases (`testdata/conformance/statements.tsv`); notes come from\n")
	b.WriteString("`testdata/conformance/notes.tsv`.\n\n")
	fmt.Fprintf(&b, "Client-binding statements: %d; with tests: %d; without tests but with a note: %d; not yet: %d.\n\n",
		client, clientTested, clientNoted, client-clientTested-clientNoted)

	b.WriteString("## Statements that bind the client\n\n")
	b.WriteString("| id | binds | statement | tests |\n|---|---|---|---|\n")
	for _, s := range statements {
		if s.ClientBinding() {
			writeRow(&b, s, claims[s.ID], notes[s.ID], "not yet")
		}
	}
	b.WriteString("\n## Statements that bind only the server, checked where Linnet touches them\n\n")
	b.WriteString("A client library is not bound by these; the codec and the broker checks test some of them.\n\n")
	b.WriteString("| id | statement | tests |\n|---|---|---|\n")
	for _, s := range statements {
		if !s.ClientBinding() && (len(claims[s.ID]) > 0 || notes[s.ID] != "") {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", s.ID, cell(s.Paraphrase), testsCell(claims[s.ID], notes[s.ID], ""))
		}
	}
	return b.String(), nil
}

func writeRow(b *strings.Builder, s Statement, tests []string, note, none string) {
	fmt.Fprintf(b, "| %s | %s | %s | %s |\n", s.ID, s.Binds, cell(s.Paraphrase), testsCell(tests, note, none))
}

func testsCell(tests []string, note, none string) string {
	var parts []string
	for _, t := range tests {
		parts = append(parts, "`"+t+"`")
	}
	if note != "" {
		parts = append(parts, cell(note))
	}
	if len(parts) == 0 {
		return none
	}
	return strings.Join(parts, ", ")
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
