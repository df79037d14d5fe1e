package nft_test

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/internal/golden"
)

// The netlink batch of every golden case, expression by expression, so
// that a changed lowering (a port offset, a conntrack bit, a lost
// negation) fails plain "go test", without root. The kernel tests prove
// that these expressions mean what nft -f loads; this pins them.
func TestNetlinkGolden(t *testing.T) {
	for _, c := range golden.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			golden.Check(t, golden.Path(t, "netlink", c.Name, ".txt"), []byte(dumpBatch(golden.Batch(t, c.Load(t)))))
		})
	}
}

func dumpBatch(b *nft.Batch) string {
	var s strings.Builder
	if b.FlushRuleset {
		s.WriteString("flush ruleset\n")
	}
	for _, t := range b.Tables {
		fmt.Fprintf(&s, "table %s\n", t)
		for _, set := range t.Sets {
			if set.Set.Dynamic {
				fmt.Fprintf(&s, "  set %s %s dynamic size=%d timeout=%v big-endian=%v\n", set.Set.Name, set.Set.KeyType.Name, set.Set.Size, set.Set.Timeout, set.Set.KeyByteOrder == binaryutil.BigEndian)
				continue
			}
			fmt.Fprintf(&s, "  set %s: %d elements\n", set.Set.Name, set.Len())
		}
		for _, c := range t.Chains {
			if c.Chain.Hooknum == nil {
				fmt.Fprintf(&s, "  chain %s (regular)\n", c.Chain.Name)
			} else {
				fmt.Fprintf(&s, "  chain %s hook %d priority %d policy %d\n", c.Chain.Name, *c.Chain.Hooknum, *c.Chain.Priority, *c.Chain.Policy)
			}
			for _, r := range c.Rules {
				fmt.Fprintf(&s, "    rule %s  # %s\n", r.Text(), r.Pos)
				for _, set := range r.Sets {
					fmt.Fprintf(&s, "      set %s %s interval=%v: %s\n", set.Set.Name, set.Set.KeyType.Name, set.Set.Interval, elements(set.Elements()))
				}
				for _, e := range r.Rule.Exprs {
					fmt.Fprintf(&s, "      %s\n", dumpExpr(e))
				}
			}
		}
	}
	return s.String()
}

func elements(es []nftables.SetElement) string {
	var parts []string
	for _, e := range es {
		p := hex.EncodeToString(e.Key)
		if e.IntervalEnd {
			p += "(end)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// dumpExpr writes an expression's type and non-zero fields, byte slices
// in hex.
func dumpExpr(e any) string {
	v := reflect.ValueOf(e).Elem()
	var parts []string
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || f.IsZero() {
			continue
		}
		val := fmt.Sprint(f.Interface())
		switch x := f.Interface().(type) {
		case []byte:
			val = hex.EncodeToString(x)
		case []expr.Any: // a dynset's expressions
			inner := make([]string, len(x))
			for i, e := range x {
				inner[i] = dumpExpr(e)
			}
			val = "[" + strings.Join(inner, "; ") + "]"
		}
		parts = append(parts, v.Type().Field(i).Name+"="+val)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%T %+v", e, v.Interface())[len("*expr."):] // a drop verdict is all zeros
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr.") + " " + strings.Join(parts, " ")
}
