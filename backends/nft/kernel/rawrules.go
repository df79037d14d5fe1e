package kernel

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// chainRules are a table's rules as the kernel lists them, by chain: each
// rule as its expressions in the kernel's own encoding (see rawExpr).
type chainRules map[string][]string

// readRawRules lists the rules of table t in the namespace at nsPath.
//
// google/nftables v0.3.0 drops every expression it cannot decode (socket,
// xfrm, byteorder, dup, tproxy, osf, rt, ...) from a rule it lists,
// without a word: "meta l4proto tcp socket transparent 1 accept" came back
// from a restore as "meta l4proto tcp meta l4proto icmp accept". Both the
// snapshot and the restored copy are read through the library, so their
// fingerprints agree; the kernel's own listing of each is what tells.
func readRawRules(nsPath string, t *nftables.Table) (chainRules, error) {
	rules := chainRules{}
	err := dump(nsPath, unix.NFT_MSG_GETRULE, t.Family, []netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.Name + "\x00")},
	}, func(attrs []byte) error {
		var chain string
		var rule []string
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_RULE_CHAIN:
				chain = string(trimNUL(value))
			case unix.NFTA_RULE_EXPRESSIONS:
				return walkAttrs(value, func(_ uint16, e []byte) error {
					text, err := rawExpr(e)
					rule = append(rule, text)
					return err
				})
			}
			return nil
		})
		rules[chain] = append(rules[chain], strings.Join(rule, " "))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the rules of %s: %w", t.Name, err)
	}
	return rules, nil
}

// volatileExprs are the expressions whose data a restore need not bring
// back byte for byte: what counts traffic, which goes on between two
// listings, and what names a set, whose anonymous name a restore may
// change (the library's fingerprint compares the set itself).
var volatileExprs = []string{"counter", "quota", "lookup", "dynset", "objref"}

// rawExpr writes one expression as its name and, unless it is volatile,
// its data in hex: "payload(...)".
func rawExpr(attrs []byte) (string, error) {
	var name string
	var data []byte
	err := walkAttrs(attrs, func(typ uint16, value []byte) error {
		switch typ {
		case unix.NFTA_EXPR_NAME:
			name = string(trimNUL(value))
		case unix.NFTA_EXPR_DATA:
			data = value
		}
		return nil
	})
	if slices.Contains(volatileExprs, name) {
		return name, err
	}
	return name + "(" + hex.EncodeToString(data) + ")", err
}

// firstRuleDifference names the first rule of want that got lists
// differently, or returns "" when they agree.
func firstRuleDifference(table TableRef, got, want chainRules) string {
	var chains []string
	for _, rules := range []chainRules{want, got} {
		for chain := range rules {
			if !slices.Contains(chains, chain) {
				chains = append(chains, chain)
			}
		}
	}
	slices.Sort(chains)
	for _, chain := range chains {
		for i, rule := range want[chain] {
			back := "nothing"
			if i < len(got[chain]) {
				back = exprNames(got[chain][i])
			}
			if i >= len(got[chain]) || got[chain][i] != rule {
				return fmt.Sprintf("rule %d of chain %s in table %s, of expressions %s, would come back as %s",
					i+1, chain, table, exprNames(rule), back)
			}
		}
		if len(got[chain]) != len(want[chain]) {
			return fmt.Sprintf("chain %s in table %s would come back with %d rules, not %d", chain, table, len(got[chain]), len(want[chain]))
		}
	}
	return ""
}

// exprNames is a rawRule's expression names: "[meta cmp socket cmp]".
func exprNames(rule string) string {
	fields := strings.Fields(rule)
	for i, f := range fields {
		fields[i], _, _ = strings.Cut(f, "(")
	}
	return "[" + strings.Join(fields, " ") + "]"
}
