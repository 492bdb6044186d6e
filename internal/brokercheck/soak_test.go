package brokercheck

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

// TestVerdictsDeterministic runs the whole suite ten times at -parallel 1,
// 4 and 16 against mochi, mosquitto and aedes (the ten runs of a level at once,
// each with its own prefix) and requires the same status and rule for
// every check in every run, except the checks unstableVerdicts lists for
// a broker, which may pass or fail on their rule (each failure is
// logged). It takes about a minute, so it runs only when
// LINNET_CONFORMANCE_SOAK=1 (.ci/run sets it).
func TestVerdictsDeterministic(t *testing.T) {
	if os.Getenv("LINNET_CONFORMANCE_SOAK") != "1" {
		t.Skip("set LINNET_CONFORMANCE_SOAK=1 to run the suite 10 times at -parallel 1, 4 and 16")
	}
	brokers := map[string]string{"mochi": startMochi(t)}
	if _, ok := testbroker.MosquittoPath(); ok {
		brokers["mosquitto"] = startMosquitto(t)
	} else if os.Getenv("LINNET_REQUIRE_MOSQUITTO") == "1" {
		t.Fatal("mosquitto is not installed and LINNET_REQUIRE_MOSQUITTO=1")
	}
	if err := testbroker.AedesAvailable(); err == nil {
		brokers["aedes"] = testbroker.StartAedes(t, testbroker.AedesConfig{RefusedFilter: refusedFilter}).URI()
	} else if os.Getenv("LINNET_REQUIRE_AEDES") == "1" {
		t.Fatalf("aedes is not available and LINNET_REQUIRE_AEDES=1: %v", err)
	}
	for name, uri := range brokers {
		t.Run(name, func(t *testing.T) {
			var first []Result
			for _, parallel := range []int{1, 4, 16} {
				runs := make([][]Result, 10)
				var wg sync.WaitGroup
				for i := range runs {
					wg.Go(func() {
						res, err := Run(context.Background(), Config{URI: uri, Parallel: parallel,
							Prefix: fmt.Sprintf("lntsoak%dp%d", i, parallel), RefusedFilter: refusedFilter}, Checks())
						if err == nil {
							runs[i] = res
						}
					})
				}
				wg.Wait()
				for i, res := range runs {
					require.Len(t, res, len(Checks()))
					if first == nil {
						first = res
					}
					for j, r := range res {
						f := first[j]
						if u, ok := unstableVerdicts[name][r.Name]; ok {
							// Listed as flipping: pass, or fail on its rule.
							if r.Status != Pass && (r.Status != Fail || r.Rule != u.rule) {
								t.Errorf("%s at -parallel %d, run %d: %s is %s %s, listed as unstable with a failure of %s\n%s\n%v",
									name, parallel, i, r.Name, r.Status, r.Rule, u.rule, r.Reason, r.Transcript)
							} else if r.Status == Fail {
								t.Logf("%s at -parallel %d, run %d: %s fails (listed as unstable)", name, parallel, i, r.Name)
							}
							continue
						}
						if r.Status != f.Status || r.Rule != f.Rule {
							t.Errorf("%s at -parallel %d, run %d: %s is %s %s, first run %s %s\n%s\n%v",
								name, parallel, i, r.Name, r.Status, r.Rule, f.Status, f.Rule, r.Reason, r.Transcript)
						}
					}
				}
			}
		})
	}
}
