package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/store"
)

// TestOptionsString pins the text of Options.String, which logs show: the
// literals are what it wrote with fmt before the package dropped fmt
// (issue 5), fmt's quoting of odd bytes, its ["a" "b"] form of the server
// list and Duration's "-1ns" for KeepAliveOff included.
func TestOptionsString(t *testing.T) {
	creds := func(context.Context, string) (string, []byte, error) { return "", nil, nil }
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{},
			`Options{Servers:[] ClientID:"" Username:"" Password:<redacted len=0> PersistentSession:false KeepAlive:0s PingTimeout:0s ConnectTimeout:0s Version:auto MaxInFlight:0 OfflineBuffer:0 AutoReconnect:false ConnectRetry:false ManualAcks:false Will:false Credentials:false}`},
		{Options{Servers: []string{"tcp://h:1"}, Username: "u", Password: []byte("hunter2"), Will: &Will{Topic: "w"}},
			`Options{Servers:["tcp://h:1"] ClientID:"" Username:"u" Password:<redacted len=7> PersistentSession:false KeepAlive:0s PingTimeout:0s ConnectTimeout:0s Version:auto MaxInFlight:0 OfflineBuffer:0 AutoReconnect:false ConnectRetry:false ManualAcks:false Will:true Credentials:false}`},
		{Options{Servers: []string{"tcp://a:1883", "ws://b/\"mqtt\"", "\xff\u00e9\t"}, ClientID: "dev-\"1\"\n", Username: "\x00",
			PersistentSession: true, KeepAlive: KeepAliveOff, PingTimeout: 1500 * time.Millisecond,
			ConnectTimeout: time.Hour + time.Minute, Version: Version31, MaxInFlight: 65535, OfflineBuffer: -3,
			AutoReconnect: true, ConnectRetry: true, ManualAcks: true, Credentials: creds},
			`Options{Servers:["tcp://a:1883" "ws://b/\"mqtt\"" "\xffé\t"] ClientID:"dev-\"1\"\n" Username:"\x00" Password:<redacted len=0> PersistentSession:true KeepAlive:-1ns PingTimeout:1.5s ConnectTimeout:1h1m0s Version:3.1 MaxInFlight:65535 OfflineBuffer:-3 AutoReconnect:true ConnectRetry:true ManualAcks:true Will:false Credentials:true}`},
		{Options{Servers: []string{}, Version: Version311, KeepAlive: 90 * time.Second, MaxInFlight: -1},
			`Options{Servers:[] ClientID:"" Username:"" Password:<redacted len=0> PersistentSession:false KeepAlive:1m30s PingTimeout:0s ConnectTimeout:0s Version:3.1.1 MaxInFlight:-1 OfflineBuffer:0 AutoReconnect:false ConnectRetry:false ManualAcks:false Will:false Credentials:false}`},
		{Options{Version: 9, Password: []byte{}},
			`Options{Servers:[] ClientID:"" Username:"" Password:<redacted len=0> PersistentSession:false KeepAlive:0s PingTimeout:0s ConnectTimeout:0s Version:Version(9) MaxInFlight:0 OfflineBuffer:0 AutoReconnect:false ConnectRetry:false ManualAcks:false Will:false Credentials:false}`},
	} {
		require.Equal(t, c.want, c.o.String())
		require.Equal(t, c.want, c.o.GoString())
	}
}

// failingOpenStore is a memory store whose Open or Keys fails.
type failingOpenStore struct {
	*store.Memory
	open, keys error
}

func (f *failingOpenStore) Open(clientID, serverURI string) error {
	if f.open != nil {
		return f.open
	}
	return f.Memory.Open(clientID, serverURI)
}

func (f *failingOpenStore) Keys() ([]string, error) {
	if f.keys != nil {
		return nil, f.keys
	}
	return f.Memory.Keys()
}

// TestNewStoreErrors pins the text and the chain of New's errors when the
// store cannot be opened or the session cannot be restored from it: the
// literals are what New wrote with fmt.Errorf before the package dropped
// fmt (issue 5).
func TestNewStoreErrors(t *testing.T) {
	noDisk, noIndex := errors.New("no disk"), errors.New("no index")
	for _, c := range []struct {
		st    *failingOpenStore
		cause error
		want  string
	}{
		{&failingOpenStore{Memory: store.NewMemory(), open: noDisk}, noDisk,
			`mqtt: opening the persistence store: no disk`},
		{&failingOpenStore{Memory: store.NewMemory(), keys: noIndex}, noIndex,
			`mqtt: restoring the session: session: listing the store: no index`},
	} {
		_, err := New(Options{Servers: []string{"tcp://127.0.0.1:1"}, Persistence: c.st})
		require.EqualError(t, err, c.want)
		require.ErrorIs(t, err, c.cause)
		require.NotNil(t, errors.Unwrap(err))
	}
}
