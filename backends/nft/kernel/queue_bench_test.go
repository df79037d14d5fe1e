package kernel

import (
	"testing"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/bench"
	"github.com/ksc-project/ksc/lang"
	"github.com/mdlayher/netlink"
)

// BenchmarkQueueRules10k is what "ksc apply" does between lowering and
// sending for 10,000 rules: encoding them into the library's batch.
func BenchmarkQueueRules10k(b *testing.B) {
	p, ds := lang.Load("r.ks", []byte(bench.RulesPolicy(10_000)), lang.Config{})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	batch, err := nft.Lower(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, _ := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
			return nil, nil
		}))
		apart := batchConn{Conn: c, elems: elementSlots(), rules: ruleSlots()}
		if err := queue(apart, batch, -1); err != nil {
			b.Fatal(err)
		}
	}
}
