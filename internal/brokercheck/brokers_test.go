package brokercheck

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/linnet-mqtt/linnet/internal/conformance"
	"github.com/linnet-mqtt/linnet/internal/mochistop"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/linnet-mqtt/linnet/internal/testbroker"
)

var update = flag.Bool("update", false, "record the broker results in testdata/conformance/brokers.json")

// refusedFilter is the filter both test brokers are configured to refuse.
const refusedFilter = "refused/#"

// knownFailures are the checks a broker fails for a real reason, with the
// reason. A check listed here must fail; one not listed must pass (or be
// skipped, as recorded). Reasons end up in CONFORMANCE.md.
var knownFailures = map[string]map[string]string{
	"mochi": {
		"zero-length-client-id-persistent": "mochi v2.7.9 refuses an empty client id with CleanSession=0 with CONNACK 0x80, an MQTT 5 reason code that MQTT 3.1.1 reserves, instead of 0x02",
		"bad-protocol-name":                "mochi v2.7.9 answers the protocol name MQTX with CONNACK 0x82, an MQTT 5 reason code that MQTT 3.1.1 reserves (§3.2.2.3)",
		"bad-protocol-level":               "mochi v2.7.9 answers protocol level 6 with CONNACK 0x82 (MQTT 5 'protocol error'), not 0x01",
		"connect-reserved-flag":            "mochi v2.7.9 answers a CONNECT with the reserved flag set with CONNACK 0x82 before closing; MQTT 3.1.1 closes without CONNACK",
		"session-takeover":                 "mochi v2.7.9 sends DISCONNECT (a packet only clients send in MQTT 3.1.1; MQTT 5 servers send it) to the older connection of a client id that connects again, then closes it",
		"subscribe-invalid-filters":        "mochi v2.7.9 grants the filter a# (a # that does not follow a /) with SUBACK 0x00",
	},
	"mosquitto": {
		"reserved-flags-pingreq":            "mosquitto 2.0.11 does not check the fixed-header flags of PINGREQ: it answers a PINGREQ with flags 0001 with PINGRESP",
		"overlapping-subscriptions":         "mosquitto 2.0.11 delivers a QoS 2 message to x/# at QoS 2 and x/+ at QoS 0 as one copy at QoS 0: it takes the QoS of the last matching subscription, not the highest",
		"interop-overlapping-subscriptions": "mosquitto 2.0.11 delivers a QoS 2 message to T/# at QoS 2 and T/+ at QoS 1 as one copy at QoS 1, the verdict of Paho's test_overlapping_subscriptions",
	},
}

// clock is the time column of a transcript line, dropped from the record
// so that re-recording changes only what changed.
var clock = regexp.MustCompile(`^\s*\d+\.\d+s `)

func brokersFile(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Join(dir, "..", "..", "testdata", "conformance", "brokers.json")
}

// readRecords reads what earlier runs recorded, in the format
// internal/conformance renders into CONFORMANCE.md.
func readRecords(t *testing.T) []conformance.BrokerRecord {
	t.Helper()
	recs, err := conformance.ReadBrokers(brokersFile(t))
	require.NoError(t, err)
	return recs
}

// checkAgainstRecord compares a run with the known failures and with the
// recorded results, or records it with -update.
func checkAgainstRecord(t *testing.T, broker, version string, results []Result) {
	t.Helper()
	known := knownFailures[broker]
	rec := conformance.BrokerRecord{Broker: broker, Version: version}
	for _, r := range results {
		e := conformance.BrokerCheck{Name: r.Name, Rules: r.Rules, Status: string(r.Status), Rule: r.Rule}
		switch r.Status {
		case Fail, Timeout:
			why, ok := known[r.Name]
			if !ok {
				t.Errorf("%s: %s %s, which is not a known failure: %s [%s]\n%s", broker, r.Status, r.Name, r.Reason, r.Rule,
					strings.Join(r.Transcript, "\n"))
			}
			e.Reason = why
			for _, l := range r.Transcript {
				e.Packets = append(e.Packets, clock.ReplaceAllString(l, ""))
			}
		case Pass:
			if why, ok := known[r.Name]; ok {
				t.Errorf("%s now passes %s, listed as a known failure (%s): remove it from knownFailures", broker, r.Name, why)
			}
		case Skip:
			e.Reason = r.Reason
		}
		rec.Results = append(rec.Results, e)
	}
	recs := readRecords(t)
	i := 0
	for i < len(recs) && recs[i].Broker != broker {
		i++
	}
	if *update {
		if i == len(recs) {
			recs = append(recs, rec)
		} else {
			recs[i] = rec
		}
		b, err := json.MarshalIndent(recs, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(brokersFile(t), append(b, '\n'), 0o644))
		return
	}
	require.Less(t, i, len(recs), "no recorded results for %s; run: go test ./internal/brokercheck -update", broker)
	old := recs[i]
	if old.Version != version {
		t.Errorf("results were recorded for %s %s, this is %s; re-record with -update", broker, old.Version, version)
	}
	was := make(map[string]conformance.BrokerCheck, len(old.Results))
	for _, e := range old.Results {
		was[e.Name] = e
	}
	for _, e := range rec.Results {
		w, ok := was[e.Name]
		switch {
		case !ok:
			t.Errorf("%s: check %s has no recorded result; re-record with -update", broker, e.Name)
		case w.Status != e.Status || w.Rule != e.Rule:
			t.Errorf("%s: check %s changed from %s %s to %s %s; fix the cause or re-record with -update", broker, e.Name, w.Status, w.Rule, e.Status, e.Rule)
		}
		delete(was, e.Name)
	}
	for name := range was {
		t.Errorf("%s: recorded check %s no longer exists; re-record with -update", broker, name)
	}
}

func logTable(t *testing.T, results []Result) {
	var b strings.Builder
	_ = WriteTable(&b, results)
	t.Log("\n" + b.String())
}

// TestBrokerMochi runs the whole suite against mochi-mqtt in process and
// compares the results with those recorded in testdata/conformance/brokers.json.
func TestBrokerMochi(t *testing.T) {
	uri := startMochi(t)
	start := time.Now()
	results, err := Run(context.Background(), Config{URI: uri, Prefix: "lntmochi", RefusedFilter: refusedFilter}, Checks())
	require.NoError(t, err)
	logTable(t, results)
	t.Logf("suite took %v", time.Since(start).Round(time.Millisecond))
	checkAgainstRecord(t, "mochi", mochiVersion(), results)
}

// TestBrokerMosquitto runs the whole suite against a mosquitto process
// whose dynamic-security plugin refuses refusedFilter, and compares the
// results with those recorded.
func TestBrokerMosquitto(t *testing.T) {
	testbroker.RequireMosquitto(t)
	uri := startMosquitto(t)
	start := time.Now()
	results, err := Run(context.Background(), Config{URI: uri, Prefix: "lntmosq", RefusedFilter: refusedFilter}, Checks())
	require.NoError(t, err)
	logTable(t, results)
	t.Logf("suite took %v", time.Since(start).Round(time.Millisecond))
	checkAgainstRecord(t, "mosquitto", mosquittoVersion(t), results)
}

// startMosquitto starts mosquitto with the dynamic-security plugin set to
// refuse subscriptions to refusedFilter and returns its URI.
func startMosquitto(t *testing.T) string {
	plugin := dynsecPlugin()
	if plugin == "" {
		t.Fatal("mosquitto is installed without mosquitto_dynamic_security.so; the Debian package ships it")
	}
	dir := t.TempDir()
	dynsec := filepath.Join(dir, "dynsec.json")
	require.NoError(t, os.WriteFile(dynsec, []byte(`{
  "defaultACLAccess": {"publishClientSend": true, "publishClientReceive": true, "subscribe": true, "unsubscribe": true},
  "clients": [],
  "groups": [{"groupname": "anonymous", "roles": [{"rolename": "refuse"}]}],
  "roles": [{"rolename": "refuse", "acls": [{"acltype": "subscribePattern", "topic": "`+refusedFilter+`", "priority": 0, "allow": false}]}],
  "anonymousGroup": "anonymous"
}
`), 0o600))
	m := testbroker.StartMosquitto(t, testbroker.MosquittoConfig{Extra: []string{
		"plugin " + plugin,
		"plugin_opt_config_file " + dynsec,
	}})
	return m.URI()
}

func dynsecPlugin() string {
	for _, p := range []string{
		"/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/mosquitto_dynamic_security.so",
		"/usr/local/lib/mosquitto_dynamic_security.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func mosquittoVersion(t *testing.T) string {
	bin, _ := testbroker.MosquittoPath()
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits non-zero
	m := regexp.MustCompile(`mosquitto version (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("cannot tell the version of %s from: %s", bin, out)
	}
	return string(m[1])
}

func mochiVersion() string { return "v" + mqtt.Version }

// startMochi starts mochi-mqtt on 127.0.0.1 with a hook that accepts every
// client and refuses subscriptions to refusedFilter, and returns its URI.
func startMochi(t *testing.T) string {
	t.Helper()
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: false})
	require.NoError(t, s.AddHook(new(refuseHook), nil))
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	require.NoError(t, s.AddListener(tcp))
	require.NoError(t, s.Serve())
	t.Cleanup(func() { _ = mochistop.Close(s, tcp.ID()) }) // mochi's own Close can deadlock
	return fmt.Sprintf("tcp://%s", tcp.Address())
}

// refuseHook accepts every client and every topic except refusedFilter
// as a subscription.
type refuseHook struct{ mqtt.HookBase }

func (*refuseHook) ID() string { return "brokercheck-refuse" }
func (*refuseHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*refuseHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*refuseHook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	return write || topic != refusedFilter
}
