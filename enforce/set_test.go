package enforce

import (
	"net/netip"
	"testing"

	"github.com/ksc-project/ksc/backends"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const twoSets = `table inet t {
	set servers {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.1 }
	}

	set blocked {
		type ipv4_addr
		flags interval
		elements = { 203.0.113.66 }
	}

	chain output hook output priority filter policy drop {
		ip daddr @blocked drop
		ip daddr @servers accept
	}
}
`

func addrs(t testing.TB, list ...string) ir.Set {
	var spans []ir.Span
	for _, a := range list {
		k := ir.AddrKey(netip.MustParseAddr(a))
		spans = append(spans, ir.Span{Lo: k, Hi: k})
	}
	return ir.NewSet(spans...)
}

func withRunDir(t testing.TB) {
	old := RunDir
	RunDir = t.TempDir()
	t.Cleanup(func() { RunDir = old })
}

func loadTwoSets(t testing.TB) *ir.Policy {
	p, ds := lang.Load("p.ks", []byte(twoSets), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

// The set's keys in force, changed, replace them; deleting a key it
// does not hold changes nothing.
func TestChangeSet(t *testing.T) {
	withRunDir(t)
	p := loadTwoSets(t)
	fw := &backends.Fake{}
	require.NoError(t, fw.Apply(loadTwoSets(t))) // what is in force is the fake's own copy
	table, servers := p.Tables[0], p.Tables[0].Sets[0]
	ns := Namespace("")
	after, _, err := ns.ChangeSet(fw, p, SetChange{Table: table, Set: servers, Add: true, Keys: addrs(t, "198.51.100.7")}, true)
	require.NoError(t, err)
	assert.Equal(t, "198.51.100.1, 198.51.100.7", ir.AddrsText(servers.Kind, after))
	_, _, err = ns.ChangeSet(fw, p, SetChange{Table: table, Set: servers, Keys: addrs(t, "198.51.100.7", "198.51.100.9")}, true)
	assert.EqualError(t, err, "set servers holds no 198.51.100.9")
	held, err := fw.SetKeys(p, table, servers)
	require.NoError(t, err)
	assert.Equal(t, "198.51.100.1, 198.51.100.7", ir.AddrsText(servers.Kind, held), "nothing changed")
	assert.Equal(t, "198.51.100.1", ir.AddrsText(servers.Kind, servers.Elements), "the policy loaded is not changed")
}

// BenchmarkSetAdd is one "ksc set add" after another to a set in force
// in a namespace (nft): the target is under 50 ms each, the
// flows judged and closed included.
func BenchmarkSetAdd(b *testing.B) {
	labtest.Require(b, "nft")
	withRunDir(b)
	ns := labtest.NewNS(b, "setbench")
	p := loadTwoSets(b)
	fw, err := backends.Open("nft", Namespace(ns.Name).Path(), backends.Options{})
	require.NoError(b, err)
	require.NoError(b, fw.Apply(p))
	table, servers := p.Tables[0], p.Tables[0].Sets[0]
	i := 0
	for b.Loop() {
		i++
		key := ir.AddrKey(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
		if _, _, err := Namespace(ns.Name).ChangeSet(fw, p, SetChange{Table: table, Set: servers, Add: true, Keys: ir.NewSet(ir.Span{Lo: key, Hi: key})}, false); err != nil {
			b.Fatal(err)
		}
		if i == 200 {
			i = 0
		}
	}
	held, err := kernel.SetKeys(Namespace(ns.Name).Path(), kernel.SetRef{Family: nft.TableFamily(ir.Inet), Table: "t", Set: "servers", Kind: servers.Kind})
	require.NoError(b, err)
	require.NotEmpty(b, held)
}
