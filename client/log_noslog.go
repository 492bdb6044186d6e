//go:build linnet_noslog

package client

import "github.com/linnet-mqtt/linnet/internal/nolog"

// Logger is the type of the logger of a client (Options.Logger). This build
// has the linnet_noslog tag: Logger discards everything and log/slog is not
// linked in. Without the tag it is log/slog's Logger.
type Logger = nolog.Logger

// discardLogger is the logger used when none is given: nil works.
var discardLogger *Logger
