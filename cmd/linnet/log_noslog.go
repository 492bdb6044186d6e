//go:build linnet_noslog

package main

import (
	"log/slog"

	"github.com/linnet-mqtt/linnet/client"
)

// libLogger is the logger the command gives the library packages. Built
// with linnet_noslog they take none, so -d shows only the command's own
// messages.
func libLogger(*slog.Logger) *client.Logger { return nil }
