package lang_test

import (
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nft's other spellings of ksc's fields and values mean what ksc's own do.
func TestOtherSpellingsMeanTheSame(t *testing.T) {
	for _, tc := range []struct{ other, own string }{
		{`meta iifname "lo" meta oifname "lo" accept`, `iifname "lo" oifname "lo" accept`},
		{`meta oifname "eth0" drop`, `oifname "eth0" drop`},
		{"mark 0x1 accept", "meta mark 0x1 accept"},
		{"skuid 0 accept", "meta skuid 0 accept"},
		{"skgid 0 accept", "meta skgid 0 accept"},
		{"pkttype broadcast drop", "meta pkttype broadcast drop"},
		{"meta protocol ip accept", "meta nfproto ipv4 accept"},
		{"meta protocol != ip6 accept", "meta nfproto != ipv6 accept"},
		{"meta protocol { ip, ip6 } accept", "meta nfproto { ipv4, ipv6 } accept"},
		{"tcp dport { ssh, https, domain } accept", "tcp dport { 22, 443, 53 } accept"},
		{"udp dport { ntp, bootps } accept", "udp dport { 123, 67 } accept"},
		{"tcp flags syn / syn,rst accept", "tcp flags & (syn|rst) == syn accept"},
		{"tcp flags syn,ack / syn,ack,rst accept", "tcp flags & (syn|ack|rst) == syn|ack accept"},
		{"tcp flags & (syn | ack) == (syn | ack) accept", "tcp flags & (syn|ack) == syn|ack accept"},
		{"tcp flags & (fin | syn | rst | ack) syn accept", "tcp flags & (fin|syn|rst|ack) == syn accept"},
		{"tcp flags != syn / fin,syn drop", "tcp flags & (fin|syn) != syn drop"},
		{"ip protocol comp accept", "ip protocol 108 accept"},
		{"meta skuid \"root\" accept", "meta skuid 0 accept"},
		{"limit rate 1 kbytes / second", "limit rate 1024 bytes/second"},
		// Defines wherever a statement takes a number.
		{"limit rate over $RATE/minute burst $BURST packets drop", "limit rate over 5/minute burst 7 packets drop"},
		{"ct count over $CONNS drop", "ct count over 3 drop"},
		// nft folds a constant's bit operations.
		{"meta mark set 0xffffffc8 xor 0x16", "meta mark set 0xffffffde"},
		{"meta mark set 0x16 and 0x6 or 0x100", "meta mark set 0x106"},
	} {
		load := func(rule string) string {
			src := "define RATE = 5\ndefine BURST = 7\ndefine CONNS = 3\ntable inet t {\nchain c hook postrouting {\n" + rule + "\n}\n}\n"
			p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
			require.False(t, ds.HasErrors(), "%s: %v", rule, ds)
			require.Len(t, p.Tables[0].Chains[0].Rules, 1, rule)
			return describe(p.Tables[0].Chains[0].Rules[0])
		}
		assert.Equal(t, load(tc.own), load(tc.other), tc.other)
	}
}

// nft's meter is a limit for each key kept in a dynamic set of its name:
// what the declared set and "add @NAME" say.
func TestMeterIsADynamicSetAndAdd(t *testing.T) {
	load := func(src string) (*ir.Table, string) {
		p, ds := lang.Load("t.ks", []byte(src), lang.Config{})
		require.False(t, ds.HasErrors(), "%s: %v", src, ds)
		tb := p.Tables[0]
		return tb, describe(tb.Chains[0].Rules[0]) + " " + tb.Chains[0].Rules[0].Statements[0].(*ir.Limit).Text()
	}
	meter, meterRule := load("table inet t {\nchain c hook input {\ntcp dport 22 meter ssh size 1024 { ip saddr limit rate 3/minute } accept\n}\n}\n")
	set, setRule := load("table inet t {\nset ssh { type ipv4_addr; size 1024; flags dynamic }\nchain c hook input {\ntcp dport 22 add @ssh { ip saddr limit rate 3/minute } accept\n}\n}\n")
	assert.Equal(t, setRule, meterRule)
	require.Len(t, meter.Sets, 1)
	for _, s := range []*ir.TableSet{meter.Sets[0], set.Sets[0]} {
		s.Pos = ir.Pos{}
	}
	assert.Equal(t, set.Sets[0], meter.Sets[0])
}

// A meter in a disabled option's rule is checked, but declares no set.
func TestDisabledMeterDeclaresNothing(t *testing.T) {
	src := "table inet t {\nchain c hook input {\noption x {\ntcp dport 22 meter m { ip saddr limit rate 3/minute } accept\n}\n}\n}\n"
	for _, tc := range []struct {
		enable []string
		sets   int
	}{{nil, 0}, {[]string{"x"}, 1}} {
		p, ds := lang.Load("t.ks", []byte(src), lang.Config{Enable: tc.enable})
		require.False(t, ds.HasErrors(), "%v", ds)
		assert.Len(t, p.Tables[0].Sets, tc.sets, "enabled: %v", tc.enable)
	}
}
