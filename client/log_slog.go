//go:build !linnet_noslog

package client

import "log/slog"

// Logger is the type of the logger of a client (Options.Logger): log/slog's
// Logger. In builds with the linnet_noslog tag it is a type with the same
// logging methods that discards everything, so that log/slog stays out of a
// constrained device's binary; there the only logger to pass is nil.
type Logger = slog.Logger

// discardLogger is the logger used when none is given.
var discardLogger = slog.New(slog.DiscardHandler)

// LogValue makes slog print String, so that a logged Options never shows
// the password.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// LogValue makes slog print String, so that a logged Client never shows a
// password.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }
