package ir_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
)

// policyWith puts one rule into an inet table's input chain.
func policyWith(r *ir.Rule) *ir.Policy {
	return &ir.Policy{Tables: []*ir.Table{{Family: ir.Inet, Name: "t", Chains: []*ir.Chain{
		{Name: "c", Hook: ir.HookInput, Policy: ir.Drop, Rules: []*ir.Rule{r}},
	}}}}
}

// Go programs can build an ir.Policy without the parser: Validate is then the
// only barrier between their strings and the nft or iptables text.
func TestValidateRefusesHostileText(t *testing.T) {
	hostile := []string{
		"eth0\"", "eth0;", "eth0\n", "eth0 accept", "e{th0", "e}", "$eth0", "`id`", "éth0", "\x00eth",
		"", "0123456789abcdef", "..", "0123456789abcde*",
	}
	for _, name := range hostile {
		ds := policyWith(&ir.Rule{Matches: []*ir.Match{{Field: ir.FieldIifname, Values: ir.InterfaceSet(name)}}, Verdict: ir.Accept}).Validate()
		assert.True(t, ds.HasErrors(), "interface name %q was accepted", name)
	}
	texts := []string{"a\"; flush ruleset; \"", "a\nb", "a\\", "\x00", "ü", strings.Repeat("x", 128)}
	for _, text := range texts {
		ds := policyWith(&ir.Rule{Statements: []ir.Statement{&ir.Log{Prefix: text}}, Verdict: ir.Drop}).Validate()
		assert.True(t, ds.HasErrors(), "log prefix %q was accepted", text)
		ds = policyWith(&ir.Rule{Verdict: ir.Drop, Comment: text + strings.Repeat("x", 100)}).Validate()
		assert.True(t, ds.HasErrors(), "comment %q was accepted", text)
	}
	for _, name := range []string{"t;", "t t", "1t", "t\"", strings.Repeat("t", 29)} {
		p := policyWith(&ir.Rule{Verdict: ir.Accept})
		p.Tables[0].Name = name
		assert.True(t, p.Validate().HasErrors(), "table name %q was accepted", name)
		p = policyWith(&ir.Rule{Verdict: ir.Accept})
		p.Tables[0].Chains[0].Name = name
		assert.True(t, p.Validate().HasErrors(), "chain name %q was accepted", name)
	}
}

func TestValidateAcceptsOrdinaryNames(t *testing.T) {
	for _, name := range []string{"eth0", "wlp3s0", "wg-home", "br.10", "veth@1", "wg*", "012345678901234", "0123456789abcd*"} {
		ds := policyWith(&ir.Rule{Matches: []*ir.Match{{Field: ir.FieldIifname, Values: ir.InterfaceSet(name)}}, Verdict: ir.Accept}).Validate()
		assert.Empty(t, ds, name)
	}
	ds := policyWith(&ir.Rule{Statements: []ir.Statement{&ir.Log{Prefix: strings.Repeat("x", 127), Level: ir.LogInfo}}}).Validate()
	assert.Empty(t, ds)
}

func TestDiagnosticRender(t *testing.T) {
	src := []byte("table t {\n\tchain c hook inptu {\n")
	d := ir.Diagnostic{
		Pos:     ir.Pos{File: "p.ks", Line: 2, Col: 15},
		End:     ir.Pos{File: "p.ks", Line: 2, Col: 20},
		Message: `unknown hook "inptu"`,
		Hint:    "did you mean input?",
	}
	want := "p.ks:2:15: unknown hook \"inptu\"\n" +
		"    2 | \tchain c hook inptu {\n" +
		"      | \t             ^^^^^\n" +
		"  hint: did you mean input?\n"
	assert.Equal(t, want, d.Render(src))
	// Without the source, only the message and the hint are printed.
	assert.Equal(t, "p.ks:2:15: unknown hook \"inptu\"\n  hint: did you mean input?\n", d.Render(nil))
	// Control characters in the source line must not reach the terminal.
	d = ir.Diagnostic{Pos: ir.Pos{File: "p.ks", Line: 1, Col: 1}, Message: "x"}
	assert.Equal(t, "p.ks:1:1: x\n    1 | a?b\n      | ^\n", d.Render([]byte("a\x1bb")))
}

// An error on a 10 MB line shows an excerpt around the offending text,
// not the line; a huge message is cut too.
func TestDiagnosticRenderIsBounded(t *testing.T) {
	filler := strings.Repeat("x", 5<<20)
	src := []byte("table t {\n" + filler + " bad " + filler + "\n")
	col := len(filler) + 2
	d := ir.Diagnostic{Pos: ir.Pos{File: "p.ks", Line: 2, Col: col}, End: ir.Pos{File: "p.ks", Line: 2, Col: col + 3},
		Message: "unexpected token " + strconv.Quote(filler)}
	lead, trail := strings.Repeat("x", 39), strings.Repeat("x", 160-39-5)
	want := "p.ks:2:" + strconv.Itoa(col) + `: unexpected token "` + strings.Repeat("x", 400-len("p.ks:2:5242882: unexpected token \"")) +
		"… (" + strconv.Itoa(len(filler)+len("p.ks:2:5242882: unexpected token \"\"")-400) + " more bytes)\n" +
		"    2 | …" + lead + " bad " + trail + "…\n" +
		"      | " + strings.Repeat(" ", 1+39+1) + "^^^\n" // "…", the lead and a space: under "bad"
	assert.Equal(t, want, d.Render(src))
}

func TestRuleFamily(t *testing.T) {
	tests := []struct {
		name string
		rule *ir.Rule
		want ir.Family
	}{
		{"no address match", &ir.Rule{}, ir.Inet},
		{"ip6 match", &ir.Rule{Matches: []*ir.Match{{Field: ir.FieldIP6Saddr}}}, ir.IPv6},
		{"icmp only", &ir.Rule{Matches: []*ir.Match{{Field: ir.FieldL4Proto, Values: ir.ProtocolSet(ir.ICMP)}}}, ir.IPv4},
		{"not icmp", &ir.Rule{Matches: []*ir.Match{{Field: ir.FieldL4Proto, Op: ir.Neq, Values: ir.ProtocolSet(ir.ICMP)}}}, ir.Inet},
		{"icmp and icmpv6", &ir.Rule{Matches: []*ir.Match{{Field: ir.FieldL4Proto, Values: ir.ProtocolSet(ir.ICMP, ir.ICMPv6)}}}, ir.Inet},
		{"tcp", &ir.Rule{Matches: []*ir.Match{{Field: ir.FieldL4Proto, Values: ir.ProtocolSet(ir.TCP)}}}, ir.Inet},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.rule.Family(), tt.name)
	}
}
