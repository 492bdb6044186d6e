//go:build !linnet_noslog

package main

import (
	"log/slog"

	"github.com/linnet-mqtt/linnet/client"
)

// libLogger is the logger the command gives the library packages: its own.
// (client.Logger is transport.Logger, store.Logger and session.Logger too.)
func libLogger(l *slog.Logger) *client.Logger { return l }
