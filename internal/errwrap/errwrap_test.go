package errwrap_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/linnet-mqtt/linnet/internal/errwrap"
)

// TestWrapLikeErrorf checks that Wrap gives the text of fmt.Errorf with
// %w and the same answers to errors.Is, errors.As and errors.Unwrap.
func TestWrapLikeErrorf(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	got := errwrap.Wrap("store: open", cause)
	want := fmt.Errorf("store: open: %w", cause)
	if got.Error() != want.Error() {
		t.Errorf("text %q, want %q", got, want)
	}
	if errors.Unwrap(got) != cause {
		t.Errorf("Unwrap = %v, want the cause", errors.Unwrap(got))
	}
	if !errors.Is(got, fs.ErrNotExist) {
		t.Error("errors.Is does not reach the cause's cause")
	}
	var pe *fs.PathError
	if !errors.As(got, &pe) || pe != cause {
		t.Error("errors.As does not find the cause")
	}
}
