package brokercheck

import (
	"testing"

	"github.com/linnet-mqtt/linnet/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
