//go:build linnet_noslog

package dms

import (
	"log/slog"

	"github.com/linnet-mqtt/linnet/client"
)

// clientLogger is the logger dms hands to the clients it makes. With the
// linnet_noslog tag the client cannot take a *slog.Logger, so its records
// are dropped; dms's own records still go to l.
func clientLogger(*slog.Logger) *client.Logger { return nil }
