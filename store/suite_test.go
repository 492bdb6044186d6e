package store_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/store"
	"github.com/linnet-mqtt/linnet/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, storetest.Config{
		New:        func(*testing.T, string) store.Persistence { return store.NewMemory() },
		Persistent: false,
	})
}

func TestFile(t *testing.T) {
	storetest.Run(t, storetest.Config{
		New: func(_ *testing.T, dir string) store.Persistence {
			return store.NewFile(store.FileOptions{Dir: dir})
		},
		Persistent: true,
		Crash:      func(s store.Persistence) { s.(*store.File).CrashClose() },
	})
}

func TestFileNoSync(t *testing.T) {
	storetest.Run(t, storetest.Config{
		New: func(_ *testing.T, dir string) store.Persistence {
			return store.NewFile(store.FileOptions{Dir: dir, NoSync: true})
		},
		Persistent: true,
		Crash:      func(s store.Persistence) { s.(*store.File).CrashClose() },
	})
}
