package testbroker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// ConnectPacket returns an MQTT 3.1.1 CONNECT packet, built by hand so that
// transport tests do not depend on the packet codec: clean session,
// keep-alive 60 s, the given client id (at most 100 bytes), no credentials.
func ConnectPacket(clientID string) []byte {
	body := []byte{
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x04,       // protocol level 4 = 3.1.1
		0x02,       // flags: clean session
		0x00, 0x3c, // keep-alive 60 s
		0x00, byte(len(clientID)),
	}
	body = append(body, clientID...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

// ConnackAccepted is the CONNACK of an accepted clean session.
var ConnackAccepted = []byte{0x20, 0x02, 0x00, 0x00}

// Handshake sends a CONNECT on conn and fails t unless the answer is
// ConnackAccepted within ten seconds. It leaves conn's deadline cleared.
func Handshake(t testing.TB, conn net.Conn, clientID string) {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(ConnectPacket(clientID)); err != nil {
		t.Fatalf("testbroker: writing CONNECT: %v", err)
	}
	got := make([]byte, len(ConnackAccepted))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("testbroker: reading CONNACK: %v", err)
	}
	if !bytes.Equal(got, ConnackAccepted) {
		t.Fatalf("testbroker: CONNACK % x, want % x", got, ConnackAccepted)
	}
}
