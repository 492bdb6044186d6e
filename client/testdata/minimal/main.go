// Command minimal connects over TCP, publishes one QoS 1 message and
// disconnects: the smallest useful Linnet program, built by
// TestMinimalBinarySize to measure what the client costs in a binary.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/linnet-mqtt/linnet/client"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: minimal tcp://host:port")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(client.Options{Servers: []string{os.Args[1]}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	if err := c.Connect(ctx); err == nil {
		err = c.Publish(ctx, "minimal", 1, false, []byte("hello"))
		if err == nil {
			err = c.Disconnect(ctx)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
