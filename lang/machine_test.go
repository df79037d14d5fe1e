package lang_test

import (
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every rule of a machine's ruleset stays at its place: one ksc cannot
// read keeps the matches read before what stopped it, and says whether
// what it cannot read may act (a target, an unknown statement) or only
// decide whether the rule holds (an xt match).
func TestLoadMachineKeepsEveryRule(t *testing.T) {
	src := `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
		meta l4proto tcp tcp dport { 22, 80 } xt match recent counter packets 0 bytes 0 drop
		iifname "eth0" meta cpu 1 accept
		tcp dport 24 counter packets 0 bytes 0 xt target TTL
		ct state established accept
	}
}
table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		reject
	}
}
`
	p, unseen, ds := lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Empty(t, unseen)
	rules := p.Tables[0].Chains[0].Rules
	require.Len(t, rules, 4)

	assert.Equal(t, &ir.Unread{Text: "meta l4proto tcp tcp dport { 22, 80 } xt match recent counter packets 0 bytes 0 drop",
		Why: "iptables match recent, which nft lists only by name"}, rules[0].Unread)
	assert.Equal(t, ir.Drop, rules[0].Verdict, "an xt match leaves the rest of the rule read")
	assert.Len(t, rules[0].Matches, 2)

	assert.Equal(t, "unknown meta field \"cpu\"", rules[1].Unread.Why)
	assert.True(t, rules[1].Unread.Acts)
	assert.Equal(t, ir.NoVerdict, rules[1].Verdict, "nothing after what stopped it is read")
	require.Len(t, rules[1].Matches, 1, "the matches before it are")
	assert.Equal(t, ir.FieldIifname, rules[1].Matches[0].Field)

	assert.True(t, rules[2].Unread.Acts, "a target may do anything")
	assert.Nil(t, rules[3].Unread)

	nat := p.Tables[1].Chains[0].Rules
	require.Len(t, nat, 1)
	require.NotNil(t, nat[0].Unread, "what validation refuses is kept, unread")
	assert.True(t, nat[0].Unread.Acts)
	assert.Empty(t, nat[0].Matches)
}

// A chain or table read nothing of is unseen, but an arp table, which
// sees no IP packet.
func TestLoadMachineUnseen(t *testing.T) {
	src := "table netdev n {\n\tchain c {\n\t\ttype filter hook ingress device \"eth0\" priority 0;\n\t\tdrop\n\t}\n}\n" +
		"table arp a {\n\tchain i { type filter hook input priority 0; }\n}\n" +
		"table inet t {\n\tchain o {\n\t\ttype filter hook output priority 0;\n\t\taccept\n\t}\n}\n"
	p, unseen, ds := lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Len(t, unseen, 1)
	assert.Equal(t, 1, unseen[0].Pos.Line)
	require.Len(t, p.Tables, 1)
	assert.Equal(t, "t", p.Tables[0].Name)
}

// No backend writes a rule ksc could not read.
func TestUnreadRulesAreNotWritable(t *testing.T) {
	src := "table ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 0;\n\t\txt match recent drop\n\t}\n}\n"
	p, _, ds := lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Equal(t, []string{"live:4:3: a rule ksc could not read cannot be written: xt match recent drop (iptables match recent, which nft lists only by name)"},
		errorStrings(p.Unwritable()))
	_, err := nft.Render(p, "")
	assert.ErrorContains(t, err, "cannot be written")
	_, err = nft.Lower(p)
	assert.ErrorContains(t, err, "cannot be written")
	_, err = iptables.Render(p, ir.IPv4)
	assert.ErrorContains(t, err, "cannot be written")
	_, ds = lang.Load("p.ks", []byte(src), lang.Config{})
	assert.True(t, ds.HasErrors(), "a policy cannot say xt")
}

func errorStrings(ds ir.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Error())
	}
	return out
}

// A flowtable takes the flows a rule adds to it past the forward chains
// of every table: its table is left out of an import, and a machine that
// has one answers nothing.
func TestFlowtablesAreLeftOutWhole(t *testing.T) {
	src := "table inet x {\n\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { d0, d1 }\n\t}\n\n" +
		"\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tip protocol tcp flow add @f\n\t\ttcp dport 22 drop\n\t}\n}\n"
	_, unseen, ds := lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Equal(t, []string{"live:1:1: table inet x has flowtable f, which ksc has no words for: the flows a rule adds to it skip the forward chains"}, errorStrings(unseen))

	out, skipped, ds := lang.Import("r.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Len(t, skipped, 1, "the table, once: its flow add rule is in it")
	assert.True(t, strings.HasPrefix(string(out), "# ksc import: not imported (table inet x has flowtable f"), "%s", out)
	assert.Equal(t, 1, strings.Count(string(out), "# ksc import:"))
}

// nft lists a cgroup below /sys/fs/cgroup: on a hybrid machine its path
// starts with the cgroup2 root, which the machine's reading takes off.
func TestLoadMachineCgroupBelowItsRoot(t *testing.T) {
	src := "table inet t {\n\tchain o {\n\t\ttype filter hook output priority filter; policy drop;\n" +
		"\t\tsocket cgroupv2 level 2 \"unified/ksc/vpn\" oifname \"wg0\" accept\n\t}\n}\n"
	p, _, ds := lang.LoadMachine("live", []byte(src), "unified")
	require.False(t, ds.HasErrors(), "%v", ds)
	r := p.Tables[0].Chains[0].Rules[0]
	require.Nil(t, r.Unread)
	assert.Equal(t, `socket cgroupv2 level 2 "ksc/vpn"`, r.Matches[0].Text())

	// Read as it is, the path is one level deeper than its match.
	p, _, ds = lang.LoadMachine("live", []byte(src), "")
	require.False(t, ds.HasErrors(), "%v", ds)
	require.NotNil(t, p.Tables[0].Chains[0].Rules[0].Unread)
}
