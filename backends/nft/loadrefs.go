package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/ir"
)

// loadRef is a value nft looks up when it loads a ruleset, in the
// namespace and on the machine it loads it for: an interface's index
// (iif, oif), a cgroup's id (socket cgroupv2). It is the bytes of a
// comparison or of a set key, which Lower leaves zero and Resolve fills
// in.
type loadRef struct {
	cgroup   bool // a cgroup path, else an interface name
	name     string
	pos, end ir.Pos
	data     []byte
}

// Resolver looks up what a batch names by name: an interface's index in
// the namespace the batch is for, a cgroup's id on the machine.
type Resolver interface {
	InterfaceIndex(name string) (uint32, bool)
	CgroupID(path string) (uint64, bool)
}

func (l *ruleLowerer) ref(cgroup bool, name string, m *ir.Match) []byte {
	data := make([]byte, 4)
	if cgroup {
		data = make([]byte, 8)
	}
	l.refs = append(l.refs, loadRef{cgroup: cgroup, name: name, pos: m.Pos, end: m.End, data: data})
	return data
}

// byName lowers a match on values nft looks up when it loads the rules
// (iif, oif, socket cgroupv2): compared, or looked up among several.
func (l *ruleLowerer) byName(f nftField, m *ir.Match) {
	cgroup := m.Field.CgroupLevel() > 0
	names := ir.ValueStrings(m.Field.Spec().Kind, m.Values)
	l.emit(f.load(f.size))
	if len(names) == 1 {
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: l.ref(cgroup, names[0], m)})
		return
	}
	elems := make([]keyRange, len(names))
	for i, n := range names {
		elems[i] = single(l.ref(cgroup, n, m))
	}
	l.lookup(f.keyType, elems, false, m.Op)
}

// Interfaces lists the interfaces the batch's iif and oif matches name,
// once each.
func (b *Batch) Interfaces() []string { return b.named(false) }

// Cgroups lists the cgroups the batch's matches name, once each.
func (b *Batch) Cgroups() []string { return b.named(true) }

func (b *Batch) named(cgroup bool) []string {
	var names []string
	seen := map[string]bool{}
	b.eachRef(func(r loadRef) {
		if r.cgroup == cgroup && !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	})
	return names
}

// Resolve writes into the batch each interface's index and each cgroup's
// id, as nft looks them up when it loads a ruleset. One that is not
// there is an error at the match that names it, as nft's.
func (b *Batch) Resolve(r Resolver) error {
	var ds ir.Diagnostics
	b.eachRef(func(ref loadRef) {
		if ref.cgroup {
			id, ok := r.CgroupID(ref.name)
			if !ok {
				d := ds.Errorf(ref.pos, "cgroup %s does not exist here: socket cgroupv2 matches the id it has when the policy is loaded", ref.name)
				d.End = ref.end
				d.Hint = fmt.Sprintf("create it first (mkdir under the cgroup2 root, or ksc run --cgroup %s), and keep it: one made again is another cgroup", ref.name)
				return
			}
			binary.NativeEndian.PutUint64(ref.data, id)
			return
		}
		i, ok := r.InterfaceIndex(ref.name)
		if !ok {
			d := ds.Errorf(ref.pos, "interface %s does not exist here: iif and oif match the index it has when the policy is loaded", ref.name)
			d.End = ref.end
			d.Hint = fmt.Sprintf("create %s first, or match its name with iifname/oifname %q, which also holds for one that comes and goes", ref.name, ref.name)
			return
		}
		binary.NativeEndian.PutUint32(ref.data, i)
	})
	if ds.HasErrors() {
		return ds.Err()
	}
	b.resolved = true
	return nil
}

// Unresolved is an error when the batch names interfaces or cgroups that
// were not looked up: sent so, its matches would compare with 0.
func (b *Batch) Unresolved() error {
	if b.resolved || len(b.Interfaces())+len(b.Cgroups()) == 0 {
		return nil
	}
	return fmt.Errorf("nft: the batch's interfaces (%v) and cgroups (%v) were not looked up where it is loaded", b.Interfaces(), b.Cgroups())
}

func (b *Batch) eachRef(fn func(loadRef)) {
	for _, t := range b.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, ref := range r.refs {
					fn(ref)
				}
			}
		}
	}
}
