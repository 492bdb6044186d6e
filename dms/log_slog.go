//go:build !linnet_noslog

package dms

import (
	"log/slog"

	"github.com/linnet-mqtt/linnet/client"
)

// clientLogger is the logger dms hands to the clients it makes: its own.
func clientLogger(l *slog.Logger) *client.Logger { return l }
