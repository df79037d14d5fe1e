package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/ir"
)

// interfaceRef is where an iif or oif match holds an interface's index:
// the four bytes of a comparison or of a set key, which Lower leaves
// zero and ResolveInterfaces fills in for the namespace the batch goes
// to, as nft looks names up when it loads a ruleset.
type interfaceRef struct {
	name     string
	pos, end ir.Pos
	index    []byte
}

// indexes lowers an iif or oif match: the interface's index, compared or
// looked up, to be resolved before the batch is sent.
func (l *ruleLowerer) indexes(f nftField, m *ir.Match) {
	names := ir.ValueStrings(m.Field.Spec().Kind, m.Values)
	ref := func(name string) []byte {
		index := make([]byte, 4)
		l.interfaces = append(l.interfaces, interfaceRef{name: name, pos: m.Pos, end: m.End, index: index})
		return index
	}
	l.emit(f.load(f.size))
	if len(names) == 1 {
		l.emit(&expr.Cmp{Op: cmpOp(m.Op), Register: 1, Data: ref(names[0])})
		return
	}
	elems := make([]keyRange, len(names))
	for i, n := range names {
		elems[i] = single(ref(n))
	}
	l.lookup(f.keyType, elems, false, m.Op)
}

// Interfaces lists the interfaces the batch's iif and oif matches name,
// once each.
func (b *Batch) Interfaces() []string {
	var names []string
	seen := map[string]bool{}
	b.eachInterface(func(r interfaceRef) {
		if !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	})
	return names
}

// ResolveInterfaces writes each interface's index into the batch, as
// index, asked of the namespace the batch is for, gives it. An interface
// that is not there is an error at the match that names it, as nft's.
func (b *Batch) ResolveInterfaces(index func(name string) (uint32, bool)) error {
	var ds ir.Diagnostics
	b.eachInterface(func(r interfaceRef) {
		i, ok := index(r.name)
		if !ok {
			d := ds.Errorf(r.pos, "interface %s does not exist here: iif and oif match the index it has when the policy is loaded", r.name)
			d.End = r.end
			d.Hint = fmt.Sprintf("create %s first, or match its name with iifname/oifname %q, which also holds for one that comes and goes", r.name, r.name)
			return
		}
		binary.NativeEndian.PutUint32(r.index, i)
	})
	if ds.HasErrors() {
		return ds.Err()
	}
	b.resolved = true
	return nil
}

// Unresolved is an error when the batch names interfaces whose indexes
// were not looked up: sent so, its iif and oif would compare with 0.
func (b *Batch) Unresolved() error {
	if b.resolved || len(b.Interfaces()) == 0 {
		return nil
	}
	return fmt.Errorf("nft: the batch's interfaces (%v) were not looked up in the namespace it is for", b.Interfaces())
}

func (b *Batch) eachInterface(fn func(interfaceRef)) {
	for _, t := range b.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, ref := range r.interfaces {
					fn(ref)
				}
			}
		}
	}
}
