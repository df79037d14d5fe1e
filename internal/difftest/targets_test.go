package difftest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samples are values of each kind for the walk below.
var samples = map[ir.Kind]ir.Set{
	ir.KindInterface:   ir.InterfaceSet("eth0"),
	ir.KindIPv4:        ir.AddrSet([]ir.AddrElem{{From: netip.MustParseAddr("192.0.2.0"), To: netip.MustParseAddr("192.0.2.127")}}),
	ir.KindIPv6:        ir.AddrSet([]ir.AddrElem{{From: netip.MustParseAddr("2001:db8::1"), To: netip.MustParseAddr("2001:db8::1")}}),
	ir.KindPort:        ir.PortSet(ir.PortRange{First: 22, Last: 22}),
	ir.KindProtocol:    ir.ProtocolSet(ir.UDP),
	ir.KindCtState:     ir.CtStateSet(ir.CtNew),
	ir.KindICMPType:    ir.NumberSet(8),
	ir.KindICMPv6Type:  ir.NumberSet(135),
	ir.KindICMPCode:    ir.NumberSet(3),
	ir.KindICMPv6Code:  ir.NumberSet(4),
	ir.KindMark:        ir.NumberSet(0x6d6f6c65),
	ir.KindUser:        ir.NumberSet(0),
	ir.KindGroup:       ir.NumberSet(0),
	ir.KindNfproto:     ir.NfprotoSet(ir.IPv6),
	ir.KindPkttype:     ir.NumberSet(1),
	ir.KindTCPFlags:    ir.NumberSet(0x02),
	ir.KindAddrType:    ir.NumberSet(2),
	ir.KindHops:        ir.NumberSet(64),
	ir.KindDSCP:        ir.NumberSet(0x2e),
	ir.KindPresence:    ir.NumberSet(0),
	ir.KindCtDirection: ir.NumberSet(1),
	ir.KindUint4:       ir.NumberSet(5),
	ir.KindUint16:      ir.Set{ir.NumberSpan(20, 576)},
	ir.KindUint20:      ir.NumberSet(0x12345),
	ir.KindUint32:      ir.NumberSet(1000),
	ir.KindDevGroup:    ir.NumberSet(11),
	ir.KindClassid:     ir.NumberSet(0x10010),
	ir.KindCtStatus:    ir.NumberSet(0x20),
}

// sampleOf is a sample value of field f: of its kind, but a cgroup as
// deep as the level a cgroup field matches at.
func sampleOf(f ir.Field) (ir.Set, bool) {
	if level := f.CgroupLevel(); level > 0 {
		return ir.CgroupSet(strings.Repeat("app.slice/", level-1) + "app.scope"), true
	}
	values, ok := samples[f.Spec().Kind]
	return values, ok
}

// masks gives the maskable fields the mask iptables needs.
var masks = map[ir.Field]uint32{ir.FieldTCPFlags: 0x12, ir.FieldCtStatus: 0x20}

// iptablesGaps are the fields iptables cannot say, plain or negated: the
// iptables target must refuse them by name (docs/language.md lists them).
var iptablesGaps = map[string]bool{"icmp code !=": true, "icmpv6 code !=": true, "ip6 nexthdr ==": true, "ip6 nexthdr !=": true,
	"iif ==": true, "iif !=": true, "oif ==": true, "oif !=": true, // but on lo
	"fib saddr . iif oif ==": true, "fib saddr . iif oif !=": true, "fib daddr oif ==": true, "fib daddr oif !=": true}

// ip6tablesGaps are the fields iptables writes and ip6tables cannot.
var ip6tablesGaps = map[string]bool{"fib daddr . iif type ==": true, "fib daddr . iif type !=": true}

// withType gives an ICMP code match the type iptables needs with it.
var withType = map[ir.Field]ir.Field{ir.FieldICMPCode: ir.FieldICMPType, ir.FieldICMPv6Code: ir.FieldICMPv6Type}

func onePolicy(hook ir.Hook, r *ir.Rule) *ir.Policy {
	return &ir.Policy{FlushRuleset: true, Tables: []*ir.Table{{Family: ir.Inet, Name: "t", Chains: []*ir.Chain{
		{Name: "c", Hook: hook, Policy: ir.Accept, Rules: []*ir.Rule{r}},
	}}}}
}

// Every field, plain and negated, and every statement goes through every
// target; a field or statement a target does not know is a positioned
// error naming the target, never a rule without it.
func TestEveryFieldAndStatementOnEveryTarget(t *testing.T) {
	for _, f := range ir.AllFields() {
		for _, op := range []ir.Op{ir.Eq, ir.Neq} {
			t.Run(f.String()+" "+op.String(), func(t *testing.T) {
				values, ok := sampleOf(f)
				require.True(t, ok, "no sample value of kind %v: add one", f.Spec().Kind)
				r := &ir.Rule{Matches: []*ir.Match{{Field: f, Op: op, Values: values, Mask: masks[f]}},
					Statements: []ir.Statement{&ir.Counter{}, &ir.Log{Prefix: "x: ", Level: ir.LogInfo}}, Verdict: ir.Drop}
				if f.Spec().NeedsPorts {
					r.Matches = append(r.Matches, &ir.Match{Field: ir.FieldL4Proto, Values: ir.ProtocolSet(ir.TCP)})
				}
				if tf, ok := withType[f]; ok {
					r.Matches = append(r.Matches, &ir.Match{Field: tf, Values: samples[tf.Spec().Kind]})
				}
				hook := ir.HookInput
				for _, h := range []ir.Hook{ir.HookOutput, ir.HookPrerouting} {
					if !f.Spec().Hooks.Has(hook) {
						hook = h
					}
				}
				p := onePolicy(hook, r)
				require.False(t, p.Validate().HasErrors(), "%v", p.Validate())
				text, err := nft.Render(p, "")
				require.NoError(t, err)
				assert.Contains(t, string(text), nft.RuleText(ir.Inet, r))
				_, err = nft.Lower(p)
				require.NoError(t, err)
				for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
					o, err := iptables.Render(p, family)
					gap := iptablesGaps[f.String()+" "+op.String()] || f.CgroupLevel() > 0 && op == ir.Neq || f.Spec().Place.Header != ir.NoHeader || f.Spec().Kind == ir.KindDevGroup || f == ir.FieldPriority
					if gap && (r.Family() == ir.Inet || r.Family() == family) {
						require.Error(t, err)
						assert.Contains(t, err.Error(), "the iptables target cannot express")
						continue
					}
					if family == ir.IPv6 && ip6tablesGaps[f.String()+" "+op.String()] {
						require.Error(t, err)
						assert.Contains(t, err.Error(), "the ip6tables target cannot express")
						continue
					}
					require.NoError(t, err)
					if r.Family() == ir.Inet || r.Family() == family {
						want := 2
						if twoWays[f.String()+" "+op.String()] == family {
							want = 4 // a LOG and a DROP rule for each of two disjoint ways
						}
						assert.Equal(t, want, o.RuleCount(), "a LOG rule and a DROP rule for %s in %s", f, family)
					}
				}
			})
		}
	}
}

// twoWays are the matches a family's iptables writes as two rules, each
// for packets the other does not hold for: ip6tables' LOCAL also holds for
// a local route's anycast address, so "not local" is not LOCAL, or LOCAL
// and ANYCAST.
var twoWays = map[string]ir.Family{"fib daddr type !=": ir.IPv6, "fib saddr type !=": ir.IPv6}

// odd is a statement no backend knows: it stands for one added to ir
// before the backends learn it.
type odd struct{ ir.Counter }

func TestUnknownNodesAreRefused(t *testing.T) {
	pos := ir.Pos{File: "p.ks", Line: 12, Col: 3}
	unknownField := onePolicy(ir.HookInput, &ir.Rule{Pos: pos, Matches: []*ir.Match{{Pos: pos, Field: ir.Field(200), Values: samples[ir.KindPort]}}, Verdict: ir.Accept})
	unknownStatement := onePolicy(ir.HookInput, &ir.Rule{Pos: pos, Statements: []ir.Statement{&odd{}}, Verdict: ir.Accept})
	unknownVerdict := onePolicy(ir.HookInput, &ir.Rule{Pos: pos, Verdict: ir.Verdict(9)})
	unknownChainType := onePolicy(ir.HookInput, &ir.Rule{Pos: pos, Verdict: ir.Accept})
	unknownChainType.Tables[0].Chains[0].Type, unknownChainType.Tables[0].Chains[0].Pos = ir.ChainType(9), pos
	for name, p := range map[string]*ir.Policy{"field": unknownField, "statement": unknownStatement, "verdict": unknownVerdict, "chain type": unknownChainType} {
		t.Run(name, func(t *testing.T) {
			_, err := nft.Render(p, "")
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "p.ks:12:3: the nft target cannot express"), err.Error())
			_, err = nft.Lower(p)
			require.Error(t, err)
			for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
				_, err = iptables.Render(p, family)
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), "p.ks:12:3: the iptables target cannot express"), err.Error())
			}
		})
	}
}

// Every reject answer on every target, in the families it fits.
func TestEveryRejectOnEveryTarget(t *testing.T) {
	tcp := &ir.Match{Field: ir.FieldL4Proto, Values: ir.ProtocolSet(ir.TCP)}
	v4 := &ir.Match{Field: ir.FieldNfproto, Values: ir.NfprotoSet(ir.IPv4)}
	v6 := &ir.Match{Field: ir.FieldNfproto, Values: ir.NfprotoSet(ir.IPv6)}
	tests := []struct {
		with    ir.RejectWith
		matches []*ir.Match
		want    map[ir.Family]string // iptables' --reject-with
	}{
		{ir.RejectWith{}, nil, map[ir.Family]string{ir.IPv4: "icmp-port-unreachable", ir.IPv6: "icmp6-port-unreachable"}},
		{ir.RejectWith{Kind: ir.RejectTCPReset}, []*ir.Match{tcp}, map[ir.Family]string{ir.IPv4: "tcp-reset", ir.IPv6: "tcp-reset"}},
		{ir.RejectWith{Kind: ir.RejectICMP, Code: 10}, []*ir.Match{v4}, map[ir.Family]string{ir.IPv4: "icmp-host-prohibited"}},
		{ir.RejectWith{Kind: ir.RejectICMPv6, Code: 1}, []*ir.Match{v6}, map[ir.Family]string{ir.IPv6: "icmp6-adm-prohibited"}},
		{ir.RejectWith{Kind: ir.RejectICMPX, Code: 3}, nil, map[ir.Family]string{ir.IPv4: "icmp-admin-prohibited", ir.IPv6: "icmp6-adm-prohibited"}},
	}
	for _, tt := range tests {
		t.Run(tt.with.Text(), func(t *testing.T) {
			p := onePolicy(ir.HookInput, &ir.Rule{Matches: tt.matches, Verdict: ir.Reject, RejectWith: tt.with})
			require.False(t, p.Validate().HasErrors(), "%v", p.Validate())
			text, err := nft.Render(p, "")
			require.NoError(t, err)
			assert.Contains(t, string(text), strings.TrimSpace("reject "+tt.with.Text()))
			_, err = nft.Lower(p)
			require.NoError(t, err)
			for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
				o, err := iptables.Render(p, family)
				require.NoError(t, err)
				if want, ok := tt.want[family]; ok {
					assert.Contains(t, string(o.Text), "--reject-with "+want)
				} else {
					assert.Zero(t, o.RuleCount(), "no %s rule for a reject of the other family", family)
				}
			}
		})
	}
}
