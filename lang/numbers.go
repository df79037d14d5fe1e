package lang

import (
	"errors"
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

// numbers reads values of a kind of numbers, states or flags, as its
// row in ir says they are written: names, numbers up to the kind's width,
// ranges where it takes them, and names lookup resolves (users and
// groups, when the policy is compiled). Each bad element is reported at
// its own position.
func (rb *ruleBuilder) numbers(sel *ir.Selector, kind ir.Kind, elems []elem) (ir.Set, bool) {
	lookup := rb.lookupID(kind.Spec().Lookup)
	spans := make([]ir.Span, 0, len(elems))
	ok := true
	for _, e := range elems {
		lo, hi, err := numberValue(kind, e, lookup)
		if err != nil {
			ok = false
			if rb.badNumber(sel, kind, e, err) {
				break
			}
			continue
		}
		sp := ir.NumberSpan(lo, hi)
		if slices.Contains(spans, sp) {
			rb.ds.Warnf(e.pos, "%s appears twice in this set", e.text)
			continue
		}
		spans = append(spans, sp)
	}
	set := ir.OwnSet(spans)
	if ok && len(set) != len(spans) {
		rb.ds.Warnf(elems[0].pos, "%s in this set overlap", kind).Hint = "ksc merges them: " + ir.FormatValues(kind, set)
	}
	return set, ok
}

// badNumber reports an element that is not a value of the kind; it
// returns true when the caller should stop, so that a wrong-kind $NAME is
// reported once.
func (rb *ruleBuilder) badNumber(sel *ir.Selector, kind ir.Kind, e elem, err error) bool {
	var bad *badValue
	if errors.As(err, &bad) {
		rb.errorf(e.pos, e.end(), "%s: %s", sel.Words, bad.msg).Hint = bad.hint
		return false
	}
	d, stop := rb.wrongKind(e, "%s needs %s, %s", sel.Words, kind, e.describe())
	d.Hint = "use " + vocabulary(kind)
	if kind.Spec().Lookup != ir.LookupNone && (e.quoted || !isDigits(e.text)) {
		d.Message = fmt.Sprintf("%s: %v", sel.Words, err)
		d.Hint = "names are looked up when the policy is compiled, on the machine that compiles it; or give the number"
	}
	var names []string
	for _, n := range slices.Concat(kind.Names(), kind.Spec().Aliases) {
		names = append(names, n.Name)
	}
	if best, near := closest(e.text, names); near && !e.quoted && kind.Spec().Lookup == ir.LookupNone {
		if len(names) > 6 {
			d.Hint = "did you mean " + best + "?"
		} else {
			d.Hint = "did you mean " + best + "? or " + d.Hint // it may be none of them: sctp is no tcp
		}
	}
	return stop
}

// badValue is a value of the right kind that cannot be: out of range, or
// a range whose ends are the wrong way round.
type badValue struct{ msg, hint string }

func (b *badValue) Error() string { return b.msg }

var errNotOfKind = errors.New("not a value of the kind")

// numberValue reads one element: a value, or a range "lo-hi" of values.
func numberValue(kind ir.Kind, e elem, lookup func(string) (uint32, error)) (uint32, uint32, error) {
	if e.quoted && lookup != nil {
		v, err := lookup(e.text) // nft reads meta skuid "root"
		return v, v, err
	}
	if v, ok := kind.ValueOf(e.text); e.quoted && ok {
		return v, v, nil // nft lists some names quoted: iifgroup "default"
	}
	if e.quoted {
		return 0, 0, errNotOfKind
	}
	spec := kind.Spec()
	one := func(s string) (uint32, error) {
		if v, ok := kind.ValueOf(s); ok {
			return v, nil
		}
		if spec.NamesOnly {
			return 0, errNotOfKind // families, states, packet and address types have names only
		}
		if n, err := strconv.ParseUint(s, 0, 64); err == nil {
			if n > kind.Max() {
				return 0, &badValue{msg: fmt.Sprintf("%s is out of range 0-%s", s, kind.NameOf(uint32(kind.Max())))}
			}
			return uint32(n), nil
		}
		if lookup != nil {
			return lookup(s) // user names may hold '-': systemd-network
		}
		return 0, errNotOfKind
	}
	v, err := one(e.text)
	if err == nil || !spec.Ranges {
		return v, v, err
	}
	// Names hold '-' too (echo-request): try every cut.
	for i := strings.IndexByte(e.text, '-'); i >= 0; i = nextDash(e.text, i) {
		if lookup != nil && !(isDigits(e.text[:i]) && isDigits(e.text[i+1:])) {
			continue // ids range by number; "systemd-network" is one name
		}
		lo, err1 := one(e.text[:i])
		hi, err2 := one(e.text[i+1:])
		switch {
		case err1 != nil || err2 != nil:
			if errors.As(err1, new(*badValue)) {
				return 0, 0, err1
			}
			if errors.As(err2, new(*badValue)) {
				return 0, 0, err2
			}
		case lo > hi:
			return 0, 0, &badValue{msg: fmt.Sprintf("range %s is empty: its first value is above its last", e.text),
				hint: fmt.Sprintf("did you mean %s-%s?", e.text[i+1:], e.text[:i])}
		default:
			return lo, hi, nil
		}
	}
	return 0, 0, err
}

func nextDash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '-')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// vocabulary says how values of the kind are written, for hints.
func vocabulary(kind ir.Kind) string {
	spec := kind.Spec()
	var names []string
	for _, n := range spec.Names {
		names = append(names, n.Name)
	}
	switch {
	case spec.Shape == ir.ShapeFlags:
		return strings.Join(names, ", ") + ", joined by '|' for several"
	case spec.NamesOnly:
		return "one of: " + strings.Join(names, ", ")
	case len(names) > 0:
		return "one of: " + strings.Join(names, ", ") + ", or a number"
	case spec.Ranges && len(spec.Aliases) > 0:
		return fmt.Sprintf("a number from 0 to %s, a range of them, or a name such as %s: e.g. %s", kind.NameOf(uint32(kind.Max())), spec.Aliases[0].Name, spec.Example)
	case spec.Ranges:
		return fmt.Sprintf("a number from 0 to %s, or a range of them: e.g. %s", kind.NameOf(uint32(kind.Max())), spec.Example)
	}
	return fmt.Sprintf("a number from 0 to %s (e.g. %s); ranges are not supported", kind.NameOf(uint32(kind.Max())), spec.Example)
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
func (b *builder) lookupID(kind ir.Lookup) func(string) (uint32, error) {
	lookup, group := lookupUser, false
	switch kind {
	case ir.LookupNone:
		return nil
	case ir.LookupGroup:
		lookup, group = lookupGroup, true
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
