package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/ksc-project/ksc/backends/nft"
)

// Read returns the whole ruleset of the namespace c is connected to,
// which is the one at nsPath (this one when empty).
func Read(c *nftables.Conn, nsPath string) (*nft.Ruleset, error) { return readKnowing(c, nsPath, nil) }

// knownElements gives the elements of a set the caller sent itself, so
// that they need not be read back; false for others.
type knownElements func(t *nftables.Table, s *nftables.Set) (nft.Elements, bool)

// readKnowing is Read, taking the elements of the sets known gives from
// it instead of from the kernel.
func readKnowing(c *nftables.Conn, nsPath string, known knownElements) (*nft.Ruleset, error) {
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	rs := &nft.Ruleset{}
	for _, t := range tables {
		t.Flags = bigEndian(t.Flags)
		lt := &nft.LiveTable{Table: t, Sets: map[string]*nft.LiveSet{}}
		sets, err := c.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("listing sets of %s: %w", t.Name, err)
		}
		setAttrs, objectMaps, err := setAttrs(nsPath, t, sets)
		if err != nil {
			return nil, err
		}
		if lt.Objects, err = readObjects(nsPath, t); err != nil {
			return nil, err
		}
		if err := readFlowtables(nsPath, t, lt); err != nil {
			return nil, err
		}
		for _, s := range sets {
			lt.SetNames = append(lt.SetNames, s.Name)
			if s.Dynamic {
				// Its elements are the kernel's (per-source rate limits,
				// say), not the policy's: not compared, not restored.
				lt.Sets[s.Name] = &nft.LiveSet{Set: s, Attrs: setAttrs[s.Name]}
				continue
			}
			if known != nil {
				if elems, ok := known(t, s); ok {
					lt.Sets[s.Name] = &nft.LiveSet{Set: s, Elements: elems, Attrs: setAttrs[s.Name]}
					continue
				}
			}
			elems, err := dumpSetElements(nsPath, s)
			if errors.Is(err, errNotPlain) {
				var whole []nftables.SetElement
				if whole, err = c.GetSetElements(s); err == nil {
					err = verdictElements(s, whole)
				}
				elems = nft.ElementsOf(whole)
			}
			var raw [][]byte
			if err == nil && objectMaps[s.Name] {
				raw, err = dumpRawElements(nsPath, s)
			}
			if err != nil {
				return nil, fmt.Errorf("listing set %s: %w", s.Name, err)
			}
			lt.Sets[s.Name] = &nft.LiveSet{Set: s, Elements: elems, Attrs: setAttrs[s.Name], RawElements: raw}
		}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return nil, fmt.Errorf("listing rules of %s: %w", ch.Name, err)
			}
			lt.Chains = append(lt.Chains, &nft.LiveChain{Chain: ch, Rules: rules})
		}
		rs.Tables = append(rs.Tables, lt)
	}
	if err := readUserData(nsPath, rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// ReadNamespace reads the ruleset of the namespace at nsPath.
func ReadNamespace(nsPath string) (*nft.Ruleset, error) {
	c, err := Dial(nsPath)
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	return Read(c, nsPath)
}

// queueTable adds t as Read saw it: the table (its flags travel through
// dialRestoring), its chains, its objects, its sets with their elements in
// chunks, and its rules as raw lists them (google/nftables may not read
// a rule whole), re-linked to the batch's copies of their sets. What
// t.Unrestorable names it cannot add: a snapshot of t is refused.
func queueTable(c batchConn, t *nft.LiveTable, raw rawRules) error {
	table := c.AddTable(&nftables.Table{Name: t.Table.Name, Family: t.Table.Family})
	// Every chain before any rule or set element: a rule may jump to a
	// chain listed after its own, and so may a verdict map's element.
	chains := make([]nftables.Chain, len(t.Chains))
	for i, ch := range t.Chains {
		chains[i] = *ch.Chain
		chains[i].Table = table
		c.AddChain(&chains[i])
	}
	if len(t.SetNames) != len(t.Sets) {
		return fmt.Errorf("restoring %s: its sets are not all listed in SetNames", nft.TableName(t.Table))
	}
	// Objects before sets and rules: a map's data or a rule may name one.
	for _, o := range t.Objects {
		queueObject(c, table, o)
	}
	ids := map[string]*nftables.Set{}
	for _, name := range t.SetNames {
		ls := t.Sets[name]
		s := *ls.Set
		s.Table, s.ID = table, 0
		switch {
		case s.Anonymous && !s.Constant:
			// A meter's set ("meter ssh_meter { ip saddr limit ... }"):
			// bound to its rule like an anonymous set, but dynamic and
			// named by its user, so it keeps its name. The library takes
			// neither, so the placeholder is a named set; it goes out
			// with the kernel's attributes, its flags among them.
			s.Anonymous = false
		case s.Anonymous:
			s.Name = ""
		}
		if ls.Attrs == nil || c.sets == nil {
			return fmt.Errorf("restoring %s: the kernel did not list set %s as it is now (did the ruleset change while ksc read it? try again)",
				nft.TableName(t.Table), name)
		}
		// The library's set is a placeholder: it goes out with the
		// attributes the kernel listed (its size, or none, among them).
		if err := c.AddSet(&s, nil); err != nil {
			return fmt.Errorf("restoring set %s: %w", name, err)
		}
		c.sets[s.ID] = ls.Attrs
		// Elements go in chunks: one message of thousands is refused.
		// SetAddElements refuses an anonymous set, but a copy not marked
		// so reaches the same set by its ID.
		filler := s
		filler.Anonymous = false
		if ls.RawElements != nil {
			if err := c.addRawElements(&filler, ls.RawElements); err != nil {
				return fmt.Errorf("restoring set %s: %w", name, err)
			}
			ids[name] = &s
			continue
		}
		for i := 0; i < ls.Elements.Len(); i += setChunk {
			if err := c.addElements(&filler, ls.Elements.Library(i, min(i+setChunk, ls.Elements.Len()))); err != nil {
				return fmt.Errorf("restoring set %s: %w", name, err)
			}
		}
		ids[name] = &s
	}
	// An anonymous chain's rules go before the rule that binds it.
	order := make([]int, 0, len(t.Chains))
	for _, binding := range []bool{true, false} {
		for i, ch := range t.Chains {
			if ch.Binding == binding {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		ch, chain := t.Chains[i], &chains[i]
		for _, rule := range ch.Rules {
			exprs, ok := raw.exprs[rule.Handle]
			if !ok || c.rules == nil {
				return fmt.Errorf("restoring %s: the kernel did not list rule %d of chain %s as it is now (did the ruleset change while ksc read it? try again)",
					nft.TableName(t.Table), rule.Handle, chain.Name)
			}
			data, err := rawRuleData(table, chain.Name, exprs, rule.UserData, ids)
			if err != nil {
				return fmt.Errorf("restoring a rule of %s: %w", chain.Name, err)
			}
			c.rules.addRule(c.Conn, &nftables.Rule{Table: table, Chain: chain}, data)
		}
	}
	return nil
}

// bigEndian corrects a 32-bit attribute google/nftables v0.3.0 decodes in
// the host's byte order although the kernel sends it big-endian (table
// flags: a dormant table reads as 0x01000000 on x86).
func bigEndian(v uint32) uint32 {
	return binary.BigEndian.Uint32(binary.NativeEndian.AppendUint32(nil, v))
}
