package machine

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/ns"
	"github.com/ksc-project/ksc/lang"
)

// readLegacy reads iptables-legacy's rules in the namespace at nsPath,
// which run at the same hooks as nft's chains and which nft does not
// list: nil when there are none (tables whose built-in chains are empty
// and accept are none).
func readLegacy(nsPath string) (*Machine, error) {
	var saves [2][]byte
	rules := 0
	err := nsenter.Run(nsPath, func() error {
		for i, tool := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
			if _, err := exec.LookPath(tool); err != nil {
				continue
			}
			out, err := run("", tool)
			if err != nil {
				return err
			}
			if n := countRules(out); n > 0 {
				saves[i], rules = out, rules+n
			}
		}
		return nil
	})
	if err != nil || rules == 0 {
		return nil, err
	}
	listing, err := TranslateSave(saves[0], saves[1])
	if err != nil {
		d := ir.Diagnostic{Severity: ir.Error, Pos: ir.Pos{File: LegacySource},
			Message: fmt.Sprintf("%d iptables-legacy rules and chain policies, which nft does not list and ksc could not read: %v", rules, err)}
		return &Machine{Policy: &ir.Policy{}, Unseen: ir.Diagnostics{d}}, nil
	}
	p, unseen, ds := lang.LoadMachine(LegacySource, listing, cgroupRoot())
	if ds.HasErrors() {
		return nil, fmt.Errorf("reading iptables-legacy's rules: %v", ds.Err())
	}
	return &Machine{Policy: p, Unseen: unseen}, nil
}

// countRules counts the rules of iptables-save output, and the built-in
// chains whose policy is not ACCEPT.
func countRules(save []byte) int {
	n := 0
	for _, line := range strings.Split(string(save), "\n") {
		builtIn := strings.HasPrefix(line, ":") && !strings.Contains(line, " - ")
		if strings.HasPrefix(line, "-A ") || builtIn && !strings.Contains(line, " ACCEPT ") {
			n++
		}
	}
	return n
}

// TranslateSave is nft's listing of iptables-save output (IPv4's and
// IPv6's; either may be empty), as iptables-nft-restore loads it into a
// throwaway namespace: iptables' own translation, a match or target nft
// has no expression for kept as "xt match NAME" or "xt target NAME".
func TranslateSave(ipv4, ipv6 []byte) (listing []byte, err error) {
	scratch, err := ns.Create("translate")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, scratch.Delete()) }()
	err = scratch.Do(func() error {
		for _, s := range []struct {
			tool string
			save []byte
		}{{"iptables-nft-restore", ipv4}, {"ip6tables-nft-restore", ipv6}} {
			if len(s.save) == 0 {
				continue
			}
			if _, err := run(string(s.save), s.tool); err != nil {
				return err
			}
		}
		var err error
		listing, err = run("", "nft", "list", "ruleset")
		return err
	})
	return listing, err
}

// TranslateJSON is nft's listing of a ruleset in nft's JSON (nft -j list
// ruleset), loaded with nft -j -f into a throwaway namespace.
func TranslateJSON(ruleset []byte) (listing []byte, err error) {
	scratch, err := ns.Create("translate")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, scratch.Delete()) }()
	err = scratch.Do(func() error {
		if _, err := run(string(ruleset), "nft", "-j", "-f", "-"); err != nil {
			return err
		}
		var err error
		listing, err = run("", "nft", "list", "ruleset")
		return err
	})
	return listing, err
}
