package store_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/linnet-mqtt/linnet/store"
)

func ExampleNewMemory() {
	s := store.NewMemory()
	if err := s.Open("device-42", "tcp://127.0.0.1:1883"); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// Packet id 65535 was used before the ids wrapped around to 1.
	_ = s.Put("s-65535", []byte{0x32, 0x07})
	_ = s.Put("s-1", []byte{0x32, 0x07})
	_ = s.Put("sc-65535", []byte{0x62, 0x02, 0xff, 0xff})
	_ = s.Remove("s-65535")

	keys, _ := s.Keys()
	fmt.Println(keys)
	_, err := s.Get("s-65535")
	fmt.Println(err)
	// Output:
	// [s-1 sc-65535]
	// store: key not found
}

func ExampleNewFile() {
	base, err := os.MkdirTemp("", "linnet-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(base)

	s := store.NewFile(store.FileOptions{Dir: base})
	if err := s.Open("device-42", "ssl://127.0.0.1:8883"); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Put("r-7", []byte{0x34, 0x05}) // survives the death of the process once Put returns
	_ = s.Put("s-3", []byte{0x32, 0x05})
	if err := s.Sync(); err != nil { // both survive a power loss once Sync returns
		fmt.Println(err)
	}

	// A second store cannot open the same client while the first has it.
	err = store.NewFile(store.FileOptions{Dir: base}).Open("device-42", "ssl://127.0.0.1:8883")
	fmt.Println(errors.Is(err, store.ErrLocked))
	s.Close()

	// After a restart (or a crash) the records are back, in order.
	s = store.NewFile(store.FileOptions{Dir: base})
	if err := s.Open("device-42", "ssl://127.0.0.1:8883"); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	keys, _ := s.Keys()
	fmt.Println(keys, len(s.Quarantined()))
	// Output:
	// true
	// [r-7 s-3] 0
}
