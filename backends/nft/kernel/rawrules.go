package kernel

import (
	"encoding/binary"
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

// rawRules are a table's rules as the kernel lists them: as text to
// compare, and each rule's expressions to restore, by handle.
type rawRules struct {
	chains chainRules
	exprs  map[uint64][]byte // NFTA_RULE_EXPRESSIONS, as listed
}

// readRawRules lists the rules of table t in the namespace at nsPath.
//
// google/nftables v0.3.0 drops every expression it cannot decode (socket,
// xfrm, byteorder, dup, tproxy, osf, rt, ...) from a rule it lists,
// without a word: "meta l4proto tcp socket transparent 1 accept" came back
// from a restore as "meta l4proto tcp meta l4proto icmp accept". A restore
// therefore sends each rule's expressions as the kernel listed them, and
// proves the copy against this listing, not against the library's.
func readRawRules(nsPath string, t *nftables.Table) (rawRules, error) {
	rules := rawRules{chains: chainRules{}, exprs: map[uint64][]byte{}}
	err := dump(nsPath, unix.NFT_MSG_GETRULE, t.Family, []netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.Name + "\x00")},
	}, func(attrs []byte) error {
		var chain string
		var handle uint64
		var exprs []byte
		var rule []string
		err := walkAttrs(attrs, func(typ uint16, value []byte) error {
			switch typ {
			case unix.NFTA_RULE_CHAIN:
				chain = string(trimNUL(value))
			case unix.NFTA_RULE_HANDLE:
				if len(value) != 8 {
					return errMalformedAttrs
				}
				handle = binary.BigEndian.Uint64(value)
			case unix.NFTA_RULE_EXPRESSIONS:
				exprs = append([]byte(nil), value...)
				return walkAttrs(value, func(_ uint16, e []byte) error {
					text, err := rawExpr(e)
					rule = append(rule, text)
					return err
				})
			}
			return nil
		})
		rules.chains[chain] = append(rules.chains[chain], strings.Join(rule, " "))
		rules.exprs[handle] = exprs
		return err
	})
	if err != nil {
		return rawRules{}, fmt.Errorf("reading the rules of %s: %w", t.Name, err)
	}
	return rules, nil
}

// rawRuleData is the data of a NEWRULE message that adds, to chain of
// table, a rule of the expressions exprs as the kernel listed them, with
// their set references relinked to the batch's copies (see relinkSets).
func rawRuleData(table *nftables.Table, chain string, exprs, userData []byte, sets map[string]*nftables.Set) ([]byte, error) {
	relinked, err := relinkSets(exprs, sets)
	if err != nil {
		return nil, err
	}
	a := attrs{b: []byte{byte(table.Family), unix.NFNETLINK_V0, 0, 0}}
	a.str(unix.NFTA_RULE_TABLE, table.Name)
	a.str(unix.NFTA_RULE_CHAIN, chain)
	a.bytes(unix.NFTA_RULE_EXPRESSIONS|unix.NLA_F_NESTED, relinked)
	if proto, flags, ok := xtCompat(exprs); ok {
		compat := a.open(unix.NFTA_RULE_COMPAT)
		a.u32(unix.NFTA_RULE_COMPAT_PROTO, proto)
		a.u32(unix.NFTA_RULE_COMPAT_FLAGS, flags)
		a.close(compat)
	}
	if userData != nil {
		a.bytes(unix.NFTA_RULE_USERDATA, userData)
	}
	if a.overflow {
		return nil, errMalformedAttrs
	}
	return a.b, nil
}

// nftRuleCompatInv is NFT_RULE_COMPAT_F_INV: the rule's protocol is
// negated (! -p tcp).
const nftRuleCompatInv = 1 << 1

// xtCompat is the protocol an xtables match or target in exprs (a rule
// iptables-nft wrote) is checked against, as iptables-nft sends it: the
// rule's own protocol match (-p tcp: meta l4proto, or the IPv4 protocol or
// IPv6 next header field), which the kernel does not list. Without it a
// match such as multiport is refused (EINVAL). ok is false when exprs has
// no xtables extension or no protocol match before one.
func xtCompat(exprs []byte) (proto, flags uint32, ok bool) {
	protoRegs := map[uint32]bool{}
	found := false
	_ = eachAttr(exprs, func(_ uint16, elem []byte) error {
		name, data, _ := splitExpr(elem)
		fields := map[uint16][]byte{}
		_ = walkAttrs(data, func(typ uint16, value []byte) error {
			fields[typ] = value
			return nil
		})
		u32 := func(typ uint16) (uint32, bool) {
			v := fields[typ]
			if len(v) != 4 {
				return 0, false
			}
			return binary.BigEndian.Uint32(v), true
		}
		switch name {
		case "meta":
			if key, _ := u32(unix.NFTA_META_KEY); key == unix.NFT_META_L4PROTO {
				reg, _ := u32(unix.NFTA_META_DREG)
				protoRegs[reg] = true
			}
		case "payload":
			base, _ := u32(unix.NFTA_PAYLOAD_BASE)
			offset, _ := u32(unix.NFTA_PAYLOAD_OFFSET)
			length, _ := u32(unix.NFTA_PAYLOAD_LEN)
			reg, _ := u32(unix.NFTA_PAYLOAD_DREG)
			// IPv4's protocol (offset 9) or IPv6's next header (offset 6).
			protoRegs[reg] = base == unix.NFT_PAYLOAD_NETWORK_HEADER && length == 1 && (offset == 9 || offset == 6)
		case "cmp":
			reg, _ := u32(unix.NFTA_CMP_SREG)
			op, _ := u32(unix.NFTA_CMP_OP)
			var value []byte
			_ = walkAttrs(fields[unix.NFTA_CMP_DATA], func(typ uint16, v []byte) error {
				if typ == unix.NFTA_DATA_VALUE {
					value = v
				}
				return nil
			})
			if protoRegs[reg] && len(value) == 1 && (op == unix.NFT_CMP_EQ || op == unix.NFT_CMP_NEQ) {
				proto, flags = uint32(value[0]), 0
				if op == unix.NFT_CMP_NEQ {
					flags = nftRuleCompatInv
				}
			}
		case "match", "target":
			found = true
		}
		return nil
	})
	return proto, flags, found && proto != 0
}

// setRefAttrs are, for each expression that names a set, the attributes
// of its set's name and of its set's ID in the batch.
var setRefAttrs = map[string][2]uint16{
	"lookup": {unix.NFTA_LOOKUP_SET, unix.NFTA_LOOKUP_SET_ID},
	"dynset": {unix.NFTA_DYNSET_SET_NAME, unix.NFTA_DYNSET_SET_ID},
	"objref": {unix.NFTA_OBJREF_SET_NAME, unix.NFTA_OBJREF_SET_ID},
}

// relinkSets rewrites each reference in exprs to a set of sets (by the
// name the kernel listed) into one to the set the batch makes of it: an
// anonymous set's copy gets a new name, and the batch knows it by its ID.
func relinkSets(exprs []byte, sets map[string]*nftables.Set) ([]byte, error) {
	out := make([]byte, 0, len(exprs)+32)
	err := eachAttr(exprs, func(elemType uint16, elem []byte) error {
		var name string
		var data []byte
		var dataType uint16
		if err := eachAttr(elem, func(typ uint16, value []byte) error {
			switch typ &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER) {
			case unix.NFTA_EXPR_NAME:
				name = string(trimNUL(value))
			case unix.NFTA_EXPR_DATA:
				data, dataType = value, typ
			}
			return nil
		}); err != nil {
			return err
		}
		ref, names := setRefAttrs[name]
		if !names && name != "exthdr" {
			out = appendAttr(out, elemType, elem)
			return nil
		}
		var relinked []byte
		if err := eachAttr(data, func(typ uint16, value []byte) error {
			bare := typ &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
			if s := sets[string(trimNUL(value))]; bare == ref[0] && s != nil {
				relinked = appendAttr(relinked, typ, append([]byte(s.Name), 0))
				relinked = appendAttr(relinked, ref[1], binary.BigEndian.AppendUint32(nil, s.ID))
				return nil
			}
			if bare != ref[1] && !dumpOnly(name, bare, value) {
				relinked = appendAttr(relinked, typ, value)
			}
			return nil
		}); err != nil {
			return err
		}
		var e []byte
		e = appendAttr(e, unix.NFTA_EXPR_NAME, append([]byte(name), 0))
		e = appendAttr(e, dataType, relinked)
		out = appendAttr(out, elemType, e)
		return nil
	})
	return out, err
}

// dumpOnly reports whether attribute typ of expression name is one the
// kernel lists but refuses back: a dynset lists a timeout of 0 when it
// sets none, and a set without timeouts refuses any (EOPNOTSUPP); an
// exthdr lists flags of 0, which one that writes (MSS clamping) refuses
// (EINVAL), and one that reads takes as none.
func dumpOnly(name string, typ uint16, value []byte) bool {
	zero := strings.Trim(string(value), "\x00") == ""
	return name == "dynset" && typ == unix.NFTA_DYNSET_TIMEOUT && zero ||
		name == "exthdr" && typ == unix.NFTA_EXTHDR_FLAGS && zero
}

// eachAttr calls fn with the type (flags kept) and the value of each
// netlink attribute in b.
func eachAttr(b []byte, fn func(typ uint16, value []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofNlAttr {
			return errMalformedAttrs
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofNlAttr || n > len(b) {
			return errMalformedAttrs
		}
		if err := fn(binary.NativeEndian.Uint16(b[2:]), b[unix.SizeofNlAttr:n]); err != nil {
			return err
		}
		b = b[min(nlaAlign(n), len(b)):]
	}
	return nil
}

// volatileExprs are the expressions whose data a restore need not bring
// back byte for byte: what counts traffic, which goes on between two
// listings, and what names a set, whose anonymous name a restore may
// change (the library's fingerprint compares the set itself).
var volatileExprs = []string{"counter", "quota", "lookup", "dynset", "objref"}

// rawExpr writes one expression as its name and, unless it is volatile,
// its data in hex: "payload(...)".
func rawExpr(attrs []byte) (string, error) {
	name, data, err := splitExpr(attrs)
	if slices.Contains(volatileExprs, name) {
		return name, err
	}
	return name + "(" + hex.EncodeToString(data) + ")", err
}

// splitExpr is an expression's name and data, as the kernel lists them.
func splitExpr(attrs []byte) (name string, data []byte, err error) {
	err = walkAttrs(attrs, func(typ uint16, value []byte) error {
		switch typ {
		case unix.NFTA_EXPR_NAME:
			name = string(trimNUL(value))
		case unix.NFTA_EXPR_DATA:
			data = value
		}
		return nil
	})
	return name, data, err
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
