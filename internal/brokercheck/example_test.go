package brokercheck_test

import (
	"context"
	"fmt"
	"os"

	"github.com/linnet-mqtt/linnet/internal/brokercheck"
)

// Run the checks of §3.3.1 against a broker and print a table.
func Example() {
	checks, err := brokercheck.Select(brokercheck.Checks(), `MQTT-3\.3\.1-`)
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := brokercheck.Run(context.Background(), brokercheck.Config{URI: "tcp://127.0.0.1:1883"}, checks)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = brokercheck.WriteTable(os.Stdout, results)
	if brokercheck.Summarize(results).Failed > 0 {
		os.Exit(1)
	}
}
