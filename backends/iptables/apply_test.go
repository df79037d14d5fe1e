package iptables_test

import (
	"errors"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const applyPolicy = "flush ruleset\ntable t {\nchain c hook output policy drop {\noifname lo accept\nip6 daddr 2001:db8::1 accept\n}\n}\n"

// Apply, without root: both families are restored in order, IPv4 first.
func TestApplyRestoresBothFamilies(t *testing.T) {
	p := load(t, applyPolicy)
	fake := &iptables.Fake{Tables: map[string][]byte{"iptables-nft-save": []byte("*filter\nCOMMIT\n")}}
	require.NoError(t, iptables.ApplyWith(fake, p, iptables.ModeNFT))
	var names []string
	for _, c := range fake.Calls {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"iptables-nft-save", "iptables-nft-restore", "ip6tables-nft-restore"}, names)
	v4, err := iptables.Render(p, ir.IPv4)
	require.NoError(t, err)
	assert.Equal(t, v4.Text, fake.Tables["iptables-nft-save"])
}

// When ip6tables-restore refuses, the IPv4 rules that were already
// replaced are put back: the filter tables end as they began.
func TestApplyRollsBackIPv4WhenIPv6Fails(t *testing.T) {
	previous := []byte("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.1/32 -j DROP\nCOMMIT\n")
	fake := &iptables.Fake{
		Tables: map[string][]byte{"iptables-legacy-save": previous},
		Fail:   map[string]error{"ip6tables-legacy-restore": errors.New("line 7 failed")},
	}
	err := iptables.ApplyWith(fake, load(t, applyPolicy), iptables.ModeLegacy)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 7 failed")
	assert.Equal(t, previous, fake.Tables["iptables-legacy-save"], "the IPv4 rules are the previous ones again")
	last := fake.Calls[len(fake.Calls)-1]
	assert.Equal(t, "iptables-legacy-restore", last.Name)
	assert.Equal(t, previous, last.Stdin)
}

// A refused line is traced back to the policy line it came from.
func TestApplyNamesTheRefusedLine(t *testing.T) {
	fake := &iptables.Fake{Fail: map[string]error{"iptables-nft-restore": errors.New("line 7 failed")}}
	err := iptables.ApplyWith(fake, load(t, applyPolicy), iptables.ModeNFT)
	var ae *iptables.ApplyError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "t.ks:4:1", ae.Pos.String())
	assert.Equal(t, "-A OUTPUT -o lo -j ACCEPT", ae.Line)
}

// Remove replaces each family's table in one step, and puts IPv4 back when
// IPv6 fails: never one family open and the other closed.
func TestRemoveRollsBackIPv4WhenIPv6Fails(t *testing.T) {
	previous := []byte("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n")
	fake := &iptables.Fake{
		Tables: map[string][]byte{"iptables-nft-save": previous},
		Fail:   map[string]error{"ip6tables-nft-restore": errors.New("permission denied")},
	}
	err := iptables.RemoveWith(fake, iptables.ModeNFT, []string{"filter"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the IPv4 rules are back as they were")
	assert.Equal(t, previous, fake.Tables["iptables-nft-save"])

	ok := &iptables.Fake{Tables: map[string][]byte{"iptables-nft-save": previous}}
	require.NoError(t, iptables.RemoveWith(ok, iptables.ModeNFT, []string{"filter"}))
	assert.Contains(t, string(ok.Tables["iptables-nft-save"]), ":OUTPUT ACCEPT")
	assert.Contains(t, string(ok.Tables["ip6tables-nft-save"]), ":OUTPUT ACCEPT")
}
