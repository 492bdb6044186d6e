//go:build !linnet_notls

package transport_test

import (
	"context"
	"fmt"
	"time"

	"github.com/linnet-mqtt/linnet/transport"
)

func ExampleLoadTLSConfig() {
	// CA file, client certificate and key, as PEM; verification stays on.
	cfg, err := transport.LoadTLSConfig("ca.pem", "client.pem", "client-key.pem")
	if err != nil {
		fmt.Println("no certificates here:", err != nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, "mqtts://broker.example", transport.WithTLSConfig(cfg))
	if err == nil {
		conn.Close()
	}
	// Output: no certificates here: true
}
