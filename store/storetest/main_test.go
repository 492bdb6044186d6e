package storetest_test

import (
	"testing"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
)

// The suite's concurrency check starts goroutines.
func TestMain(m *testing.M) { leaktest.Main(m) }
