package client

import (
	"strings"
	"sync/atomic"

	"github.com/linnet-mqtt/linnet/store"
)

// Persistence as the client uses it (Paho's persistence in ClientComms):
// the session writes every record; PublishAsync stages outbound messages on
// the publisher's goroutine (Session.Stage); and with a store that syncs,
// the state owner makes the records a packet depends on durable before it
// sends the packet (comms.pump), without waiting for the disk itself.

// countingStore is the store as the session sees it: it counts the Puts a
// packet depends on (s-, sc- and r- records), so that the state owner
// knows when such records were written since its last sync. sb- records
// (staged, buffered or waiting messages) hold back no packet: a publisher
// that stages one syncs it itself. Removes need no sync (a removed record
// that comes back after a power loss is sent again or recognised as a
// duplicate).
type countingStore struct {
	store.Persistence
	puts atomic.Uint64
}

func (s *countingStore) Put(key string, data []byte) error {
	err := s.Persistence.Put(key, data)
	if !strings.HasPrefix(key, "sb-") {
		s.puts.Add(1)
	}
	return err
}

// syncResult is the outcome of the state owner's sync: every Put counted
// up to gen is durable, or err.
type syncResult struct {
	gen uint64
	err error
}

// needSync reports whether records were written since the last sync the
// state owner completed, so that packets depending on them must wait: the
// PUBLISH of a message admitted under s-<id>, the PUBREC of an inbound
// QoS 2 message under r-<id>, the PUBREL under sc-<id>. It starts a sync
// on a goroutine of its own if none runs. Meanwhile the receiver goes on
// reading ahead, but the state owner takes no new batch or request (they
// would write records the running sync does not cover, and the packets
// would wait for the next one, and so on); it takes them, and sends, when
// the result comes (syncDone).
func (m *comms) needSync() bool {
	s := m.c.syncer
	if s == nil {
		return false
	}
	gen := m.c.puts.puts.Load()
	if gen == m.synced {
		return false
	}
	if !m.syncing {
		m.syncing = true
		go func() { m.syncc <- syncResult{gen: gen, err: s.Sync()} }()
	}
	return true
}

// syncDone records the result of the state owner's sync. An error ends
// the connection: what was to be sent cannot be made durable.
func (m *comms) syncDone(r syncResult) error {
	m.syncing = false
	if r.err != nil {
		return r.err
	}
	m.synced = max(m.synced, r.gen)
	return nil
}
