package ir

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

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
	// SetFiles are the files the policy's file() sets were read from.
	SetFiles []SetFile
	// Routing are the routing tables the policy declares, applied after
	// its firewall rules and removed before them.
	Routing []*RoutingTable
}

// SetFile is a file a file() set was read from: Written as the policy (or
// a -D value) gives it, Path as ksc opened it (relative to the policy's
// directory, or for a -D value to the working directory).
type SetFile struct {
	Written, Path string
}

// Table is a firewall table of one family holding base chains.
type Table struct {
	Pos    Pos
	Family Family
	Name   string
	// Sets are the sets the table declares by name, in source order.
	Sets   []*TableSet
	Chains []*Chain
}

// Chain is a base chain, attached to a netfilter hook with a policy for
// packets that no rule decides, or a regular chain (Hook zero, no policy),
// which only jump and goto reach.
type Chain struct {
	Pos  Pos
	Name string
	// Type is ChainFilter but for a nat chain.
	Type ChainType
	// Hook is zero for a regular chain.
	Hook     Hook
	Priority int
	// Policy is NoVerdict for a regular chain.
	Policy Verdict
	Rules  []*Rule
	// Disabled holds the rules of options that are not enabled: they are
	// validated like the others, so that enabling an option cannot reveal
	// a mistake, and never written.
	Disabled []*Rule
}

// ChainType is what a base chain is for.
type ChainType uint8

const (
	// ChainFilter chains decide packets' fates.
	ChainFilter ChainType = iota
	// ChainNAT chains see the first packet of each new connection and
	// rewrite its addresses: the source at postrouting (snat,
	// masquerade), the destination at prerouting and output (dnat,
	// redirect).
	ChainNAT
	// ChainRoute chains filter at output like filter chains, and the
	// kernel routes a packet again when one changes its mark or addresses:
	// how a policy sends marked packets by another routing table.
	ChainRoute
)

func (t ChainType) String() string {
	switch t {
	case ChainFilter:
		return "filter"
	case ChainNAT:
		return "nat"
	case ChainRoute:
		return "route"
	}
	return "invalid chain type"
}

// IsBase reports whether the chain is attached to a hook.
func (c *Chain) IsBase() bool { return c.Hook != 0 }

// Rule matches packets and applies statements and a verdict to those it matches.
// All matches must hold (they are ANDed); a set inside one match is an OR.
type Rule struct {
	Pos        Pos
	Matches    []*Match
	Statements []Statement
	// Verdict is NoVerdict when the rule only counts or logs.
	Verdict Verdict
	// Target is the regular chain of a Jump or Goto, in the rule's table.
	Target *Chain
	// NAT says how a Translate rule rewrites.
	NAT *NAT
	// RejectWith says how a Reject answers; the zero value is nft's plain
	// reject (port unreachable in the packet's family).
	RejectWith RejectWith
	Comment    string
	// Option names the option that enabled the rule, or is empty.
	Option string
	// Unread is what ksc could not read of a rule another program put in
	// the kernel (lang.Config.KeepUnread); nil in every policy ksc
	// writes, and no backend writes a rule that has it.
	Unread *Unread
}

// Unread is the part of a rule ksc cannot read: an xt match or target
// that iptables-nft left in the kernel, a field or statement the language
// has no word for. The rule's Matches are those read; it holds only where
// they do.
type Unread struct {
	Text string // the rule as nft lists it
	Why  string
	// Acts is set when what ksc cannot read may do something where the
	// rule holds (a target, a statement): then Statements and Verdict
	// are not all the rule does. Otherwise only whether the rule holds is
	// unknown (an xt match), and if it holds it does what they say.
	Acts bool
}

func (u *Unread) String() string { return u.Text + " (" + u.Why + ")" }

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

// HookNames lists the hooks in the order nft documents them.
var HookNames = []string{"prerouting", "input", "forward", "output", "postrouting"}

var hookByName = map[string]Hook{
	"prerouting": HookPrerouting, "input": HookInput, "forward": HookForward,
	"output": HookOutput, "postrouting": HookPostrouting,
}

// ParseHook reads a hook's name.
func ParseHook(name string) (Hook, bool) {
	h, ok := hookByName[name]
	return h, ok
}

func (h Hook) String() string {
	for name, v := range hookByName {
		if v == h {
			return name
		}
	}
	return "invalid"
}

// Priority names nft's standard priorities for filter chains, in order.
var Priorities = []struct {
	Name  string
	Value int
	// Only is the one hook nft takes the name on, or 0 for every hook.
	Only Hook
}{{"raw", -300, 0}, {"mangle", -150, 0}, {"dstnat", -100, HookPrerouting}, {"filter", 0, 0}, {"security", 50, 0}, {"srcnat", 100, HookPostrouting}}

// PriorityNameHook is the one hook nft takes a priority name on, or 0
// when the name is not one of Priorities or holds on every hook.
func PriorityNameHook(name string) Hook {
	if i := strings.IndexAny(name, "+-"); i > 0 {
		name = name[:i] // "dstnat+10" is dstnat's too
	}
	for _, p := range Priorities {
		if p.Name == name {
			return p.Only
		}
	}
	return 0
}

// ParsePriority reads a priority: a number, a standard name, or a name
// and an offset ("filter+10", as nft's "filter + 10").
func ParsePriority(s string) (int, bool) {
	name, offset, sign := s, "", 1
	if i := strings.IndexAny(s, "+-"); i > 0 {
		name, offset = s[:i], s[i+1:]
		if s[i] == '-' {
			sign = -1
		}
	}
	for _, p := range Priorities {
		if p.Name == name {
			if offset == "" {
				return p.Value, true
			}
			n, err := strconv.ParseInt(offset, 10, 32)
			v := int64(p.Value) + int64(sign)*n
			return int(v), err == nil && n >= 0 && v >= math.MinInt32 && v <= math.MaxInt32
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int(n), err == nil
}

// IsPriorityNumber reports whether s is a number, of any size: one that
// ParsePriority refuses is outside the kernel's 32-bit range.
func IsPriorityNumber(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// PriorityConntrack is where conntrack assigns a packet its state in the
// prerouting and output hooks (NF_IP_PRI_CONNTRACK): chains there at this
// priority or earlier see no conntrack state.
const PriorityConntrack = -200

// Verdict decides a packet's fate.
type Verdict uint8

const (
	NoVerdict Verdict = iota
	Accept
	Drop
	Reject
	// Jump evaluates the rule's Target chain and, unless it decides, goes
	// on after the rule.
	Jump
	// Goto evaluates the Target chain and, unless it decides, returns
	// as if from the rule's own chain.
	Goto
	// Return leaves a regular chain for the rule after the jump that
	// reached it; in a base chain, it ends the chain with its policy.
	Return
	// Translate rewrites a new connection's addresses as the rule's NAT
	// says (snat, masquerade, dnat, redirect), and ends the nat chain as
	// an accept would.
	Translate
)

var verdictNames = [...]string{"", "accept", "drop", "reject", "jump", "goto", "return", "nat"}

func (v Verdict) String() string {
	if int(v) >= len(verdictNames) {
		return "invalid verdict"
	}
	return verdictNames[v]
}

// ParseVerdict reads a verdict's name.
func ParseVerdict(name string) (Verdict, bool) {
	for v, n := range verdictNames {
		if n == name && v != 0 {
			return Verdict(v), true
		}
	}
	return NoVerdict, false
}

// AllVerdicts lists every verdict, for the readers that must know each.
func AllVerdicts() []Verdict {
	out := make([]Verdict, 0, len(verdictNames)-1)
	for v := range len(verdictNames) - 1 {
		out = append(out, Verdict(v+1))
	}
	return out
}

// TakesChain reports jump and goto, which name the chain they go to.
func (v Verdict) TakesChain() bool { return v == Jump || v == Goto }

// Decides reports whether the verdict ends the packet's way through the
// base chain: accept, drop and reject do; jump, goto and return move it
// between chains.
func (v Verdict) Decides() bool { return v == Accept || v == Drop || v == Reject || v == Translate }

// VerdictText is the verdict as nft writes it: "jump NAME" for a jump.
func (r *Rule) VerdictText() string {
	if (r.Verdict == Jump || r.Verdict == Goto) && r.Target != nil {
		return r.Verdict.String() + " " + r.Target.Name
	}
	if r.Verdict == Translate && r.NAT != nil {
		return r.NAT.Text(Inet)
	}
	return r.Verdict.String()
}

// NAT is how a nat rule rewrites a new connection: its source to Addr
// (snat) or to the address of the interface it leaves by (masquerade), or
// its destination to Addr (dnat) or to this machine (redirect), and for a
// destination the port to Port when it is not 0.
type NAT struct {
	Pos  Pos
	Kind NATKind
	Addr netip.Addr
	Port uint16
	// AddrLast and PortLast end a range the kernel picks the new address
	// or port from ("dnat to 192.0.2.1-192.0.2.5:8000-8010"); they are
	// not valid, and 0, for one address or port.
	AddrLast netip.Addr
	PortLast uint16
	// Flags choose how the kernel picks the new port and address; no
	// packet's verdict depends on them.
	Flags NATFlags
}

// NATFlags are nft's "random", "fully-random" and "persistent", with the
// kernel's values (NF_NAT_RANGE_*).
type NATFlags uint8

const (
	NATRandom      NATFlags = 1 << 2
	NATPersistent  NATFlags = 1 << 3
	NATFullyRandom NATFlags = 1 << 4
)

// NATFlagNames are the flags' names, in the order nft lists them.
var NATFlagNames = []struct {
	Name string
	Flag NATFlags
}{{"random", NATRandom}, {"fully-random", NATFullyRandom}, {"persistent", NATPersistent}}

// Text is the flags as nft lists them: "random,persistent".
func (f NATFlags) Text() string {
	var names []string
	for _, n := range NATFlagNames {
		if f&n.Flag != 0 {
			names = append(names, n.Name)
		}
	}
	return strings.Join(names, ",")
}

// NATKind is what a nat rule rewrites, and to what.
type NATKind uint8

const (
	SNAT NATKind = iota + 1
	Masquerade
	DNAT
	Redirect
)

var natKindNames = [...]string{"", "snat", "masquerade", "dnat", "redirect"}

// AllNATKinds lists every nat kind, for the tests that hold each reader of
// the IR to knowing every one.
func AllNATKinds() []NATKind {
	out := make([]NATKind, 0, len(natKindNames)-1)
	for k := range len(natKindNames) - 1 {
		out = append(out, NATKind(k+1))
	}
	return out
}

func (k NATKind) String() string {
	if int(k) >= len(natKindNames) || k == 0 {
		return "invalid nat"
	}
	return natKindNames[k]
}

// Source reports whether the kind rewrites the source (at postrouting),
// not the destination (at prerouting and output).
func (k NATKind) Source() bool { return k == SNAT || k == Masquerade }

// Family is the family of the packets the rewrite applies to: Addr's, or
// Inet for masquerade and redirect.
func (n *NAT) Family() Family {
	switch {
	case !n.Addr.IsValid():
		return Inet
	case n.Addr.Is4():
		return IPv4
	}
	return IPv6
}

// Text is the statement as nft writes it in a table of family f: an inet
// table's names the address family ("snat ip to 192.0.2.1", "dnat ip6 to
// [2001:db8::1]:8080").
func (n *NAT) Text(f Family) string {
	if n.Flags != 0 {
		plain := *n
		plain.Flags = 0
		return plain.Text(f) + " " + n.Flags.Text()
	}
	switch {
	case n.Kind == Masquerade || n.Kind == Redirect:
		if n.Port != 0 {
			return n.Kind.String() + " to " + n.Target()
		}
		return n.Kind.String()
	case f == Inet:
		return n.Kind.String() + " " + n.Family().String() + " to " + n.Target()
	}
	return n.Kind.String() + " to " + n.Target()
}

// Target is where a rewrite goes, as nft and iptables write it: an
// address or a range, then a port or a range ("192.0.2.1-192.0.2.5:80",
// "[2001:db8::1]:80"); for masquerade and redirect, ":PORTS".
func (n *NAT) Target() string {
	to := ""
	if n.Kind == SNAT || n.Kind == DNAT {
		to = n.Addr.String()
		if n.AddrLast.IsValid() {
			to += "-" + n.AddrLast.String()
		}
	}
	if n.Port == 0 {
		return to
	}
	if n.Addr.Is6() && to != "" {
		to = "[" + strings.ReplaceAll(to, "-", "]-[") + "]"
	}
	to += ":" + strconv.Itoa(int(n.Port))
	if n.PortLast != 0 {
		to += "-" + strconv.Itoa(int(n.PortLast))
	}
	return to
}

// Statement is something a rule does besides its verdict: a Counter, a
// Log, a Limit, a MarkSet, an MSSSet, a SetWrite, a Notrack, a Trace or a
// DSCPSet.
type Statement interface{ statement() }

// Counter counts the packets and bytes the rule matched.
type Counter struct{ Pos Pos }

// Log writes matched packets to the kernel log.
type Log struct {
	Pos    Pos
	Prefix string
	// Level is LogDefault for the kernel's default (warn).
	Level LogLevel
	// ToGroup sends the packet to Group of nfnetlink_log (for ulogd, say)
	// instead of the kernel log; it takes no level and no flags.
	ToGroup bool
	Group   uint16
	// Flags add headers' details to a kernel log line.
	Flags LogFlags
}

// LogFlags are what "log flags" adds to a kernel log line, by the
// kernel's bits (NF_LOG_*).
type LogFlags uint8

const (
	LogTCPSequence LogFlags = 0x01
	LogTCPOptions  LogFlags = 0x02
	LogIPOptions   LogFlags = 0x04
	LogUID         LogFlags = 0x08 // nft's "skuid"
	LogEther       LogFlags = 0x20 // the link-layer header (iptables' --log-macdecode)
	LogAllFlags             = LogTCPSequence | LogTCPOptions | LogIPOptions | LogUID | LogEther
)

// LogFlagWords are the flags as nft writes them after "flags".
var LogFlagWords = []struct {
	Words string
	Flags LogFlags
}{
	{"tcp sequence", LogTCPSequence}, {"tcp options", LogTCPOptions}, {"ip options", LogIPOptions},
	{"skuid", LogUID}, {"ether", LogEther}, {"all", LogAllFlags},
}

// Text is the flags as nft lists them: "flags all", or one "flags"
// clause a group ("flags tcp sequence,options flags skuid").
func (f LogFlags) Text() string {
	if f == LogAllFlags {
		return "flags all"
	}
	var parts []string
	var tcp []string
	if f&LogTCPSequence != 0 {
		tcp = append(tcp, "sequence")
	}
	if f&LogTCPOptions != 0 {
		tcp = append(tcp, "options")
	}
	if len(tcp) > 0 {
		parts = append(parts, "flags tcp "+strings.Join(tcp, ","))
	}
	if f&LogIPOptions != 0 {
		parts = append(parts, "flags ip options")
	}
	if f&LogUID != 0 {
		parts = append(parts, "flags skuid")
	}
	if f&LogEther != 0 {
		parts = append(parts, "flags ether")
	}
	return strings.Join(parts, " ")
}

// Text is the log statement as nft lists it.
func (l *Log) Text(quote func(string) string) string {
	text := "log"
	if l.Prefix != "" {
		text += " prefix " + quote(l.Prefix)
	}
	if l.ToGroup {
		text += " group " + strconv.Itoa(int(l.Group))
	}
	if l.Level != LogDefault {
		text += " level " + l.Level.String()
	}
	if l.Flags != 0 {
		text += " " + l.Flags.Text()
	}
	return text
}

func (Counter) statement()  {}
func (Log) statement()      {}
func (Limit) statement()    {}
func (MarkSet) statement()  {}
func (MSSSet) statement()   {}
func (SetWrite) statement() {}
func (Notrack) statement()  {}
func (Trace) statement()    {}
func (DSCPSet) statement()  {}

// DSCPSet rewrites the code point of the packet's IPv4 TOS byte (Field
// FieldIPDSCP) or IPv6 traffic class (FieldIP6DSCP), the ECN bits kept:
// for the queues of the networks it crosses ("ip dscp set cs1"). It binds
// the rule to that family.
type DSCPSet struct {
	Pos   Pos
	Field Field
	Value uint8
}

// Text is the statement as nft lists it.
func (d *DSCPSet) Text() string {
	return d.Field.String() + " set " + KindDSCP.NameOf(uint32(d.Value))
}

// Trace marks the packet for nft's tracing (meta nftrace set 1; 0 takes
// the mark off): "nft monitor trace" then shows every rule it meets. It
// changes nothing a rule matches.
type Trace struct {
	Pos Pos
	On  bool
}

// Text is the statement as nft lists it.
func (t *Trace) Text() string {
	if t.On {
		return "meta nftrace set 1"
	}
	return "meta nftrace set 0"
}

// Notrack keeps conntrack from the packet: from then on it is untracked
// (ct state untracked, no connection to mark), and no nat chain sees
// it. It acts only before conntrack has seen the packet, at prerouting
// and output (see Validate), as a DNS or NTP server's busiest traffic
// is kept out of the conntrack table.
type Notrack struct{ Pos Pos }

// MSSSet rewrites the maximum segment size a TCP SYN offers: to Size, or
// with Size 0 to what the route's MTU allows ("tcp option maxseg size set
// rt mtu", iptables' TCPMSS --clamp-mss-to-pmtu), so that connections
// through a tunnel of a smaller MTU do not stall. No match reads the MSS:
// it changes no verdict.
type MSSSet struct {
	Pos  Pos
	Size uint16
}

// Text is the statement as nft lists it.
func (m *MSSSet) Text() string {
	if m.Size == 0 {
		return "tcp option maxseg size set rt mtu"
	}
	return "tcp option maxseg size set " + strconv.Itoa(int(m.Size))
}

// MarkSet sets the packet's mark (Target FieldMark, "meta mark set") or
// its connection's (FieldCtMark, "ct mark set"): to Value, or, when From
// is set, to a mark's bits kept by Mask and then flipped by Value, as the
// kernel's one bitwise expression does: wg-quick's "ct mark set meta
// mark", "meta mark set meta mark and 0xff00 or 0x1".
type MarkSet struct {
	Pos    Pos
	Target Field
	Value  uint32
	From   Field  // 0: Value
	Mask   uint32 // with From: the bits kept; 0 is all of them (a copy)
}

// Keep is the mask of From's bits the new mark keeps.
func (m *MarkSet) Keep() uint32 {
	if m.Mask == 0 {
		return ^uint32(0)
	}
	return m.Mask
}

// Of is the mark the statement sets, given From's value.
func (m *MarkSet) Of(from uint32) uint32 {
	if m.From == 0 {
		return m.Value
	}
	return from&m.Keep() ^ m.Value
}

// MarkSetTargets are the fields a statement can change: what a chain
// jumped to may hand back different from what it was given.
var MarkSetTargets = []Field{FieldMark, FieldCtMark}

// Text is the statement as nft lists it.
func (m *MarkSet) Text() string {
	if m.From != 0 {
		text := m.Target.String() + " set " + m.From.String()
		if m.Keep() != ^uint32(0) {
			text += fmt.Sprintf(" and 0x%08x", m.Keep())
		}
		if m.Value != 0 {
			text += fmt.Sprintf(" xor 0x%08x", m.Value)
		}
		return text
	}
	return fmt.Sprintf("%s set 0x%08x", m.Target, m.Value)
}

// NeedsConntrack reports a statement that reads or writes the connection.
func (m *MarkSet) NeedsConntrack() bool { return m.Target == FieldCtMark || m.From == FieldCtMark }

// Limit passes packets at up to Rate a Unit, and Burst more at once; with
// Over, only the packets above that. It is the one statement that can
// stop a rule: the statements and the verdict after it act only on the
// packets it passes.
type Limit struct {
	Pos   Pos
	Rate  uint64
	Unit  RateUnit
	Burst uint32 // 0: DefaultBurst (packets), none (bytes)
	// Bytes: Rate and Burst count bytes, not packets ("limit rate 1
	// kbytes/second").
	Bytes bool
	// Conns, when not zero, makes it a cap on connections instead of a
	// rate ("ct count [over] N", iptables' connlimit): it passes while
	// the rule (or with Meter, the key) has at most Conns connections
	// in conntrack, this one included. Rate, Unit and Burst are unused.
	Conns uint32
	Over  bool
	// Meter, when set, keeps one such limit for each key (source
	// address, say) instead of one for the whole rule.
	Meter *Meter
}

// DefaultBurst is nft's burst when none is given.
const DefaultBurst = 5

// RateUnit is the time a rate is counted over.
type RateUnit uint8

const (
	PerSecond RateUnit = iota + 1
	PerMinute
	PerHour
	PerDay
	PerWeek
)

// RateUnits are the units' names, as nft writes them.
var RateUnits = []string{"second", "minute", "hour", "day", "week"}

// ParseRateUnit reads a unit's name.
func ParseRateUnit(name string) (RateUnit, bool) {
	for i, n := range RateUnits {
		if n == name {
			return RateUnit(i + 1), true
		}
	}
	return 0, false
}

func (u RateUnit) String() string {
	if u < PerSecond || u > PerWeek {
		return "invalid unit"
	}
	return RateUnits[u-1]
}

// Seconds is how long the unit is.
func (u RateUnit) Seconds() uint64 {
	return map[RateUnit]uint64{PerSecond: 1, PerMinute: 60, PerHour: 3600, PerDay: 86400, PerWeek: 7 * 86400}[u]
}

// EffectiveBurst is the burst the kernel keeps.
func (l *Limit) EffectiveBurst() uint32 {
	if l.Burst == 0 && !l.Bytes {
		return DefaultBurst
	}
	return l.Burst
}

// Text is the limit as nft lists it, inside its meter if it has one.
func (l *Limit) Text() string {
	if l.Meter != nil {
		return l.Meter.Text(l.bucketText())
	}
	return l.bucketText()
}

// bucketText is "limit rate ..." or "ct count ...", without the meter.
func (l *Limit) bucketText() string {
	if l.Conns != 0 {
		if l.Over {
			return fmt.Sprintf("ct count over %d", l.Conns)
		}
		return fmt.Sprintf("ct count %d", l.Conns)
	}
	text := "limit rate "
	if l.Over {
		text += "over "
	}
	if l.Bytes {
		text += ByteCount(l.Rate) + "/" + l.Unit.String()
		if l.Burst != 0 {
			text += " burst " + ByteCount(uint64(l.Burst))
		}
		return text
	}
	text += fmt.Sprintf("%d/%s", l.Rate, l.Unit)
	if b := l.EffectiveBurst(); b != DefaultBurst {
		text += fmt.Sprintf(" burst %d packets", b)
	}
	return text
}

// ByteUnits are nft's units of byte rates and bursts, smallest first.
var ByteUnits = []struct {
	Name  string
	Bytes uint64
}{{"bytes", 1}, {"kbytes", 1 << 10}, {"mbytes", 1 << 20}}

// ByteCount writes n bytes as nft does, in the largest unit that holds
// it whole: "1025 kbytes".
func ByteCount(n uint64) string {
	for i := len(ByteUnits) - 1; i > 0; i-- {
		if u := ByteUnits[i]; n%u.Bytes == 0 && n != 0 {
			return fmt.Sprintf("%d %s", n/u.Bytes, u.Name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// Exceeds reports a packet of n bytes that the limit's full bucket
// cannot pass: more bytes than a byte limit's rate and burst together.
// Every packet fits a packet limit's bucket.
func (l *Limit) Exceeds(n int) bool {
	return l.Bytes && l.Conns == 0 && uint64(n) > l.Rate+uint64(l.Burst)
}

// Condition says when the rule's statements after the limit act, for
// explain: "while under 5/minute".
func (l *Limit) Condition() string {
	per := ""
	if l.Meter != nil {
		per = " per " + l.Meter.Key.String()
	}
	switch {
	case l.Conns != 0 && l.Over:
		return fmt.Sprintf("only above %d connections%s", l.Conns, per)
	case l.Conns != 0:
		return fmt.Sprintf("while at most %d connections%s", l.Conns, per)
	}
	rate := fmt.Sprintf("%d/%s", l.Rate, l.Unit)
	if l.Bytes {
		rate = ByteCount(l.Rate) + "/" + l.Unit.String()
	}
	if l.Over {
		return "only above " + rate + per
	}
	return "while under " + rate + per
}

// KeepsState reports whether the policy remembers one packet for the
// next: a limit's bucket, a meter's keys, a key added to a set.
func (p *Policy) KeepsState() bool {
	for _, t := range p.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if r.Limit() != nil || r.KeyedBy() != nil {
					return true
				}
			}
		}
	}
	return false
}

// Limit is the rule's rate limit, or nil: a rule with one decides only
// some of the packets it matches.
func (r *Rule) Limit() *Limit {
	for _, s := range r.Statements {
		if l, ok := s.(*Limit); ok {
			return l
		}
	}
	return nil
}

// LogLevel is a syslog level, by its number (emerg 0 to debug 7), plus one:
// the zero value means "not given".
type LogLevel uint8

const (
	LogDefault LogLevel = iota
	LogEmerg
	LogAlert
	LogCrit
	LogErr
	LogWarn
	LogNotice
	LogInfo
	LogDebug
)

// LogLevels are the level names nft and iptables accept, most severe first.
var LogLevels = []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

// ParseLogLevel reads a level's name.
func ParseLogLevel(name string) (LogLevel, bool) {
	for i, n := range LogLevels {
		if n == name {
			return LogLevel(i + 1), true
		}
	}
	return LogDefault, false
}

// Syslog is the level's syslog number (0-7); the default is warn (4).
func (l LogLevel) Syslog() int {
	if l == LogDefault {
		return 4
	}
	return int(l) - 1
}

func (l LogLevel) String() string {
	if l == LogDefault || int(l) > len(LogLevels) {
		return ""
	}
	return LogLevels[l-1]
}

// Family returns the only family the rule's packets can have, or Inet when
// the rule applies to both IPv4 and IPv6: a field of one family (ip saddr),
// or protocols of one family (icmp) bind it, and so does a meter's key.
// Validate refuses rules whose matches disagree.
func (r *Rule) Family() Family {
	for _, m := range r.Matches {
		if f := m.family(); f != Inet {
			return f
		}
	}
	if key := r.KeyedBy(); key != nil {
		return key.Field.Spec().Family
	}
	for _, s := range r.Statements {
		if d, ok := s.(*DSCPSet); ok {
			return d.Field.Spec().Family
		}
	}
	if r.Verdict == Reject {
		// An ICMP answer is one family's: nft checks that family first,
		// so the rule holds for it only.
		switch r.RejectWith.Kind {
		case RejectICMP:
			return IPv4
		case RejectICMPv6:
			return IPv6
		}
	}
	return Inet
}

// SetKey is a statement's key into a dynamic set: a meter's or a SetWrite's.
type SetKey struct {
	Pos   Pos
	Text  string
	Field Field
}

// KeyedBy is the first key of a set the rule's statements read from the
// packet, or nil: the key binds the family as a match would ("update @s
// { ip saddr ... }" holds for IPv4 packets only).
func (r *Rule) KeyedBy() *SetKey {
	for _, s := range r.Statements {
		switch s := s.(type) {
		case *Limit:
			if s.Meter != nil {
				return &SetKey{s.Pos, s.Text(), s.Meter.Key}
			}
		case *SetWrite:
			return &SetKey{s.Pos, s.Text(), s.Key}
		}
	}
	return nil
}

// Match returns the rule's match on field f, or nil. Normalized rules have
// at most one.
func (r *Rule) Match(f Field) *Match {
	for _, m := range r.Matches {
		if m.Field == f {
			return m
		}
	}
	return nil
}

// family is the only family in which m can hold, or Inet.
func (m *Match) family() Family {
	if f := m.Field.Spec().Family; f != Inet {
		return f
	}
	if m.Field == FieldNfproto {
		families := Numbers(m.Effective())
		if len(families) == 1 {
			return map[uint32]Family{2: IPv4, 10: IPv6}[families[0]]
		}
		return Inet
	}
	if m.Field != FieldL4Proto || m.Op == Neq {
		return Inet
	}
	// Protocols of one family only (icmp) bind the rule to it.
	f := Inet
	for _, p := range Protocols(m.Values) {
		switch {
		case p.Family() == Inet:
			return Inet
		case f == Inet:
			f = p.Family()
		case f != p.Family():
			return Inet
		}
	}
	return f
}

// Has reports whether rule r is one of the table's.
func (t *Table) Has(r *Rule) bool {
	for _, c := range t.Chains {
		if slices.Contains(c.Rules, r) {
			return true
		}
	}
	return false
}
