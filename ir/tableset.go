package ir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TableSet is a set a table declares by name: either a set of addresses
// ("flags interval", with elements) that rules look up as @NAME and that
// other programs (a VPN client's hook, fail2ban) may change at runtime, or
// a dynamic set ("flags dynamic") that rules fill as packets arrive, to
// keep a rate limit for each source (see Meter). Either way its elements
// are the kernel's once loaded: status and diff never compare them.
type TableSet struct {
	Pos  Pos
	Name string
	// Kind is the kind of its keys, one of SetKinds.
	Kind Kind
	// Size is how many keys it holds at most; 0 means nft's default.
	Size uint32
	// Timeout, when not zero, forgets a key that long after it was added
	// (or last updated, for "update").
	Timeout time.Duration
	Dynamic bool
	// Timeouts: its keys may expire ("flags timeout"), after Timeout or
	// after the time the rule that adds one gives it.
	Timeouts bool
	// Interval sets hold prefixes and ranges; ksc declares every address
	// set it looks up so.
	Interval bool
	// Elements are the keys it starts with (of Kind).
	Elements Set
}

// DefaultSetSize is the size nft gives a dynamic set that names none.
const DefaultSetSize = 65535

// EffectiveSize is the number of keys the kernel lets the set hold.
func (s *TableSet) EffectiveSize() uint32 {
	if s.Size == 0 {
		return DefaultSetSize
	}
	return s.Size
}

// Expires reports whether the set's keys may expire: flags timeout, or a
// timeout of its own.
func (s *TableSet) Expires() bool { return s.Timeouts || s.Timeout != 0 }

// TypeName is the set's type as nft writes it.
func (s *TableSet) TypeName() string { return s.Kind.Spec().TypeName }

// SetOp is how a rule writes a key into a dynamic set.
type SetOp uint8

const (
	// SetAdd adds the key if it is not there; the timeout runs from then.
	SetAdd SetOp = iota + 1
	// SetUpdate also restarts the timeout of a key already there.
	SetUpdate
)

func (o SetOp) String() string {
	switch o {
	case SetAdd:
		return "add"
	case SetUpdate:
		return "update"
	}
	return "invalid set operation"
}

// Meter makes its Limit one rate limit for each value of Key, kept in the
// dynamic set Set: "update @ssh { ip saddr limit rate over 3/minute }"
// limits each source address on its own, as nft's meters did and
// iptables' hashlimit does.
type Meter struct {
	Op  SetOp
	Set *TableSet
	Key Field
}

// SetWrite is "add|update @SET { KEY [timeout T] }": the packet's key
// goes into a dynamic set, which other rules then look up ("ip saddr
// @blackhole drop"). Timeout, when not zero, is the key's own, in place
// of the set's.
type SetWrite struct {
	Pos     Pos
	Op      SetOp
	Set     *TableSet
	Key     Field
	Timeout time.Duration
}

// Text is the statement as nft lists it.
func (w *SetWrite) Text() string {
	key := w.Key.String()
	if w.Timeout != 0 {
		key += " timeout " + FormatTimeout(w.Timeout)
	}
	return fmt.Sprintf("%s @%s { %s }", w.Op, w.Set.Name, key)
}

// MeterKeys are the fields a meter can be keyed by.
var MeterKeys = []Field{FieldIPSaddr, FieldIPDaddr, FieldIP6Saddr, FieldIP6Daddr}

// Text is the statement as nft lists it, around the limit's text.
func (m *Meter) Text(limit string) string {
	return fmt.Sprintf("%s @%s { %s %s }", m.Op, m.Set.Name, m.Key, limit)
}

// RefillTime is how long an idle key's limit takes to fill its burst
// again: past it, forgetting the key changes nothing.
func (l *Limit) RefillTime() time.Duration {
	if l.Conns != 0 || l.Rate == 0 {
		return 0 // a cap on connections has no bucket
	}
	if l.Bytes {
		// A byte limit's bucket holds its rate and its burst.
		return time.Duration((l.Rate + uint64(l.Burst)) * l.Unit.Seconds() * uint64(time.Second) / l.Rate)
	}
	return time.Duration(uint64(l.EffectiveBurst()) * l.Unit.Seconds() * uint64(time.Second) / l.Rate)
}

// validateSets checks the table's set declarations.
func validateSets(t *Table, ds *Diagnostics) {
	seen := map[string]*TableSet{}
	for _, s := range t.Sets {
		if prev, dup := seen[s.Name]; dup {
			ds.Errorf(s.Pos, "set %s is declared twice in table %s %s", s.Name, t.Family, t.Name).Hint = "the first declaration is at " + prev.Pos.String()
			continue
		}
		seen[s.Name] = s
		if err := CheckName(s.Name); err != nil {
			ds.Errorf(s.Pos, "bad set name: %v", err)
		}
		if !slices.Contains(SetKinds(), s.Kind) {
			ds.Errorf(s.Pos, "set %s has a type ksc cannot declare", s.Name).Hint = "use type ipv4_addr or type ipv6_addr"
		}
		switch {
		case s.Dynamic && (s.Interval || len(s.Elements) > 0):
			ds.Errorf(s.Pos, "dynamic set %s starts empty and holds single keys: no interval flag, no elements", s.Name)
		case !s.Dynamic && !s.Interval:
			ds.Errorf(s.Pos, "set %s needs flags interval (ksc writes address sets so, to hold prefixes and ranges) or flags dynamic", s.Name).Hint =
				"add \"flags interval\" for a set that rules look up as @" + s.Name + "; \"flags dynamic\" for one that a per-key limit fills"
		case !s.Dynamic && (s.Size != 0 || s.Expires()):
			ds.Errorf(s.Pos, "set %s: size and timeout are for dynamic sets", s.Name)
		}
		if s.Timeout < 0 || s.Timeout%time.Second != 0 {
			ds.Errorf(s.Pos, "set %s has a timeout of %s; ksc writes whole seconds", s.Name, s.Timeout)
		}
	}
	writers := map[*TableSet]*SetWrite{}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, st := range r.Statements {
				if w, ok := st.(*SetWrite); ok && validateSetWrite(t, w, ds) {
					writers[w.Set] = w
				}
			}
		}
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			for _, m := range r.Matches {
				if m.Set != nil {
					validateLookup(t, m, writers[m.Set] != nil, ds)
					continue
				}
				if s := seen[m.SetName]; s != nil {
					ds.Errorf(s.Pos, "set %s has the name of the file set $%s, which table %s %s also holds", s.Name, m.SetName, t.Family, t.Name).Hint = "rename one of them"
					delete(seen, m.SetName)
				}
			}
		}
	}
	users := map[*TableSet]*Limit{}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			l := r.Limit()
			if l == nil || l.Meter == nil {
				continue
			}
			validateMeter(t, l, users, ds)
			if w := writers[l.Meter.Set]; w != nil && users[l.Meter.Set] == l {
				ds.Errorf(l.Pos, "set %s keeps this rule's rate limits, and the rule at %s adds keys to it", l.Meter.Set.Name, w.Pos).Hint =
					"declare a set for the limits and another for the keys"
			}
		}
	}
}

// validateSetWrite checks "add|update @SET { KEY [timeout T] }": a
// dynamic set of the table, of the key's type, whose keys may expire if
// the statement gives them a timeout.
func validateSetWrite(t *Table, w *SetWrite, ds *Diagnostics) bool {
	switch {
	case w.Set == nil || !slices.Contains(t.Sets, w.Set):
		ds.Errorf(w.Pos, "%s writes to a set table %s %s does not declare", w.Op, t.Family, t.Name)
	case !validateKeyedWrite(t, w.Pos, w.Text(), w.Op, w.Set, w.Key, ds):
	case w.Timeout != 0 && !w.Set.Expires():
		ds.Errorf(w.Pos, "%s gives its key a timeout, and set %s keeps keys for ever", w.Text(), w.Set.Name).Hint = "declare the set with flags dynamic,timeout"
	case w.Timeout < 0 || w.Timeout%time.Second != 0:
		ds.Errorf(w.Pos, "%s has a timeout of %s; ksc writes whole seconds", w.Text(), w.Timeout)
	default:
		return true
	}
	return false
}

// validateKeyedWrite checks what a meter and a SetWrite share: a known
// operation, writing a key of an address field, of the set's type and
// of a family the table sees, into a dynamic set.
func validateKeyedWrite(t *Table, pos Pos, text string, op SetOp, set *TableSet, key Field, ds *Diagnostics) bool {
	switch {
	case op != SetAdd && op != SetUpdate:
		ds.Errorf(pos, "unknown set operation %d", op)
	case !slices.Contains(MeterKeys, key):
		ds.Errorf(pos, "%s: ksc keys dynamic sets by address", text).Hint = "key it by ip saddr, ip daddr, ip6 saddr or ip6 daddr"
	case key.Spec().Kind != set.Kind:
		ds.Errorf(pos, "%s: set %s holds %s keys, not %s", text, set.Name, set.TypeName(), key).Hint =
			"key it by a field of the set's type, or declare the set with the key's type"
	case !t.Family.Covers(key.Spec().Family):
		ds.Errorf(pos, "%s can never hold in table %s %s: it keys %s packets", text, t.Family, t.Name, key.Spec().Family)
	case !set.Dynamic:
		ds.Errorf(pos, "%s writes to set %s, which is not dynamic", text, set.Name).Hint = "add \"flags dynamic\" to the set"
	default:
		return true
	}
	return false
}

// validateLookup checks a match on a declared set: the table's own, of
// the field's kind, and not dynamic unless rules write keys into it
// (written).
func validateLookup(t *Table, m *Match, written bool, ds *Diagnostics) {
	switch {
	case !slices.Contains(t.Sets, m.Set):
		ds.Errorf(m.Pos, "%s looks up set %s, which table %s %s does not declare", m.Field, m.Set.Name, t.Family, t.Name)
	case m.Set.Kind != m.Field.Spec().Kind:
		ds.Errorf(m.Pos, "%s cannot look up set %s of %s", m.Field, m.Set.Name, m.Set.TypeName())
	case m.Set.Dynamic && !written:
		ds.Errorf(m.Pos, "%s looks up dynamic set %s, which no rule adds keys to", m.Field, m.Set.Name).Hint =
			"add keys with add @" + m.Set.Name + " { " + m.Field.String() + " }; the keys of a set a limit keeps are not looked up"
	case m.SetName != m.Set.Name:
		ds.Errorf(m.Pos, "%s looks up set %s by the name %s", m.Field, m.Set.Name, m.SetName)
	}
}

// validateMeter checks a meter's set and key. Each dynamic set serves one
// rule: two rules writing one set would share keys with different limits,
// which iptables' hashlimit cannot say.
func validateMeter(t *Table, l *Limit, users map[*TableSet]*Limit, ds *Diagnostics) {
	m := l.Meter
	switch {
	case !validateKeyedWrite(t, l.Pos, l.Text(), m.Op, m.Set, m.Key, ds):
	case users[m.Set] != nil:
		ds.Errorf(l.Pos, "set %s is already filled by the rule at %s; each dynamic set serves one rule", m.Set.Name, users[m.Set].Pos).Hint =
			"declare a set for each rule"
	default:
		users[m.Set] = l
	}
}

type timeoutUnit struct {
	name string
	d    time.Duration
}

// timeoutUnits are nft's time units, largest first.
var timeoutUnits = []timeoutUnit{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}

// ParseTimeout reads a time as nft writes it: "90s", "10m", "1h30m", "1d".
func ParseTimeout(s string) (time.Duration, bool) {
	var total time.Duration
	rest := s
	next := 0 // units must come largest first, each once
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(rest) {
			return 0, false
		}
		n, _ := strconv.Atoi(rest[:i])
		u := slices.IndexFunc(timeoutUnits[next:], func(u timeoutUnit) bool { return u.name == rest[i:i+1] })
		if u < 0 {
			return 0, false
		}
		total += time.Duration(n) * timeoutUnits[next+u].d
		next += u + 1
		rest = rest[i+1:]
	}
	return total, total > 0
}

// FormatTimeout writes a whole number of seconds as nft lists it ("1h30m").
func FormatTimeout(d time.Duration) string {
	var b strings.Builder
	for _, u := range timeoutUnits {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}

// WithSetElements is p with set s of table t holding keys: the set, and
// every match that looks it up, in a copy of t; p is unchanged. (ksc set
// judges the flows a set change refuses by it.)
func (p *Policy) WithSetElements(t *Table, s *TableSet, keys Set) *Policy {
	out := *p
	out.Tables = slices.Clone(p.Tables)
	i := slices.Index(p.Tables, t)
	if i < 0 {
		return &out
	}
	nt := *t
	ns := *s
	ns.Elements = keys
	nt.Sets = slices.Clone(t.Sets)
	if j := slices.Index(t.Sets, s); j >= 0 {
		nt.Sets[j] = &ns
	}
	chains := map[*Chain]*Chain{}
	nt.Chains = make([]*Chain, len(t.Chains))
	for j, c := range t.Chains {
		nc := *c
		nt.Chains[j], chains[c] = &nc, &nc
	}
	for _, c := range nt.Chains {
		rules := make([]*Rule, len(c.Rules))
		for k, r := range c.Rules {
			nr := *r
			if r.Target != nil {
				nr.Target = chains[r.Target]
			}
			nr.Matches = slices.Clone(r.Matches)
			for m, match := range nr.Matches {
				if match.Set == s {
					nm := *match
					nm.Set, nm.Values = &ns, keys
					nr.Matches[m] = &nm
				}
			}
			rules[k] = &nr
		}
		c.Rules = rules
	}
	out.Tables[i] = &nt
	return &out
}
