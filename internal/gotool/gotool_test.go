package gotool

import (
	"os"
	"testing"
)

// TestCommand checks that Command finds a go command that exists.
func TestCommand(t *testing.T) {
	p := Command(t)
	_, err := os.Stat(p)
	if err != nil {
		t.Fatalf("Command returned %q: %v", p, err)
	}
}
