//go:build !linnet_noslog

package dms

import "log/slog"

// Logger is the type of the logger of an Agent, a Prober and a Simulator
// (Config.Logger...): log/slog's Logger. In builds with the linnet_noslog
// tag it is a type with the same logging methods that discards everything,
// so that log/slog stays out of a constrained device's binary; there the
// only logger to pass is nil. It is client.Logger too, so the agent hands
// its logger to the MQTT clients it makes.
type Logger = slog.Logger

// discardLogger returns the logger used when none is given.
func discardLogger() *Logger { return slog.New(slog.DiscardHandler) }
