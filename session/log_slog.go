//go:build !linnet_noslog

package session

import "log/slog"

// Logger is the type of the logger of a session (Options.Logger): log/slog's
// Logger. In builds with the linnet_noslog tag it is a type with the same
// logging methods that discards everything, so that log/slog stays out of a
// constrained device's binary; there the only logger to pass is nil.
type Logger = slog.Logger

// discardLogger is the logger used when none is given.
var discardLogger = slog.New(slog.DiscardHandler)
