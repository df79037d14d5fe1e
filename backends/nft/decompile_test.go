package nft_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/stretchr/testify/assert"
)

// The decompiler that diff and status use for rules outside the policy
// reads the same fields table as the lowering: every rule of every golden
// case decompiles to the text the nft target writes for it.
func TestDecompileRoundTrip(t *testing.T) {
	for _, c := range golden.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			b := golden.Batch(t, c.Load(t))
			for _, bt := range b.Tables {
				live := &nft.LiveTable{Table: bt.Table, Sets: map[string]*nft.LiveSet{}}
				for _, s := range bt.Sets {
					live.Sets[s.Set.Name] = &nft.LiveSet{Set: s.Set}
				}
				for _, ch := range bt.Chains {
					for _, r := range ch.Rules {
						// Name each anonymous set as the kernel would.
						for _, s := range r.Sets {
							name := fmt.Sprintf("__set%d", s.Set.ID)
							live.Sets[name] = &nft.LiveSet{Set: s.Set, Elements: nft.ElementsOf(s.Elements())}
							for _, e := range r.Rule.Exprs {
								if l, ok := e.(*expr.Lookup); ok && l.SetID == s.Set.ID {
									l.SetName = name
								}
							}
						}
						// iif and oif match an index, which the decompiler
						// shows: names are the namespace's.
						want := r.Text()
						for _, name := range b.Interfaces() {
							i, _ := golden.Machine{}.InterfaceIndex(name)
							want = strings.NewReplacer(fmt.Sprintf("iif %q", name), fmt.Sprintf("iif %d", i), fmt.Sprintf("oif %q", name), fmt.Sprintf("oif %d", i)).Replace(want)
						}
						for _, path := range b.Cgroups() {
							id, _ := golden.Machine{}.CgroupID(path)
							want = strings.ReplaceAll(want, strconv.Quote(path), strconv.FormatUint(id, 10))
						}
						assert.Equal(t, want, nft.DescribeRule(live, r.Rule), r.Pos.String())
					}
				}
			}
		})
	}
}
