// Package nolog is the logger of builds with the linnet_noslog tag. Its
// Logger has the methods of *slog.Logger that Linnet's library packages
// call, and they all do nothing, so that such a build leaves out log/slog
// and what it brings along (fmt, reflect, encoding/json): about 0.4 MB of a
// constrained device's binary. A nil *Logger is ready to use.
//
// Library packages do not import it directly: each names its logger type
// Logger, an alias of slog.Logger by default and of nolog.Logger under the
// tag, so that the same code compiles both ways.
package nolog

import "context"

// Logger discards every record. Its zero value and a nil pointer both work.
type Logger struct{}

// Debug does nothing.
func (*Logger) Debug(msg string, args ...any) {}

// Info does nothing.
func (*Logger) Info(msg string, args ...any) {}

// Warn does nothing.
func (*Logger) Warn(msg string, args ...any) {}

// Error does nothing.
func (*Logger) Error(msg string, args ...any) {}

// DebugContext does nothing.
func (*Logger) DebugContext(ctx context.Context, msg string, args ...any) {}

// InfoContext does nothing.
func (*Logger) InfoContext(ctx context.Context, msg string, args ...any) {}

// WarnContext does nothing.
func (*Logger) WarnContext(ctx context.Context, msg string, args ...any) {}

// ErrorContext does nothing.
func (*Logger) ErrorContext(ctx context.Context, msg string, args ...any) {}
