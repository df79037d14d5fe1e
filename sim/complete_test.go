package sim_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statementTypes are the types of the ir package that are statements (a
// method statement()), read from its source: a statement added there and
// not here fails TestEveryStatementIsSimulated.
func statementTypes(t *testing.T) []string {
	files, err := filepath.Glob("../ir/*.go")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "statement" || fn.Recv == nil {
				continue
			}
			switch recv := fn.Recv.List[0].Type.(type) {
			case *ast.Ident:
				names = append(names, recv.Name)
			case *ast.StarExpr:
				names = append(names, recv.X.(*ast.Ident).Name)
			}
		}
	}
	return names
}

// Every statement the IR has goes through the simulator, which knows what
// each does to a packet; one it did not know would panic rather than be
// taken to do nothing.
func TestEveryStatementIsSimulated(t *testing.T) {
	samples := []ir.Statement{
		&ir.Counter{},
		&ir.Log{Prefix: "x"},
		&ir.Limit{Rate: 5, Unit: ir.PerMinute},
		&ir.MarkSet{Target: ir.FieldMark, Value: 7},
		&ir.MSSSet{Size: 1400},
		&ir.SetWrite{Op: ir.SetAdd, Set: &ir.TableSet{Name: "s", Kind: ir.KindIPv4, Dynamic: true}, Key: ir.FieldIPSaddr},
		&ir.Notrack{},
		&ir.Trace{On: true},
		&ir.DSCPSet{Field: ir.FieldIPDSCP, Value: 8},
	}
	have := map[string]bool{}
	for _, s := range samples {
		have[reflect.TypeOf(s).Elem().Name()] = true
	}
	for _, name := range statementTypes(t) {
		assert.True(t, have[name], "ir.%s is a statement that this test does not send through the simulator", name)
	}
	for _, s := range samples {
		p := &ir.Policy{Tables: []*ir.Table{{Family: ir.Inet, Name: "t", Chains: []*ir.Chain{{
			Name: "c", Hook: ir.HookOutput, Policy: ir.Accept,
			Rules: []*ir.Rule{{Statements: []ir.Statement{s}, Verdict: ir.Drop}},
		}}}}}
		pkt, err := sim.ParsePacket("out eth0 udp 192.0.2.2:40000 198.51.100.1:53")
		require.NoError(t, err)
		assert.NotPanics(t, func() { sim.Evaluate(p, pkt) }, "%T", s)
	}
}

// Every kind of nat rewrite goes through the simulator.
func TestEveryNATKindIsSimulated(t *testing.T) {
	for _, kind := range ir.AllNATKinds() {
		nat := &ir.NAT{Kind: kind, Addr: netip.MustParseAddr("192.0.2.9"), Port: 8080}
		hook := ir.HookPrerouting
		if kind.Source() {
			hook = ir.HookPostrouting
		}
		p := &ir.Policy{Tables: []*ir.Table{{Family: ir.IPv4, Name: "t", Chains: []*ir.Chain{{
			Name: "c", Type: ir.ChainNAT, Hook: hook, Policy: ir.Accept,
			Rules: []*ir.Rule{{Verdict: ir.Translate, NAT: nat}},
		}}}}}
		pkt, err := sim.ParsePacket("forward eth0 eth1 tcp 203.0.113.9:40000 198.51.100.1:80")
		require.NoError(t, err)
		var res sim.Result
		require.NotPanics(t, func() { res = sim.Evaluate(p, pkt) }, kind.String())
		assert.Equal(t, ir.Accept, res.Verdict, kind.String())
	}
}

// A match on every field goes through the simulator, for packets of each
// direction and family.
func TestEveryFieldIsSimulated(t *testing.T) {
	lines := []string{
		"out eth0 tcp 192.0.2.2:40000 198.51.100.1:443",
		"in eth0 icmpv6 2001:db8::1 2001:db8::2 nd-neighbor-solicit",
		"forward eth0 eth1 udp 203.0.113.9:5000 198.51.100.1:53 established",
	}
	for _, f := range ir.AllFields() {
		hook := ir.HookPostrouting // every field has a value there
		p := &ir.Policy{Tables: []*ir.Table{{Family: ir.Inet, Name: "t", Chains: []*ir.Chain{{
			Name: "c", Hook: hook, Policy: ir.Accept,
			Rules: []*ir.Rule{{Matches: []*ir.Match{{Field: f, Op: ir.Eq, Values: ir.NumberSet(0)}}, Verdict: ir.Drop}},
		}}}}}
		for _, line := range lines {
			pkt, err := sim.ParsePacket(line)
			require.NoError(t, err)
			assert.NotPanics(t, func() { sim.Evaluate(p, pkt) }, "%s, %s", f, line)
		}
	}
}
