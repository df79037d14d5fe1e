package lang_test

import (
	"testing"

	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rule the language cannot say is left out as a comment that names it
// and why; the rest is the ruleset in ksc's layout.
func TestImportLeavesOutWhatItCannotSay(t *testing.T) {
	src := "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n" +
		"\t\tct state established,related accept\n\t\tmeta cpu 1 accept\n\t\ttcp dport 22 counter packets 3 bytes 180 accept\n\t}\n}\n"
	out, skipped, ds := lang.Import("r.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Len(t, skipped, 1)
	assert.Equal(t, "r.nft:5:8: unknown meta field \"cpu\"", skipped[0].Error())
	assert.Equal(t, "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter\n\t\tpolicy drop\n"+
		"\t\tct state established,related accept\n\t\t# ksc import: not imported (unknown meta field \"cpu\"): meta cpu 1 accept\n"+
		"\t\ttcp dport 22 counter packets 3 bytes 180 accept\n\t}\n}\n", string(out))
	_, ds = lang.Load("out.ks", out, lang.Config{})
	assert.False(t, ds.HasErrors(), "what ksc import writes loads: %v", ds)
}

// A chain it cannot hook, or a table of a family it has no tables of, is
// left out whole, as a comment of its lines.
func TestImportLeavesOutChainsAndTables(t *testing.T) {
	src := "table inet t {\n\tchain c {\n\t\ttype filter hook ingress priority 0;\n\t\taccept\n\t}\n" +
		"\tchain o {\n\t\ttype filter hook output priority 0;\n\t\taccept\n\t}\n}\ntable arp a {\n\tchain i { type filter hook input priority 0; }\n}\n"
	out, skipped, ds := lang.Import("r.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Len(t, skipped, 2)
	assert.Contains(t, string(out), "\t# ksc import: not imported (")
	assert.Contains(t, string(out), "\t# chain c {\n\t# \ttype filter hook ingress priority 0;\n")
	assert.Contains(t, string(out), "# ksc import: not imported (unknown table family \"arp\"):\n# table arp a {\n")
	assert.Contains(t, string(out), "\tchain o {\n\t\ttype filter hook output priority 0\n\t\taccept\n")
	_, ds = lang.Load("out.ks", out, lang.Config{})
	assert.False(t, ds.HasErrors(), "what ksc import writes loads: %v", ds)
}

// What is neither a rule, a chain nor a table (a set, a syntax error) is
// not left out: the import fails with the error.
func TestImportFailsOnWhatIsNotARule(t *testing.T) {
	for _, src := range []string{
		"table inet t {\n\tset s {\n\t\ttype ether_addr\n\t}\n}\n",
		"table inet t {\n\tchain c {\n", // a syntax error
	} {
		out, _, ds := lang.Import("r.nft", []byte(src))
		assert.True(t, ds.HasErrors(), src)
		assert.Nil(t, out, src)
	}
}

// A backslash at the end of a line continues it, as nft reads it: the
// rule is one, and ksc's layout writes it on one line.
func TestLineContinuation(t *testing.T) {
	src := "table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy drop;\n\t\ttcp dport { 22, \\\n\t\t\t443 } \\\n\t\taccept\n\t}\n}\n"
	p, ds := lang.Load("t.nft", []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	require.Len(t, p.Tables[0].Chains[0].Rules, 1)
	out, ds := lang.Format("t.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Contains(t, string(out), "\t\ttcp dport { 22, 443 } accept\n")
}

// A chain with no rules that accepts decides nothing: left out of the
// import (iptables-nft's nat INPUT, on a hook ksc writes no nat chain
// at) without making the policy other than the ruleset.
func TestImportLeavesOutEmptyChainsQuietly(t *testing.T) {
	src := "table ip nat {\n\tchain INPUT {\n\t\ttype nat hook input priority 100; policy accept;\n\t}\n" +
		"\tchain POSTROUTING {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tmasquerade\n\t}\n}\n"
	out, skipped, ds := lang.Import("r.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Empty(t, skipped)
	assert.Contains(t, string(out), "# ksc import: not imported (it has no rules and accepts: nat chain INPUT is on hook input")
}

// A set the rules repeat is named once, by a define, as a person writes
// it; a name the ruleset defines already is not taken again.
func TestImportNamesRepeatedSets(t *testing.T) {
	src := "define TCP_DPORT = 8080\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n" +
		"\t\tiifname \"eth0\" tcp dport { 22, 443 } accept\n\t\tiifname \"wg0\" tcp dport { 22, 443 } accept\n\t\ttcp dport $TCP_DPORT accept\n" +
		"\t\tudp dport { 53, 123 } accept\n\t}\n}\n"
	out, skipped, ds := lang.Import("r.nft", []byte(src))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Empty(t, skipped)
	assert.Equal(t, "define TCP_DPORT = 8080\ndefine TCP_DPORT_2 = { 22, 443 }\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter\n\t\tpolicy drop\n"+
		"\t\tiifname \"eth0\" tcp dport $TCP_DPORT_2 accept\n\t\tiifname \"wg0\" tcp dport $TCP_DPORT_2 accept\n\t\ttcp dport $TCP_DPORT accept\n"+
		"\t\tudp dport { 53, 123 } accept\n\t}\n}\n", string(out))

	out, _, ds = lang.Import("r.nft", []byte("table ip t {\n\tchain c {\n\t\tip saddr != { 192.0.2.1, 192.0.2.9 } drop\n\t\tip daddr { 192.0.2.1, 192.0.2.9 } drop\n\t}\n}\n"))
	require.False(t, ds.HasErrors(), "%v", ds)
	assert.Equal(t, "define IP_SADDR = { 192.0.2.1, 192.0.2.9 }\n\ntable ip t {\n\tchain c {\n\t\tip saddr != $IP_SADDR drop\n\t\tip daddr $IP_SADDR drop\n\t}\n}\n", string(out))
}
