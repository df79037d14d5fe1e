package iptables_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const applyPolicy = "flush ruleset\ntable t {\nchain c hook output policy drop {\noifname lo accept\nip6 daddr 2001:db8::1 accept\n}\n}\n"

// Apply, without root: both families are changed in place (--noflush),
// IPv4 first, and end as restoring the policy's output whole leaves them.
func TestApplyRestoresBothFamilies(t *testing.T) {
	p := load(t, applyPolicy)
	previous := []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:old - [0:0]\n-A INPUT -j old\n-A old -j DROP\nCOMMIT\n")
	fake := &iptables.Fake{Tables: map[string][]byte{"iptables-nft-save": previous}}
	require.NoError(t, iptables.ApplyWith(fake, p, iptables.ModeNFT))
	var names []string
	for _, c := range fake.Calls {
		names = append(names, c.Name)
		if strings.HasSuffix(c.Name, "-restore") {
			assert.Contains(t, c.Args, "--noflush", "a table replaced whole is deleted and made again: not closed")
		}
	}
	assert.Equal(t, []string{"iptables-nft-save", "ip6tables-nft-save", "iptables-nft-restore", "iptables-nft-restore", "ip6tables-nft-restore"}, names,
		"save both, set OUTPUT's policy to DROP first, then each family")
	for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
		o, err := iptables.Render(p, family)
		require.NoError(t, err)
		whole := &iptables.Fake{}
		name := map[ir.Family]string{ir.IPv4: "iptables-nft", ir.IPv6: "ip6tables-nft"}[family]
		require.NoError(t, whole.Do(func(run iptables.RunFunc) error { _, err := run(name+"-restore", o.Text); return err }))
		assert.Equal(t, string(whole.Tables[name+"-save"]), string(fake.Tables[name+"-save"]))
	}
}

// When ip6tables-restore refuses, the IPv4 rules that were already
// changed are put back: the filter tables end as they began.
func TestApplyRollsBackIPv4WhenIPv6Fails(t *testing.T) {
	previous := []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.1/32 -j DROP\nCOMMIT\n")
	fake := &iptables.Fake{
		Tables: map[string][]byte{"iptables-legacy-save": previous},
		Fail:   map[string]error{"ip6tables-legacy-restore": errors.New("line 7 failed")},
	}
	err := iptables.ApplyWith(fake, load(t, applyPolicy), iptables.ModeLegacy)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 7 failed")
	assert.Equal(t, string(previous), string(fake.Tables["iptables-legacy-save"]), "the IPv4 rules are the previous ones again")
	last := fake.Calls[len(fake.Calls)-1]
	assert.Equal(t, "iptables-legacy-restore", last.Name)
	assert.Contains(t, last.Args, "--noflush", "put back in place")
}

// A refused line is traced back to the policy line it came from.
func TestApplyNamesTheRefusedLine(t *testing.T) {
	fake := &iptables.Fake{Refuse: map[string]string{"iptables-nft-restore": "-A OUTPUT -o lo"}}
	err := iptables.ApplyWith(fake, load(t, applyPolicy), iptables.ModeNFT)
	var ae *iptables.ApplyError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "t.ks:4:1", ae.Pos.String())
	assert.Equal(t, "-A OUTPUT -o lo -j ACCEPT", ae.Line)
}

// Beside other programs' rules, the jump into each of ksc's chains is
// made the first rule of its builtin chain again when another program put
// its rules above it (a Docker restart), and added when missing; one
// already first is left alone.
func TestApplyPutsTheJumpsFirst(t *testing.T) {
	p := load(t, "table t {\nchain c hook forward policy drop {\niifname eth1 accept\n}\nchain o hook output policy drop {\noifname lo accept\n}\n}\n")
	previous := []byte("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER-USER - [0:0]\n:KSC-FORWARD - [0:0]\n:KSC-OUTPUT - [0:0]\n" +
		"-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j ACCEPT\n-A FORWARD -j KSC-FORWARD\n" +
		"-A OUTPUT -j KSC-OUTPUT\n-A OUTPUT -o lo -j ACCEPT\n" +
		"-A KSC-FORWARD -j DROP\n-A KSC-OUTPUT -j DROP\nCOMMIT\n")
	fake := &iptables.Fake{Tables: map[string][]byte{"iptables-nft-save": previous}}
	require.NoError(t, iptables.ApplyWith(fake, p, iptables.ModeNFT))
	saved := string(fake.Tables["iptables-nft-save"])
	assert.Contains(t, saved, "-A FORWARD -j KSC-FORWARD\n-A FORWARD -j DOCKER-USER\n-A FORWARD -o docker0 -j ACCEPT\n")
	assert.Contains(t, saved, "-A OUTPUT -j KSC-OUTPUT\n-A OUTPUT -o lo -j ACCEPT\n")
	assert.Equal(t, 1, strings.Count(saved, "-j KSC-FORWARD"))
	assert.Equal(t, 1, strings.Count(saved, "-j KSC-OUTPUT"))
	v6 := string(fake.Tables["ip6tables-nft-save"])
	assert.Contains(t, v6, "-A FORWARD -j KSC-FORWARD\n", "added where missing")
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

// Beside other programs' rules, ksc's chains in the nat, mangle and raw
// tables come and go with the policy: a policy that no longer writes a
// table takes ksc's chains and jumps out of it, and RemoveOwned takes
// them out of every table; Docker's nat rules stay through both.
func TestOwnChainsLeaveTheTablesAPolicyNoLongerWrites(t *testing.T) {
	docker := "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n" +
		"-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\nCOMMIT\n"
	fake := &iptables.Fake{Tables: map[string][]byte{"iptables-nft-save": []byte(docker)}}
	everyTable := load(t, "table ip t {\nchain r hook prerouting priority raw {\nudp dport 9 drop\n}\n"+
		"chain n type nat hook postrouting priority srcnat {\noifname eth0 masquerade\n}\n"+
		"chain m hook prerouting priority mangle {\ntcp dport 23 drop\n}\n"+
		"chain o hook output policy drop {\noifname lo accept\n}\n}\n")
	require.NoError(t, iptables.ApplyWith(fake, everyTable, iptables.ModeNFT))
	saved := string(fake.Tables["iptables-nft-save"])
	for _, want := range []string{"-A POSTROUTING -j KSC-POSTROUTING\n-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n",
		"-A KSC-POSTROUTING -o eth0 -j MASQUERADE\n", "*raw\n", "-A KSC-PREROUTING -p udp -m udp --dport 9 -j DROP\n", "-A KSC-PREROUTING -p tcp -m tcp --dport 23 -j DROP\n"} {
		assert.Contains(t, saved, want)
	}

	filterOnly := load(t, "table ip t {\nchain o hook output policy drop {\noifname lo accept\n}\n}\n")
	require.NoError(t, iptables.ApplyWith(fake, filterOnly, iptables.ModeNFT))
	saved = string(fake.Tables["iptables-nft-save"])
	assert.Equal(t, 1, strings.Count(saved, "KSC-OUTPUT - [0:0]"), "only the filter table's chains are left: %s", saved)
	assert.NotContains(t, saved, "KSC-PREROUTING")
	assert.NotContains(t, saved, "KSC-POSTROUTING")
	assert.Contains(t, saved, "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n")

	require.NoError(t, iptables.ApplyWith(fake, everyTable, iptables.ModeNFT))
	require.NoError(t, iptables.RemoveOwnedWith(fake, iptables.ModeNFT))
	saved = string(fake.Tables["iptables-nft-save"])
	assert.NotContains(t, saved, "KSC-")
	assert.Contains(t, saved, ":DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n")
}
