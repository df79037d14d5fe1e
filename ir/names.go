package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// The checks in this file are the barrier against injection: every name and
// text that a backend writes into nft or iptables-restore input passes one of
// them, so no input can close a quote, end a statement or start a new line.

// MaxInterfaceName is the longest interface name the kernel accepts (IFNAMSIZ-1).
const MaxInterfaceName = 15

// MaxLogPrefix is the longest log prefix the kernel keeps (NF_LOG_PREFIXLEN-1).
const MaxLogPrefix = 127

// MaxComment is the longest rule comment ksc writes (nft's own limit).
const MaxComment = 128

// MaxName is the longest table or chain name ksc accepts: iptables' limit for
// chain names, so that a policy compiles to every target.
const MaxName = 28

// CheckName checks a table or chain name: a letter or underscore, then
// letters, digits, '_' and '-'.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > MaxName {
		return fmt.Errorf("name %q is %d bytes long; at most %d are allowed", name, len(name), MaxName)
	}
	for i, r := range name {
		ok := r == '_' || isLetter(r) || i > 0 && (isDigit(r) || r == '-')
		if !ok {
			return fmt.Errorf("name %q has %s; use letters, digits, '_' and '-'", name, describeRune(r))
		}
	}
	return nil
}

// CheckInterfaceName checks an interface name: 1 to 15 bytes of letters,
// digits and "_-.@", optionally ending in the wildcard '*'. '+' is refused:
// iptables reads it as the wildcard and nft as a letter, so a name holding
// it would mean two things.
func CheckInterfaceName(name string) error {
	base, wildcard := strings.CutSuffix(name, "*")
	if base == "" {
		return fmt.Errorf("interface name %q is empty", name)
	}
	if len(base) > MaxInterfaceName {
		return fmt.Errorf("interface name %q is %d bytes long; the kernel allows at most %d", name, len(base), MaxInterfaceName)
	}
	if wildcard && len(name) > MaxInterfaceName {
		// nft -f counts the '*' in the name's 16 bytes, NUL included;
		// netlink would take one more, and the two must agree.
		return fmt.Errorf("wildcard %q is %d bytes long; nft allows at most %d with the '*'", name, len(name), MaxInterfaceName)
	}
	for _, r := range base {
		if !(isLetter(r) || isDigit(r) || strings.ContainsRune("_-.@", r)) {
			return fmt.Errorf("interface name %q has %s, which interface names cannot contain", name, describeRune(r))
		}
	}
	if base == "." || base == ".." {
		return fmt.Errorf("interface name %q is not allowed by the kernel", name)
	}
	return nil
}

// CheckText checks free text that ends up quoted in output (log prefixes,
// comments): printable ASCII without '"' or '\', at most max bytes.
func CheckText(what, text string, max int) error {
	if len(text) > max {
		return fmt.Errorf("%s %q is %d bytes long; at most %d are allowed", what, text, len(text), max)
	}
	for _, r := range text {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return fmt.Errorf("%s %q has %s; use printable ASCII without '\"' or '\\'", what, text, describeRune(r))
		}
	}
	return nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool  { return r >= '0' && r <= '9' }

func describeRune(r rune) string {
	if r >= 0x21 && r <= 0x7e {
		return fmt.Sprintf("the character %q", r)
	}
	return fmt.Sprintf("the character %U", r)
}

func itoa(i int) string { return strconv.Itoa(i) }
