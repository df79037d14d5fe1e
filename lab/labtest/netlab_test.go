package labtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without a ruleset every probe must get through: otherwise a "blocked" in a
// firewall test could be the lab's fault rather than the firewall's.
func TestKillswitchLabPassesEverythingWithoutRules(t *testing.T) {
	Require(t)
	k := NewKillswitch(t)
	got, err := RunAll(k.Probes())
	require.NoError(t, err)
	for _, p := range k.Probes() {
		want := Answered
		if p.Dst.Addr().String() == "255.255.255.255" {
			// The reply to a broadcast comes from the server's own address,
			// which the client may or may not route back: only delivery counts.
			assert.Contains(t, []Outcome{Delivered, Answered}, got[p.Name], p.Name)
			continue
		}
		assert.Equal(t, want, got[p.Name], p.Name)
	}
}

// A drop-everything output chain must turn every outbound probe into Blocked.
func TestKillswitchLabSeesDrops(t *testing.T) {
	Require(t, "nft")
	k := NewKillswitch(t)
	out, err := k.Client.ExecInput("table inet t {\n\tchain o { type filter hook output priority 0; policy drop; }\n}\n", "nft", "-f", "-")
	require.NoError(t, err, out)
	got, err := RunAll(k.Probes())
	require.NoError(t, err)
	for _, p := range k.Probes() {
		if p.From == k.Client {
			assert.Equal(t, Blocked, got[p.Name], p.Name)
		}
	}
}

// The host guard compares rules, not the host's own traffic.
func TestGuardIgnoresCounters(t *testing.T) {
	tests := []struct{ before, after string }{
		{"\t\tcounter packets 12 bytes 3400 accept", "\t\tcounter packets 13 bytes 3460 accept"},
		{":INPUT ACCEPT [120:4000]", ":INPUT ACCEPT [0:0]"},
	}
	for _, tt := range tests {
		assert.Equal(t, withoutCounters(tt.before), withoutCounters(tt.after))
	}
	assert.NotEqual(t, withoutCounters("counter packets 1 bytes 2 accept"), withoutCounters("counter packets 1 bytes 2 drop"))
}
