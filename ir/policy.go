package ir

// Policy is a whole compiled policy: the tables it declares and whether it owns
// the entire ruleset or only those tables.
type Policy struct {
	// Source names the file the policy came from, for output headers.
	Source string
	// FlushRuleset means the policy replaces the whole ruleset, like nft's
	// "flush ruleset"; otherwise only the policy's own tables are replaced.
	FlushRuleset bool
	// Options lists the options that were enabled, sorted.
	Options []string
	Tables  []*Table
	// IPv6 says what the policy wants done about IPv6 beyond the firewall.
	IPv6 IPv6Plan
}

// Table is a firewall table of one family holding base chains.
type Table struct {
	Pos    Pos
	Family Family
	Name   string
	Chains []*Chain
}

// Chain is a base chain: it is attached to a netfilter hook and has a policy
// for packets that no rule decides.
type Chain struct {
	Pos      Pos
	Name     string
	Hook     Hook
	Priority int
	Policy   Verdict
	Rules    []*Rule
}

// Rule matches packets and applies statements and a verdict to those it matches.
// All matches must hold (they are ANDed); a set inside one match is an OR.
type Rule struct {
	Pos        Pos
	Matches    []Match
	Statements []Statement
	// Verdict is NoVerdict when the rule only counts or logs.
	Verdict Verdict
	Comment string
	// Option names the option that enabled the rule, or is empty.
	Option string
}

// Family is an address family: of a table (where Inet means both) or of a
// match or address (IPv4 or IPv6 only).
type Family uint8

const (
	Inet Family = iota
	IPv4
	IPv6
)

// String gives the family's nft spelling: inet, ip or ip6.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ip"
	case IPv6:
		return "ip6"
	default:
		return "inet"
	}
}

// Covers reports whether traffic of family g can reach a table of family f.
func (f Family) Covers(g Family) bool { return f == Inet || g == Inet || f == g }

// Hook is a netfilter hook a base chain attaches to.
type Hook uint8

const (
	HookInput Hook = iota + 1
	HookOutput
	HookForward
	HookPrerouting
	HookPostrouting
)

// Hooks maps each hook's name to its value, in the order nft documents them.
var Hooks = map[string]Hook{
	"prerouting": HookPrerouting, "input": HookInput, "forward": HookForward,
	"output": HookOutput, "postrouting": HookPostrouting,
}

func (h Hook) String() string {
	for name, v := range Hooks {
		if v == h {
			return name
		}
	}
	return "invalid"
}

// Verdict decides a packet's fate.
type Verdict uint8

const (
	NoVerdict Verdict = iota
	Accept
	Drop
	Reject
)

func (v Verdict) String() string {
	return [...]string{"", "accept", "drop", "reject"}[v]
}

// Statement is something a rule does besides its verdict: Counter or Log.
type Statement interface{ statement() }

// Counter counts the packets and bytes the rule matched.
type Counter struct{ Pos Pos }

// Log writes matched packets to the kernel log.
type Log struct {
	Pos    Pos
	Prefix string
	// Level is empty for the kernel's default (warn).
	Level string
}

func (Counter) statement() {}
func (Log) statement()     {}

// LogLevels are the syslog levels nft and iptables accept for log statements.
var LogLevels = []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// Family returns the only family the rule's packets can have, or Inet when
// the rule applies to both IPv4 and IPv6. Validate refuses rules whose
// matches disagree, so the first family-bound match decides.
func (r *Rule) Family() Family {
	for _, m := range r.Matches {
		if f := m.family(); f != Inet {
			return f
		}
	}
	return Inet
}
