// Command minimal connects over TCP, publishes one QoS 1 message and
// disconnects: the smallest useful Linnet program, built by
// TestMinimalBinarySize to measure what the client costs in a binary.
package main

import (
	"context"
	"os"
	"time"

	"github.com/linnet-mqtt/linnet/client"
)

func main() {
	if len(os.Args) != 2 {
		fail("usage: minimal tcp://host:port", 2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(client.Options{Servers: []string{os.Args[1]}})
	if err != nil {
		fail(err.Error(), 1)
	}
	err = c.Connect(ctx)
	if err == nil {
		err = c.Publish(ctx, "minimal", 1, false, []byte("hello"))
	}
	if err == nil {
		err = c.Disconnect(ctx)
	}
	c.Close()
	if err != nil {
		fail(err.Error(), 1)
	}
}

// fail prints msg and exits with code. It writes to os.Stderr directly:
// package fmt would add about 0.2 MB to a program this small.
func fail(msg string, code int) {
	os.Stderr.WriteString(msg + "\n")
	os.Exit(code)
}
