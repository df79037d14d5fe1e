package lang

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ksc-project/ksc/ir"
)

// Config is what the command line adds to a policy.
type Config struct {
	// Defines replace the values of defines (-D NAME=VALUE), VALUE in the
	// policy language's own syntax. Each NAME must be defined by the policy.
	Defines []Override
	// Enable lists the options to switch on (-e NAME).
	Enable []string
	// Dir is where file("...") paths in the policy are relative to; empty
	// means the policy file's directory. Paths in -D values are relative
	// to the current directory.
	Dir string
	// DefineFilesIn, when set, is where the file("...") paths of -D values
	// are relative to, and the directory they must not leave (symbolic
	// links followed): "ksc test" runs as root with the defines of a test
	// file, which could otherwise print a line of any file in an error.
	DefineFilesIn string
	// KeepUnread reads a ruleset another program wrote (LoadMachine): a
	// rule the language cannot say becomes an ir.Unread rule, with the
	// matches read before what stopped it, instead of an error.
	KeepUnread bool
	// CgroupRoot is where the machine's nft names cgroups from
	// (cgroup.NftRoot): the paths of the listing LoadMachine reads start
	// with it on a hybrid machine ("unified/...").
	CgroupRoot string
}

// Override is one -D NAME=VALUE.
type Override struct{ Name, Value string }

// ParseOverride splits "NAME=VALUE" as given to -D.
func ParseOverride(s string) (Override, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Override{}, fmt.Errorf("-D %q: want NAME=VALUE, e.g. -D INET_DEV=wlan0", s)
	}
	if strings.ContainsFunc(s, isControl) {
		// A newline would end the value early in some readers and start
		// a new line of output in others.
		return Override{}, fmt.Errorf("-D %q: holds a control character; a value is one line of policy syntax", s)
	}
	return Override{Name: name, Value: value}, nil
}

// CheckOptionName refuses an -e name no policy could declare, such as one
// holding a newline.
func CheckOptionName(name string) error {
	if strings.ContainsFunc(name, isControl) {
		return fmt.Errorf("%q holds a control character; an option is one word", name)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// OverrideSource is the file name positions in a -D value refer to.
func OverrideSource(name string) string { return "-D " + name }

// Load parses, builds and validates a policy: the whole front end in one call.
// The policy is nil when any diagnostic is an error; warnings come either way.
func Load(filename string, src []byte, cfg Config) (*ir.Policy, ir.Diagnostics) {
	f, ds := Parse(filename, src)
	if ds.HasErrors() {
		return nil, ds
	}
	p, ds := build(f, filename, cfg, true)
	if ds.HasErrors() {
		// The rules that built are validated all the same, so that one run
		// reports every error: a nat chain's drop beside a misspelt field.
		// What validation says of a line already reported (a chain whose
		// hook was misspelt has no hook) follows from that error.
		reported := map[[2]any]bool{}
		for _, d := range ds {
			reported[[2]any{d.Pos.File, d.Pos.Line}] = true
		}
		for _, d := range p.Validate().OnlyErrors() {
			if !reported[[2]any{d.Pos.File, d.Pos.Line}] {
				ds = append(ds, d)
			}
		}
		return nil, ds
	}
	ds = append(ds, p.Validate()...)
	if ds.HasErrors() {
		return nil, ds
	}
	return p, ds
}

// Options lists the option names a policy file declares, sorted.
func Options(f *File) []string {
	set := map[string]bool{}
	for _, it := range f.Items {
		if it.Table == nil {
			continue
		}
		for _, ti := range it.Table.Items {
			if ti.Optional != nil {
				set[ti.Optional.Name] = true
			}
		}
		for _, c := range it.Table.Chains() {
			for _, ci := range c.Items {
				if ci.Option != nil {
					set[ci.Option.Name] = true
				}
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type define struct {
	name      string
	pos, end  ir.Pos
	value     *Value // nil for "define NAME" without a value
	used      bool
	resolving bool
}

// maxElements bounds how many elements one value may expand to: defines of
// defines can double at every level ({ $A, $A }), so an unbounded policy
// of a few lines could exhaust memory. Sets from files fit comfortably.
const maxElements = 1 << 22

type builder struct {
	sizes   map[*Value]int // memoised element counts, see size
	ds      ir.Diagnostics
	seen    map[string]bool
	defines map[string]*define
	enabled map[string]bool
	dir     string
	// defineFilesIn confines the files of -D values (Config.DefineFilesIn).
	defineFilesIn string
	files         map[string][]elem  // file("...") contents by path, read once
	ids           map[idName]idFound // user and group names, looked up once
	// setFiles are the files read, in the order first read.
	setFiles []ir.SetFile
	// targets are the chains the current table's jumps and gotos name,
	// resolved once all its chains are read.
	targets []chainRef
	// sets are the current table's declared sets, by name.
	sets map[string]*ir.TableSet
	// consts are its constant sets and maps, by name.
	consts map[string]*constSet
	// refusedSets are its sets and maps declared with an error: a rule
	// that names one adds no second error.
	refusedSets map[string]bool
	// current is the table being built, which a meter adds its set to.
	current *ir.Table
	// consume lets the tree's rules go once built (Load owns the tree).
	consume bool
	// keepUnread is Config.KeepUnread.
	keepUnread bool
	cgroupRoot string // Config.CgroupRoot
}

// chainRef is a jump's or goto's chain, by name, until it is resolved.
type chainRef struct {
	rule     *ir.Rule
	name     string
	pos, end ir.Pos
}

// Build turns a parsed policy into an ir.Policy, applying cfg. It checks that
// every name is defined and every value has the kind and range its use needs,
// in enabled and disabled rules alike; it does not run ir.Policy.Validate.
func Build(f *File, filename string, cfg Config) (*ir.Policy, ir.Diagnostics) {
	return build(f, filename, cfg, false)
}

// build is Build; with consume, it lets go of each rule of f once built,
// so that the tree and the IR of a large policy are not both held whole.
func build(f *File, filename string, cfg Config, consume bool) (*ir.Policy, ir.Diagnostics) {
	b := &builder{seen: map[string]bool{}, defines: map[string]*define{}, enabled: map[string]bool{},
		dir: cfg.Dir, defineFilesIn: cfg.DefineFilesIn, files: map[string][]elem{}, sizes: map[*Value]int{}, consume: consume, keepUnread: cfg.KeepUnread, cgroupRoot: cfg.CgroupRoot}
	if b.dir == "" {
		b.dir = filepath.Dir(filename)
	}
	p := &ir.Policy{Source: filename}
	for _, it := range f.Items {
		if d := it.Define; d != nil {
			b.addDefine(d)
		}
	}
	b.applyOverrides(cfg.Defines)
	b.enableOptions(Options(f), cfg.Enable)
	for name := range b.enabled {
		p.Options = append(p.Options, name)
	}
	sort.Strings(p.Options)
	for i, it := range f.Items {
		switch {
		case it.Flush != nil && it.Flush.Verb == "flush" && it.Flush.What == "ruleset" && len(it.Flush.Names) == 0:
			p.FlushRuleset = true
		case it.Flush != nil:
			b.startAfresh(it.Flush, f.Items[i+1:])
		case it.Table != nil && !it.Table.Braced:
			b.declaredAhead(it.Table, f.Items[i+1:])
		case it.Table != nil:
			if t := b.table(it.Table); t != nil {
				p.Tables = append(p.Tables, t)
			}
		case it.IPv6 != nil:
			b.ipv6(it.IPv6, &p.IPv6)
		case it.Routing != nil:
			if t := b.routing(it.Routing); t != nil {
				p.Routing = append(p.Routing, t)
			}
		}
	}
	for _, d := range b.defines {
		if !d.used {
			b.ds.Warnf(d.pos, "$%s is defined but never used", d.name)
		}
	}
	p.SetFiles = b.setFiles
	b.ds.Sort()
	return p, b.ds
}

// startAfresh reads "flush table", "delete table" or "destroy table"
// before the table's declaration: what nft scripts write so that loading
// them twice does not add the rules twice. ksc replaces a table it
// declares whole, so these say what it does anyway. Of a table the
// policy does not declare, they would change another program's rules.
func (b *builder) startAfresh(f *Flush, after []*Item) {
	pos, end := endPos(f.Pos, f.EndPos)
	words := append([]string{f.What}, f.Names...)
	if f.What != "table" || len(f.Names) == 0 || len(f.Names) > 2 {
		b.errorf(pos, end, "%s %s is not a statement ksc takes", f.Verb, strings.Join(words, " ")).Hint =
			"write \"flush ruleset\" to own the whole ruleset; without it ksc replaces only the tables the policy declares, each whole"
		return
	}
	family, name := "ip", f.Names[0]
	if len(f.Names) == 2 {
		family, name = f.Names[0], f.Names[1]
	}
	for _, it := range after {
		if t := it.Table; t != nil && t.Braced {
			if tf, tn := tableWords(t); tf == family && tn == name {
				return // the table follows: it is replaced whole
			}
		}
	}
	b.errorf(pos, end, "%s table %s %s: the policy declares no table %s %s after this line", f.Verb, family, name, family, name).Hint =
		"ksc replaces each table it declares whole, so this line may go; it would only change a table of another program"
}

// declaredAhead takes "table FAMILY NAME" without braces when the policy
// declares that table after it: nft makes the table if it is not there,
// and ksc replaces it whole anyway. Alone, it would declare an empty
// table, which is likelier a mistake.
func (b *builder) declaredAhead(t *Table, after []*Item) {
	family, name := tableWords(t)
	for _, it := range after {
		if it.Table != nil && it.Table.Braced {
			if f, n := tableWords(it.Table); f == family && n == name {
				return
			}
		}
	}
	b.errorf(convertPos(t.Pos), ir.Pos{}, "table %s %s has no body, and the policy declares it nowhere after", family, name).Hint =
		"write its sets and chains in braces: table " + family + " " + name + " { ... }"
}

// tableWords are a table declaration's family and name.
func tableWords(t *Table) (family, name string) {
	if t.Second != nil {
		return t.First, *t.Second
	}
	return "ip", t.First
}

// errorf records an error once: a bad value inside a define is reported once,
// however many rules use it.
func (b *builder) errorf(pos, end ir.Pos, format string, args ...any) *ir.Diagnostic {
	msg := fmt.Sprintf(format, args...)
	key := pos.String() + msg
	if b.seen[key] {
		return &ir.Diagnostic{} // a throwaway, so callers may still set a hint
	}
	b.seen[key] = true
	d := b.ds.Errorf(pos, "%s", msg)
	d.End = end
	return d
}

func (b *builder) addDefine(d *Define) {
	pos, end := endPos(d.Pos, d.EndPos)
	if !isIdentifier(d.Name) {
		b.errorf(pos, end, "bad define name %q", d.Name).Hint = "names start with a letter or '_' and hold letters, digits and '_'"
		return
	}
	if prev, dup := b.defines[d.Name]; dup {
		b.errorf(pos, end, "$%s is defined twice", d.Name).Hint = "the first definition is at " + prev.pos.String()
		return
	}
	b.defines[d.Name] = &define{name: d.Name, pos: pos, end: end, value: d.Value}
}

func (b *builder) applyOverrides(overrides []Override) {
	for _, o := range overrides {
		src := ir.Pos{File: OverrideSource(o.Name)}
		d, ok := b.defines[o.Name]
		if !ok {
			diag := b.errorf(src, ir.Pos{}, "the policy does not define %s", o.Name)
			if best, near := closest(o.Name, b.defineNames()); near {
				diag.Hint = fmt.Sprintf("did you mean %s?", best)
			} else if names := b.defineNames(); len(names) > 0 {
				diag.Hint = "the policy defines " + strings.Join(names, ", ")
			}
			continue
		}
		v, ds := ParseValue(OverrideSource(o.Name), o.Value)
		if ds.HasErrors() {
			b.ds = append(b.ds, ds...)
			continue
		}
		d.value = v
	}
}

func (b *builder) defineNames() []string {
	names := make([]string, 0, len(b.defines))
	for n := range b.defines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (b *builder) enableOptions(known, enable []string) {
	for _, name := range enable {
		if slices.Contains(known, name) {
			b.enabled[name] = true
			continue
		}
		d := b.errorf(ir.Pos{File: "-e " + name}, ir.Pos{}, "the policy has no option %q", name)
		switch best, near := closest(name, known); {
		case len(known) == 0:
			d.Hint = "this policy declares no options"
		case near:
			d.Hint = fmt.Sprintf("did you mean %s? the options are: %s", best, strings.Join(known, ", "))
		default:
			d.Hint = "the options are: " + strings.Join(known, ", ")
		}
	}
}

func (b *builder) table(t *Table) *ir.Table {
	out := &ir.Table{Pos: convertPos(t.Pos), Family: ir.Inet, Name: t.First}
	if t.Second != nil {
		out.Name = *t.Second
		switch t.First {
		case "inet":
		case "ip":
			out.Family = ir.IPv4
		case "ip6":
			out.Family = ir.IPv6
		default:
			b.errorf(out.Pos, ir.Pos{}, "unknown table family %q", t.First).Hint = "use inet (IPv4 and IPv6), ip or ip6"
			return nil
		}
	}
	b.targets = nil
	b.sets = map[string]*ir.TableSet{}
	b.consts = map[string]*constSet{}
	b.refusedSets = map[string]bool{}
	b.current = out
	for _, it := range t.Items {
		if it.Set != nil {
			b.tableSet(out, it.Set)
		}
		if ft := it.Flowtable; ft != nil {
			// At the table, so that an import or a machine leaves it out
			// whole: a flowtable takes the established flows a rule adds
			// to it past the forward chains of every table.
			b.errorf(out.Pos, ir.Pos{}, "table %s %s has flowtable %s, which ksc has no words for: the flows a rule adds to it skip the forward chains", out.Family, out.Name, ft.Name).Hint =
				"leave the flowtable and its flow add rules out; ksc filters every packet"
		}
	}
	for _, it := range t.Items {
		switch {
		case it.Chain != nil:
			out.Chains = append(out.Chains, b.chain(it.Chain))
		case it.Optional != nil:
			// Built and checked enabled or not, so that enabling the
			// option later cannot reveal a mistake; kept when enabled.
			for _, c := range it.Optional.Chains {
				if built := b.chain(c); b.enabled[it.Optional.Name] {
					out.Chains = append(out.Chains, built)
				}
			}
			if len(it.Optional.Chains) == 0 {
				pos, end := endPos(it.Optional.Pos, it.Optional.EndPos)
				b.ds.Warnf(pos, "option %s has no chains: enabling it changes nothing", it.Optional.Name).End = end
			}
		}
	}
	b.resolveTargets(out)
	return out
}

// resolveTargets points each jump and goto at its chain: a chain of the
// same table without a hook (the kernel refuses a jump to a base chain).
func (b *builder) resolveTargets(t *ir.Table) {
	byName := map[string]*ir.Chain{}
	var regular []string
	for _, c := range t.Chains {
		if _, dup := byName[c.Name]; !dup {
			byName[c.Name] = c
		}
		if !c.IsBase() {
			regular = append(regular, c.Name)
		}
	}
	broken := map[*ir.Rule]bool{}
	defer func() {
		// A jump that goes nowhere is reported; its rule goes, so that
		// validation does not say so again.
		for _, c := range t.Chains {
			c.Rules = slices.DeleteFunc(c.Rules, func(r *ir.Rule) bool { return broken[r] })
			c.Disabled = slices.DeleteFunc(c.Disabled, func(r *ir.Rule) bool { return broken[r] })
		}
	}()
	for _, ref := range b.targets {
		c := byName[ref.name]
		if c == nil || c.IsBase() {
			broken[ref.rule] = true
		}
		switch {
		case c == nil:
			d := b.errorf(ref.pos, ref.end, "table %s %s has no chain %s", t.Family, t.Name, ref.name)
			d.Hint = "declare it in this table: chain " + ref.name + " { ... }, without type, hook or policy"
			if best, near := closest(ref.name, regular); near {
				d.Hint = "did you mean " + best + "?"
			}
		case c.IsBase():
			b.errorf(ref.pos, ref.end, "chain %s has a hook: only regular chains can be jumped to", ref.name).Hint =
				"move the rules into a chain without type, hook and policy, and jump there from each base chain"
		default:
			ref.rule.Target = c
		}
	}
	b.targets = nil
}

func (b *builder) chain(c *Chain) *ir.Chain {
	out := &ir.Chain{Pos: convertPos(c.Pos), Name: c.Name, Policy: ir.Accept}
	c.Attrs = append(c.Attrs, b.headerInBody(c)...)
	if len(c.Attrs) == 0 {
		// A chain without type, hook and policy is a regular chain.
		out.Policy = ir.NoVerdict
	}
	var namedPriority *ChainAttr // a priority by name, checked against the hook
	seen := map[string]bool{}
	for _, a := range c.Attrs {
		pos, end := endPos(a.Pos, a.EndPos)
		if seen[a.Key] {
			b.errorf(pos, end, "chain %s has %s twice", c.Name, a.Key)
			continue
		}
		seen[a.Key] = true
		switch a.Key {
		case "type":
			switch a.Value {
			case "filter":
			case "nat":
				out.Type = ir.ChainNAT
			case "route":
				out.Type = ir.ChainRoute
			default:
				b.errorf(pos, end, "chain type %q is not supported", a.Value).Hint = "use type filter (the default), nat or route"
			}
		case "hook":
			h, ok := ir.ParseHook(a.Value)
			if !ok {
				d := b.errorf(pos, end, "unknown hook %q", a.Value)
				d.Hint = "use one of: " + strings.Join(ir.HookNames, ", ")
				if best, near := closest(a.Value, ir.HookNames); near {
					d.Hint = "did you mean " + best + "?"
				}
			}
			out.Hook = h
		case "priority":
			a.Value += a.Sign + a.Offset // "filter + 10"
			if n, ok := ir.ParsePriority(a.Value); ok {
				out.Priority = n
				namedPriority = a
			} else if _, named := ir.ParsePriority(strings.TrimSuffix(a.Value, a.Sign+a.Offset)); ir.IsPriorityNumber(a.Value) || named && ir.IsPriorityNumber(a.Offset) {
				b.errorf(pos, end, "priority %s is outside the kernel's range, %d to %d", a.Value, math.MinInt32, math.MaxInt32)
			} else {
				names := make([]string, len(ir.Priorities))
				for i, p := range ir.Priorities {
					names[i] = p.Name
				}
				b.errorf(pos, end, "bad priority %q", a.Value).Hint = "use a number, or " + strings.Join(names, ", ")
			}
		case "policy":
			switch a.Value {
			case "accept":
				out.Policy = ir.Accept
			case "drop":
				out.Policy = ir.Drop
			default:
				b.errorf(pos, end, "chain policy must be accept or drop, not %q", a.Value)
			}
		}
	}
	if a := namedPriority; a != nil {
		if only := ir.PriorityNameHook(a.Value); only != 0 && out.Hook != 0 && out.Hook != only {
			pos, end := endPos(a.Pos, a.EndPos)
			b.errorf(pos, end, "priority %s names a priority at hook %s only, as nft has it; chain %s is on hook %s", a.Value, only, c.Name, out.Hook).Hint =
				fmt.Sprintf("write the number: priority %d", out.Priority)
		}
	}
	add := func(r *Rule, enabled bool, option string) {
		errors := b.ds.Errors()
		rules := b.rule(r, enabled, option)
		if b.ds.Errors() > errors {
			return // reported; a half-built rule would only mislead validation
		}
		if enabled {
			out.Rules = append(out.Rules, rules...)
		} else {
			out.Disabled = append(out.Disabled, rules...)
		}
	}
	for i, it := range c.Items {
		if b.consume {
			c.Items[i] = nil // built: the tree's rules need not outlive their IR
		}
		if it.Rule != nil {
			add(it.Rule, true, "")
			continue
		}
		o := it.Option
		on := b.enabled[o.Name]
		if len(o.Rules) == 0 {
			pos, end := endPos(o.Pos, o.EndPos)
			b.ds.Warnf(pos, "option %s has no rules: enabling it changes nothing", o.Name).End = end
		}
		for _, r := range o.Rules {
			add(r, on, o.Name)
		}
		if o.Else != nil {
			for _, r := range o.Else.Rules {
				add(r, !on, "!"+o.Name)
			}
		}
	}
	return out
}

// headerInBody takes nft's spelling of a chain header out of the chain's
// body: "type filter hook input priority 0; policy drop;" as its first
// lines, as nft's man page and every wiki write it. Its words become the
// chain's attributes, as if written before the brace.
func (b *builder) headerInBody(c *Chain) []*ChainAttr {
	var attrs []*ChainAttr
	n := 0
	for ; n < len(c.Items); n++ {
		r := c.Items[n].Rule
		if r == nil || len(r.Terms) == 0 || r.Terms[0].word() != "type" && r.Terms[0].word() != "policy" {
			break
		}
		ts := r.Terms
		for i := 0; i < len(ts); {
			key := ts[i].word()
			if !slices.Contains([]string{"type", "hook", "priority", "policy"}, key) || i+1 == len(ts) || ts[i+1].word() == "" {
				pos, end := ts[i].span()
				b.errorf(pos, end, "a chain header line is type T hook H priority P, or policy V").Hint =
					"e.g. type filter hook input priority 0; policy drop;"
				break
			}
			a := &ChainAttr{Pos: ts[i].Pos, EndPos: ts[i+1].EndPos, Key: key, Value: ts[i+1].word()}
			i += 2
			if key == "priority" && i+1 < len(ts) && (ts[i].word() == "+" || ts[i].word() == "-") && ts[i+1].word() != "" {
				a.Sign, a.Offset, a.EndPos = ts[i].word(), ts[i+1].word(), ts[i+1].EndPos
				i += 2
			}
			attrs = append(attrs, a)
		}
	}
	c.Items = c.Items[n:]
	return attrs
}

// resolve flattens a value into its scalars, following $NAMEs. In a disabled
// rule a define without a value is not an error: it is only needed once the
// option is enabled.
//
// A value is a set of elements, so each define in it counts once, however
// often the value names it, directly or through other defines: 22 defines
// of a line each, each { $PREVIOUS, $PREVIOUS }, once expanded to four
// million elements (49 s and 3.8 GB for "ksc check"). Expanded once, a
// value holds at most what its defines and files hold.
func (b *builder) resolve(v *Value, enabled bool) ([]elem, bool) {
	n := b.size(v)
	if n > maxElements {
		pos, end := endPos(v.Pos, v.EndPos)
		b.errorf(pos, end, "this value expands to more than %d elements", maxElements).Hint =
			"read large sets from a file with file(\"...\")"
		return nil, false
	}
	return b.resolveVia(make([]elem, 0, n), v, enabled, nil, map[*define]bool{})
}

// size counts the elements v expands to (each define once), without
// building them, saturating just above maxElements. Undefined names and
// cycles count as nothing here; resolveVia reports them.
func (b *builder) size(v *Value) int {
	if v.File == nil && v.Set == nil && v.Var == nil {
		return 1 // a word or string: nothing to remember (a policy has many)
	}
	if n, ok := b.sizes[v]; ok {
		return n
	}
	n := b.sizeVia(v, map[*define]bool{})
	b.sizes[v] = n
	return n
}

func (b *builder) sizeVia(v *Value, seen map[*define]bool) int {
	switch {
	case v.File != nil:
		if elems, ok := b.readFile(v); ok {
			return len(elems)
		}
		return 0
	case v.Set != nil:
		n := 0
		for _, e := range v.Set.Elems {
			if e.value == nil {
				n = min(n+1, maxElements+1)
				continue
			}
			n = min(n+b.sizeVia(e.value, seen), maxElements+1)
		}
		return n
	case v.Var != nil:
		d := b.defines[strings.TrimPrefix(*v.Var, "$")]
		if d == nil || seen[d] {
			return 0
		}
		seen[d] = true
		d.used = true // counted as a use even when the value is refused
		if d.value == nil {
			return 0
		}
		return b.sizeVia(d.value, seen)
	}
	return 1
}

// resolveVia appends v's elements to out, which resolve sizes beforehand:
// a set of 100,000 elements is then built without a slice per element.
// A define in expanded is not expanded again.
func (b *builder) resolveVia(out []elem, v *Value, enabled bool, use *useSite, expanded map[*define]bool) ([]elem, bool) {
	pos, end := endPos(v.Pos, v.EndPos)
	switch {
	case v.File != nil:
		es, ok := b.readFile(v)
		if len(out) == 0 {
			// A million lines, not copied again; clipped, so that what a
			// set appends after them cannot write into the files cache.
			return es[:len(es):len(es)], ok
		}
		return append(out, es...), ok
	case v.Set != nil:
		ok := true
		for _, e := range v.Set.Elems {
			if e.value == nil {
				at := convertPos(v.Set.pos(e))
				out = append(out, elem{text: e.scalar(), quoted: e.quoted, pos: at, use: use})
				continue
			}
			var subOK bool
			out, subOK = b.resolveVia(out, e.value, enabled, use, expanded)
			ok = ok && subOK
		}
		if len(v.Set.Elems) == 0 {
			b.errorf(pos, end, "empty set").Hint = "a set needs at least one element"
			ok = false
		}
		return out, ok
	case v.Var != nil:
		name := strings.TrimPrefix(*v.Var, "$")
		d, ok := b.defines[name]
		if !ok {
			diag := b.errorf(pos, end, "$%s is not defined", name)
			if best, near := closest(name, b.defineNames()); near {
				diag.Hint = fmt.Sprintf("did you mean $%s?", best)
				b.defines[best].used = true // its use is the typo: no "unused" warning too
			} else {
				diag.Hint = fmt.Sprintf("add: define %s = VALUE", name)
			}
			return out, false
		}
		d.used = true
		if d.resolving {
			b.errorf(pos, end, "$%s refers to itself", name)
			return out, false
		}
		if expanded[d] {
			return out, true // its elements are in already
		}
		if d.value == nil {
			if enabled {
				b.errorf(pos, end, "$%s has no value", name).Hint =
					fmt.Sprintf("give it one with -D %s=VALUE, or in its define at %s", name, d.pos)
			}
			return out, !enabled
		}
		if use == nil {
			use = &useSite{name: name, pos: pos, end: end}
		}
		expanded[d] = true
		d.resolving = true
		defer func() { d.resolving = false }()
		return b.resolveVia(out, d.value, enabled, use, expanded)
	case v.String != nil:
		return append(out, elem{text: strings.Trim(*v.String, `"`), quoted: true, pos: pos, use: use}), true
	default:
		return append(out, elem{text: *v.Word, pos: pos, use: use}), true
	}
}

// within says whether path, its links followed, is in dir (also
// followed).
func within(path, dir string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = filepath.Clean(path) // not there: reading it says so
	}
	base, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(base, real)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
}

// readFile reads a file("PATH") value: one element a line, "#" starting a
// comment. Each element's position is its line and column in that file.
func (b *builder) readFile(v *Value) ([]elem, bool) {
	pos, end := endPos(v.Pos, v.EndPos)
	written := strings.Trim(*v.File, `"`)
	path := written
	fromOverride := strings.HasPrefix(v.Pos.Filename, "-D ")
	switch {
	case fromOverride && b.defineFilesIn != "":
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.defineFilesIn, path)
		}
		if !within(path, b.defineFilesIn) {
			b.errorf(pos, end, "a test file's defines read only files in its directory, %s", b.defineFilesIn).Hint =
				"put the set file beside the .kst file, or name it with -D on the command line"
			return nil, false
		}
	case !filepath.IsAbs(path) && !fromOverride:
		path = filepath.Join(b.dir, path)
	}
	elems, cached := b.files[path]
	if !cached {
		data, err := ReadSource(path)
		if err != nil {
			b.errorf(pos, end, "cannot read the set: %v", err)
			return nil, false
		}
		// One string for the whole file: each element is a slice of it.
		text := string(data)
		elems = make([]elem, 0, strings.Count(text, "\n")+1)
		line := 1
		for off := 0; off < len(text); line++ {
			next := strings.IndexByte(text[off:], '\n')
			if next < 0 {
				next = len(text) - off
			}
			entry := text[off : off+next]
			if i := strings.IndexByte(entry, '#'); i >= 0 {
				entry = entry[:i]
			}
			trimmed := strings.TrimLeft(entry, " \t")
			col := len(entry) - len(trimmed) + 1
			trimmed = strings.TrimRight(trimmed, " \t\r")
			if trimmed != "" {
				at := ir.Pos{File: path, Offset: off + col - 1, Line: line, Col: col}
				elems = append(elems, elem{text: trimmed, fromFile: true, pos: at})
			}
			off += next + 1
		}
		if len(elems) == 0 {
			b.errorf(pos, end, "%s holds no elements", path).Hint = "a set file has one address, prefix or range a line"
			return nil, false
		}
		b.files[path] = elems
		b.setFiles = append(b.setFiles, ir.SetFile{Written: written, Path: path})
	}
	// Elements of a file are shared by every use, not copied: an error in
	// one points at its line in the file, which is where it is fixed.
	return elems, true
}

// ipv6 reads "ipv6 sysctl disable [keep-loopback]" and
// "ipv6 openvpn block [LOCAL/64 GATEWAY]".
func (b *builder) ipv6(s *IPv6Stmt, plan *ir.IPv6Plan) {
	pos, end := endPos(s.Pos, s.EndPos)
	var args []elem
	for _, v := range s.Args {
		es, ok := b.resolve(v, true)
		if !ok {
			return
		}
		args = append(args, es...)
	}
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = a.text
	}
	switch {
	case s.Method == "sysctl" && len(words) >= 1 && words[0] == "disable" && len(words) <= 2:
		p := &ir.SysctlPlan{Pos: pos}
		if len(words) == 2 {
			if words[1] != "keep-loopback" {
				b.errorf(args[1].pos, args[1].end(), "unknown sysctl setting %q", words[1]).Hint = "the only one is keep-loopback"
				return
			}
			p.KeepLoopback = true
		}
		plan.Sysctl = p
	case s.Method == "openvpn" && len(words) >= 1 && words[0] == "block" && (len(words) == 1 || len(words) == 3):
		p := ir.DefaultOpenVPNPlan()
		p.Pos = pos
		if len(words) == 3 {
			local, err := netip.ParsePrefix(words[1])
			if err != nil || !local.Addr().Is6() || !isULA(local.Addr()) || local.Bits() > 64 {
				b.errorf(args[1].pos, args[1].end(), "%q is not a ULA address with a prefix length of at most 64", words[1]).Hint =
					"use an address in fd00::/8 with its prefix, e.g. fd15:53b6:dead::2/64"
				return
			}
			gw, err := netip.ParseAddr(words[2])
			if err != nil || !local.Contains(gw) || gw == local.Addr() {
				b.errorf(args[2].pos, args[2].end(), "gateway %q must be another address in %s", words[2], local.Masked()).Hint =
					"e.g. fd15:53b6:dead::1 for fd15:53b6:dead::2/64"
				return
			}
			p.Local, p.Gateway = local, gw
		}
		plan.OpenVPN = &p
	default:
		b.errorf(pos, end, "unknown ipv6 statement").Hint =
			"use \"ipv6 sysctl disable [keep-loopback]\" or \"ipv6 openvpn block [LOCAL/64 GATEWAY]\""
	}
}

// isULA reports whether a is a unique local address (fc00::/7; fd00::/8 in practice).
func isULA(a netip.Addr) bool { return a.Is6() && a.As16()[0]&0xfe == 0xfc }

func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}
