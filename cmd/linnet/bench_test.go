package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchEmbedded runs a small bench against the embedded broker: every
// QoS 1 message arrives at both subscribers, the latency percentiles are
// ordered, the idle footprint is measured; and the table names each part.
func TestBenchEmbedded(t *testing.T) {
	r := linnet(t, "", "bench", "-q", "1", "-pubs", "2", "-subs", "2", "-n", "300", "-inflight", "10",
		"-rtt", "50", "-idle", "10", "--format", "json")
	requireExit(t, r, exitOK, "")
	var res benchResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
	require.True(t, res.Embedded)
	require.Equal(t, int64(600), res.Throughput.Published)
	require.Equal(t, int64(1200), res.Throughput.Expected)
	require.Equal(t, int64(1200), res.Throughput.Received)
	require.Zero(t, res.Throughput.Lost)
	l := res.Latency
	require.Equal(t, 50, l.Count)
	require.True(t, l.MinUs > 0 && l.MinUs <= l.P50Us && l.P50Us <= l.P90Us && l.P90Us <= l.P99Us && l.P99Us <= l.MaxUs, "%+v", l)
	require.Equal(t, 10, res.Idle.Connections)
	// A connected linnet client runs its reader and loop; the dispatcher
	// runs only while it has work, so an idle client has two or three.
	require.True(t, res.Idle.ClientGoroutinesPer >= 2 && res.Idle.ClientGoroutinesPer <= 3,
		"goroutines per idle client: %v", res.Idle.ClientGoroutinesPer)
	require.Greater(t, res.Idle.ClientHeapBytesPer, 0.0)

	r = linnet(t, "", "bench", "-q", "0", "-n", "200", "-rtt", "10", "-idle", "3")
	requireExit(t, r, exitOK, "")
	for _, want := range []string{"(embedded mochi-mqtt)", "throughput  QoS 0", "published", "received",
		"latency     10 round trips", "p99.9", "idle        3 connections", "linnet client", "whole process"} {
		require.Contains(t, r.stdout, want)
	}
	require.NotContains(t, r.stdout, "\r", "no progress line when stdout is not a terminal")
}

// TestBenchDuration checks that -duration bounds the throughput and latency
// phases when -n and -rtt would take far longer.
func TestBenchDuration(t *testing.T) {
	r := linnet(t, "", "bench", "-mode", "throughput,latency", "-q", "1", "-n", "100000000", "-rtt", "100000000",
		"-duration", "300ms", "--format", "json")
	requireExit(t, r, exitOK, "")
	var res benchResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
	require.True(t, res.Throughput.StoppedByTime)
	require.Less(t, res.Throughput.Published, int64(100000000))
	require.Equal(t, res.Throughput.Published, res.Throughput.Received, "QoS 1: nothing lost")
	require.Less(t, res.Latency.Count, 100000000)
	require.Greater(t, res.Latency.Count, 0)
	require.Nil(t, res.Idle)
}
