//go:build !linux

package client

import (
	"errors"
	"net"
)

// newWaiter returns nil: the reader pauses by sleeping on this system.
func newWaiter(net.Conn) *waiter { return nil }

func (w *waiter) setMark(int) error { return errors.ErrUnsupported }

func (w *waiter) ready(uintptr) bool { return true }
