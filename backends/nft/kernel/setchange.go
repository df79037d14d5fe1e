package kernel

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
)

// A SetRef names a declared address set in force: its table, its name,
// and the kind of address it holds.
type SetRef struct {
	Family nftables.TableFamily
	Table  string
	Set    string
	Kind   ir.Kind
}

// declaredSet is the set ref names, as the kernel has it, in the
// namespace conn is in.
func declaredSet(conn *nftables.Conn, ref SetRef) (*nftables.Set, error) {
	s, err := conn.GetSetByName(&nftables.Table{Family: ref.Family, Name: ref.Table}, ref.Set)
	if err != nil {
		return nil, fmt.Errorf("set %s of table %s %s is not in force (ksc apply the policy first): %w", ref.Set, nft.FamilyName(ref.Family), ref.Table, err)
	}
	if !s.Interval || s.IsMap || s.Dynamic {
		return nil, fmt.Errorf("set %s of table %s %s in force is not the address set the policy declares", ref.Set, nft.FamilyName(ref.Family), ref.Table)
	}
	return s, nil
}

// SetKeys is what the set ref names holds, in the namespace at nsPath.
func SetKeys(nsPath string, ref SetRef) (ir.Set, error) {
	conn, err := Dial(nsPath)
	if err != nil {
		return nil, err
	}
	defer conn.CloseLasting()
	s, err := declaredSet(conn, ref)
	if err != nil {
		return nil, err
	}
	held, err := dumpSetElements(nsPath, s)
	if err != nil {
		return nil, err
	}
	return intervalKeys(held), nil
}

// ReplaceSet makes the set ref names hold keys, in one transaction, so
// that a packet meets either what it held or keys.
func ReplaceSet(nsPath string, ref SetRef, keys ir.Set) error {
	conn, err := Dial(nsPath)
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	s, err := declaredSet(conn, ref)
	if err != nil {
		return err
	}
	conn.FlushSet(s)
	// Adjacent ranges joined, as nft's auto-merge would: two of them
	// would share a key, an end and a start.
	if elems := nft.IntervalElements(s.Table, s.Name, ref.Kind.Spec().Family, ir.Addrs(ref.Kind, keys.Joined())); len(elems) > 0 {
		if err := conn.SetAddElements(s, elems); err != nil {
			return err
		}
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("changing set %s: %w", ref.Set, err)
	}
	return nil
}

// intervalKeys is an interval set's elements as a set of keys.
func intervalKeys(es nft.Elements) ir.Set {
	var spans []ir.Span
	for _, r := range es.Ranges() {
		spans = append(spans, ir.Span{Lo: addrKey(r[0]), Hi: addrKey(r[1])})
	}
	return ir.NewSet(spans...)
}

func addrKey(b []byte) ir.Key {
	a, _ := netip.AddrFromSlice(b)
	return ir.AddrKey(a)
}
