package lang

import (
	"fmt"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// parseUint32 reads a decimal or 0x-hexadecimal number.
func parseUint32(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 0, 32)
	return uint32(v), err
}

// named reads values of a kind with a vocabulary (ICMP types and codes,
// families): names, numbers up to max, and ranges of them.
func (rb *ruleBuilder) named(sel *ir.Selector, kind ir.Kind, elems []elem, max uint32) (ir.Set, bool) {
	var spans []ir.Span
	ok := true
	for _, e := range elems {
		lo, hi, good := rb.namedValue(kind, e, max)
		if !good {
			d, stop := rb.wrongKind(e, "%s needs %s, %s", sel.Words, kind, e.describe())
			d.Hint = "use one of: " + vocabulary(kind)
			var names []string
			for _, n := range kind.Names() {
				names = append(names, n.Name)
			}
			if best, near := closest(e.text, names); near && !e.quoted {
				d.Hint = "did you mean " + best + "?"
			}
			ok = false
			if stop {
				break
			}
			continue
		}
		spans = append(spans, ir.NumberSpan(lo, hi))
	}
	return ir.OwnSet(spans), ok
}

func (rb *ruleBuilder) namedValue(kind ir.Kind, e elem, max uint32) (uint32, uint32, bool) {
	if e.quoted {
		return 0, 0, false
	}
	one := func(s string) (uint32, bool) {
		if v, ok := kind.ValueOf(s); ok {
			return v, true
		}
		if kind.NamesOnly() {
			return 0, false // families, packet and address types have names only
		}
		v, err := parseUint32(s)
		return v, err == nil && v <= max
	}
	if v, ok := one(e.text); ok {
		return v, v, true
	}
	if kind == ir.KindTCPFlags {
		return 0, 0, false // flags are names (joined by '|') or numbers, never ranges
	}
	if a, b, isRange := strings.Cut(e.text, "-"); isRange {
		lo, ok1 := one(a)
		hi, ok2 := one(b)
		if ok1 && ok2 && lo <= hi {
			return lo, hi, true
		}
	}
	return 0, 0, false
}

func vocabulary(kind ir.Kind) string {
	var names []string
	for _, n := range kind.Names() {
		names = append(names, n.Name)
	}
	if kind == ir.KindTCPFlags {
		for _, n := range ir.TCPFlagNames {
			names = append(names, n.Name)
		}
		return strings.Join(names, ", ") + ", joined by '|' for several"
	}
	if !kind.NamesOnly() {
		names = append(names, "or a number")
	}
	return strings.Join(names, ", ")
}

// numbers reads 32-bit values: numbers, or names that lookup resolves
// (users and groups, when the policy is compiled). Ranges are refused:
// nft would compare host-order numbers byte by byte.
func (rb *ruleBuilder) numbers(sel *ir.Selector, kind ir.Kind, elems []elem, lookup func(string) (uint32, error)) (ir.Set, bool) {
	var values []uint32
	ok := true
	for _, e := range elems {
		v, err := parseUint32(e.text)
		if err != nil && lookup != nil && !e.quoted && e.kind() != "a port range" {
			v, err = lookup(e.text) // user names may hold '-': systemd-network
		}
		if err != nil || e.quoted {
			at, end := e.where()
			msg := fmt.Sprintf("%s needs %s, %s", sel.Words, kind, e.describe())
			hint := "a number, e.g. 0x1 or 42; ranges are not supported"
			if lookup != nil && err != nil && !isDigits(e.text) {
				msg = fmt.Sprintf("%s: %v", sel.Words, err)
				hint = "names are looked up when the policy is compiled, on the machine that compiles it; or give the number"
			}
			rb.errorf(at, end, "%s", msg).Hint = hint
			ok = false
			continue
		}
		if slices.Contains(values, v) {
			rb.ds.Warnf(e.pos, "%s appears twice in this set", e.text)
			continue
		}
		values = append(values, v)
	}
	return ir.NumberSet(values...), ok
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// lookupUser gives a user name's uid. Built without cgo (as ksc is
// released: a static binary starts 1.6 ms sooner), os/user reads only
// /etc/passwd; a user only NSS knows (systemd's DynamicUser, LDAP) is then
// asked of getent, as nft's own getpwnam would find it.
func lookupUser(name string) (uint32, error) {
	if u, err := user.Lookup(name); err == nil {
		return parseUint32(u.Uid)
	}
	if id, ok := getent("passwd", name); ok {
		return id, nil
	}
	return 0, fmt.Errorf("no user %q on this machine", name)
}

// lookupGroup gives a group name's gid, as lookupUser does a uid.
func lookupGroup(name string) (uint32, error) {
	if g, err := user.LookupGroup(name); err == nil {
		return parseUint32(g.Gid)
	}
	if id, ok := getent("group", name); ok {
		return id, nil
	}
	return 0, fmt.Errorf("no group %q on this machine", name)
}

// idName is a user or group name to look up.
type idName struct {
	group bool
	name  string
}

// idFound is what looking a name up gave.
type idFound struct {
	id  uint32
	err error
}

// lookupID looks user (or group) names up once for the whole policy: a
// name only NSS knows costs a getent process, and a policy may name the
// same user in every rule.
func (b *builder) lookupID(group bool) func(string) (uint32, error) {
	lookup := lookupUser
	if group {
		lookup = lookupGroup
	}
	return func(name string) (uint32, error) {
		key := idName{group, name}
		if f, ok := b.ids[key]; ok {
			return f.id, f.err
		}
		id, err := lookup(name)
		if b.ids == nil {
			b.ids = map[idName]idFound{}
		}
		b.ids[key] = idFound{id, err}
		return id, err
	}
}

// getentCommand is the program asked for names /etc files do not hold.
var getentCommand = "getent"

// getent looks name up in an NSS database (passwd or group) and gives its
// third field, the id. A name that getent would read as an option or a
// number is never asked.
func getent(database, name string) (uint32, bool) {
	if name == "" || name[0] == '-' || isDigits(name) {
		return 0, false
	}
	out, err := exec.Command(getentCommand, database, name).Output()
	if err != nil {
		return 0, false
	}
	fields := strings.Split(strings.TrimSuffix(string(out), "\n"), ":")
	if len(fields) < 3 || fields[0] != name || strings.Contains(fields[2], "\n") {
		return 0, false
	}
	id, err := parseUint32(fields[2])
	return id, err == nil
}
