//go:build linnet_noslog

package dms

import "github.com/linnet-mqtt/linnet/internal/nolog"

// Logger is the type of the logger of an Agent, a Prober and a Simulator
// (Config.Logger...). This build has the linnet_noslog tag: Logger discards
// everything and log/slog is not linked in. Without the tag it is
// log/slog's Logger.
type Logger = nolog.Logger

// discardLogger returns the logger used when none is given: nil works.
func discardLogger() *Logger { return nil }
