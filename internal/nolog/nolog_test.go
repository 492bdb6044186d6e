package nolog_test

import (
	"context"
	"testing"

	"github.com/linnet-mqtt/linnet/internal/nolog"
)

// TestNilLogger checks that every method can be called on a nil *Logger, the
// discarding default of linnet_noslog builds, and that none allocates.
func TestNilLogger(t *testing.T) {
	var l *nolog.Logger
	ctx := context.Background()
	n := testing.AllocsPerRun(100, func() {
		l.Debug("m", "k", 1)
		l.Info("m", "k", "v")
		l.Warn("m", "err", context.Canceled)
		l.Error("m")
		l.DebugContext(ctx, "m", "k", 1)
		l.InfoContext(ctx, "m")
		l.WarnContext(ctx, "m", "k", 2.5)
		l.ErrorContext(ctx, "m")
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
