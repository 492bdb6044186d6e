// Command minimal is the smallest useful DMS device: it runs the agent
// (redirect server, join-network, DMS server, heartbeat, RRPC echo) until
// its first heartbeat is acknowledged, then stops. TestMinimalAgentSize
// builds it to measure what the dms package costs in a binary.
package main

import (
	"context"
	"os"
	"time"

	"github.com/linnet-mqtt/linnet/dms"
)

func main() {
	if len(os.Args) != 3 {
		fail("usage: minimal REDIRECT-URI DEVICE-ID", 2)
	}
	result := make(chan error, 1)
	report := func(err error) {
		select {
		case result <- err:
		default:
		}
	}
	a, err := dms.NewAgent(dms.Config{
		DeviceID:          os.Args[2],
		RedirectServer:    os.Args[1],
		RRPC:              &dms.RRPCConfig{ProductKey: "pk", DeviceName: os.Args[2]},
		OnHeartbeatResult: report,
		OnTransition: func(tr dms.Transition) {
			if tr.Event.Kind == dms.EventConnectionFailed {
				report(tr.Event.Err)
			}
		},
	})
	if err != nil {
		fail(err.Error(), 2)
	}
	if err := a.Start(); err != nil {
		fail(err.Error(), 1)
	}
	select {
	case err = <-result:
	case <-time.After(20 * time.Second):
		err = dms.ErrTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := a.Stop(ctx); err == nil {
		err = serr
	}
	if err != nil {
		fail(err.Error(), 1)
	}
}

// fail prints msg and exits with code, without package fmt.
func fail(msg string, code int) {
	os.Stderr.WriteString(msg + "\n")
	os.Exit(code)
}
