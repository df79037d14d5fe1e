package ir

import (
	"crypto/sha256"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxCgroupLevel is the deepest cgroup a policy can name: systemd puts
// an application five levels down (user.slice/user-1000.slice/
// user@1000.service/app.slice/app-firefox.scope).
const MaxCgroupLevel = 8

// MaxCgroupPath is the longest cgroup path ksc takes.
const MaxCgroupPath = 255

// CgroupField is the field "socket cgroupv2 level N": the cgroup, N
// levels below the cgroup2 root, that the sending socket's cgroup is or
// is below. nft compares it by the cgroup's id, looked up when the
// policy is loaded, as iptables' -m cgroup --path does.
func CgroupField(level int) Field {
	if level < 1 || level > MaxCgroupLevel {
		panic("ir: no cgroup field for level " + strconv.Itoa(level))
	}
	return FieldCgroup + Field(level-1)
}

// CgroupLevel is the level of a cgroup field, 0 for other fields.
func (f Field) CgroupLevel() int {
	if f < FieldCgroup || f >= fieldEnd {
		return 0
	}
	return int(f-FieldCgroup) + 1
}

// A field a level: one row each, so that a packet has one value of each
// (its cgroup's ancestor at that level) and a match compares one key.
func init() {
	for level := 1; level <= MaxCgroupLevel; level++ {
		f := CgroupField(level)
		words := "socket cgroupv2 level " + strconv.Itoa(level)
		// Only what a local socket sends has one: the socket's cgroup is
		// where the process that made it was then. nft's socket
		// expression takes no other output hook, and reads the socket a
		// packet arrives for at input, which iptables' cgroup match does
		// not: output only is one meaning on every target.
		fieldSpecs[f] = FieldSpec{Name: words, Kind: KindCgroup, Family: Inet, Hooks: hooks(HookOutput), Lacking: hooks(HookOutput)}
		Selectors = append(Selectors, Selector{words, f, AnyTransport})
	}
}

// CheckCgroupPath checks a cgroup path below the cgroup2 root, as a
// policy writes it: names joined by '/', of letters, digits and
// "._-@:+=,", so that it is the same text in nft, iptables-restore and
// a shell.
func CheckCgroupPath(path string) error {
	if path == "" {
		return fmt.Errorf("cgroup path is empty")
	}
	if len(path) > MaxCgroupPath {
		return fmt.Errorf("cgroup path %q is %d bytes long; ksc takes at most %d", path, len(path), MaxCgroupPath)
	}
	if strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return fmt.Errorf("cgroup path %q starts or ends with '/': write it below the cgroup2 root, as nft does", path)
	}
	for _, name := range strings.Split(path, "/") {
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("cgroup path %q has an empty, \".\" or \"..\" part", path)
		}
		for _, r := range name {
			if !(isLetter(r) || isDigit(r) || strings.ContainsRune("._-@:+=,", r)) {
				return fmt.Errorf("cgroup path %q has %s, which ksc does not take in a cgroup name", path, describeRune(r))
			}
		}
	}
	return nil
}

// CgroupDepth is how many levels below the root a cgroup path is.
func CgroupDepth(path string) int {
	if path == "" {
		return 0
	}
	return strings.Count(path, "/") + 1
}

// CgroupAncestor is the cgroup at level of path, or false when path is
// not that deep.
func CgroupAncestor(path string, level int) (string, bool) {
	if CgroupDepth(path) < level {
		return "", false
	}
	parts := strings.SplitN(path, "/", level+1)
	return strings.Join(parts[:level], "/"), true
}

// cgroupPaths remembers the path of each key CgroupKey made, so that a
// key prints as its path.
var cgroupPaths sync.Map

// CgroupKey is a cgroup path's key: a digest, since a path is longer
// than a key. Only equality means anything; a set of them is a set of
// cgroups at one level.
func CgroupKey(path string) Key {
	sum := sha256.Sum256([]byte(path))
	var k Key
	copy(k[:], sum[:])
	cgroupPaths.LoadOrStore(k, path)
	return k
}

// CgroupSet is the set of the given cgroups.
func CgroupSet(paths ...string) Set {
	spans := make([]Span, len(paths))
	for i, p := range paths {
		k := CgroupKey(p)
		spans[i] = Span{k, k}
	}
	return OwnSet(spans)
}

// CgroupPath is the path of a span holding one cgroup, or false when it
// holds several or none CgroupKey made (a negation's rest).
func CgroupPath(sp Span) (string, bool) {
	if sp.Lo != sp.Hi {
		return "", false
	}
	p, ok := cgroupPaths.Load(sp.Lo)
	if !ok {
		return "", false
	}
	return p.(string), true
}

// checkCgroups checks a cgroup match: each value one cgroup as deep as
// the level it is matched at.
func checkCgroups(ds *Diagnostics, m *Match) bool {
	level := m.Field.CgroupLevel()
	for _, sp := range m.Values {
		path, ok := CgroupPath(sp)
		if !ok {
			ds.Errorf(m.Pos, "%s has a value that is not one cgroup", m.Field)
			return false
		}
		if err := CheckCgroupPath(path); err != nil {
			ds.Errorf(m.Pos, "%v", err)
			return false
		}
		if d := CgroupDepth(path); d != level {
			ds.Errorf(m.Pos, "%s names %q, which is %d levels deep: the match would never hold", m.Field, path, d).Hint =
				fmt.Sprintf("write socket cgroupv2 level %d %q, which holds for that cgroup and every cgroup below it", d, path)
			return false
		}
	}
	return true
}

// CgroupMatches yields the policy's matches on a cgroup.
func (p *Policy) CgroupMatches() iter.Seq[*Match] {
	return func(yield func(*Match) bool) {
		for m := range p.Matches() {
			if m.Field.CgroupLevel() > 0 && !yield(m) {
				return
			}
		}
	}
}

// Matches yields every match of the policy's rules.
func (p *Policy) Matches() iter.Seq[*Match] {
	return func(yield func(*Match) bool) {
		for _, t := range p.Tables {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					for _, m := range r.Matches {
						if !yield(m) {
							return
						}
					}
				}
			}
		}
	}
}

// Cgroups lists the cgroups the policy's rules match, once each.
func (p *Policy) Cgroups() []string {
	var paths []string
	for m := range p.CgroupMatches() {
		for _, path := range ValueStrings(KindCgroup, m.Values) {
			if !slices.Contains(paths, path) {
				paths = append(paths, path)
			}
		}
	}
	return paths
}
