// Package mochistop shuts an embedded mochi-mqtt server down without
// running into a deadlock in mochi v2.7.9.
//
// mochi's Server.Close asks every listener to close its clients, and that
// path (Clients.GetByListener) takes the client table's read lock twice. If a
// client connection ends at that moment, its goroutine waits for the write
// lock between the two read locks and neither side can move: Close never
// returns. Tests and the demo stop brokers while clients are still
// reconnecting, so they met it.
//
// Close avoids the path: it closes the listeners named by ids without
// closing clients (mochi's listeners close their clients only on their first
// Close), stops every client itself, and only then calls Server.Close, whose
// listener pass has nothing left to do but wait for the clients' goroutines.
package mochistop

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// ErrServerClosing is the cause the clients of a closing server are stopped
// with.
var ErrServerClosing = errors.New("mochistop: server closing")

// Close shuts s down; ids are the ids of all its listeners (mochi does not
// list them). See the package documentation.
func Close(s *mqtt.Server, ids ...string) error {
	for _, id := range ids {
		s.Listeners.Close(id, func(string) {})
	}
	for _, cl := range s.Clients.GetAll() {
		cl.Stop(ErrServerClosing)
	}
	return s.Close()
}
