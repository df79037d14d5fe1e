// Command txlate-import measures ksc import over iptables' own rule
// translations (extensions/*.txlate in the iptables source): each
// iptables-translate line is run as an iptables-nft command in a
// throwaway network namespace, the ruleset nft then lists is imported
// with ksc import, and the import is applied with ksc's netlink batch in
// the same namespace after a flush: every line nft lists of the listing
// loaded with nft -f must be listed again. docs/import.md records the
// result. Root.
//
//	go run ./scripts/txlate-import [-why] IPTABLES/extensions
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lang"
)

var why = flag.Bool("why", false, "print each rule not imported or not listed again, and why, on stderr")

// lab is the namespace the rules are loaded in.
var lab string

var (
	counters = regexp.MustCompile(`counter packets \d+ bytes \d+`)
	warning  = regexp.MustCompile(`(?m)^# Warning: .*\n?`)
)

type tally struct{ rules, refused, imported, same int }

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: txlate-import [-why] IPTABLES/extensions")
		os.Exit(2)
	}
	lab = fmt.Sprintf("ksc-txlate-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", lab).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ip netns add: %v: %s", err, out)
		os.Exit(1)
	}
	code := run(flag.Arg(0))
	exec.Command("ip", "netns", "delete", lab).Run()
	os.Exit(code)
}

func run(dir string) int {
	files, err := filepath.Glob(filepath.Join(dir, "*.txlate"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(os.Stderr, "no .txlate files in %s\n", dir)
		return 1
	}
	sort.Strings(files)
	var all tally
	reasons := map[string]int{}
	for _, f := range files {
		t, err := measure(f, reasons)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		all.rules, all.refused, all.imported, all.same = all.rules+t.rules, all.refused+t.refused, all.imported+t.imported, all.same+t.same
	}
	loaded := all.rules - all.refused
	fmt.Printf("%d rules in %d files; iptables-nft %s loads %d here; ksc imports %d of them (%.0f%%), and %d list again identically once applied\n",
		all.rules, len(files), version(), loaded, all.imported, 100*float64(all.imported)/float64(max(loaded, 1)), all.same)
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return reasons[keys[i]] > reasons[keys[j]] })
	for _, k := range keys {
		fmt.Printf("  %3d  %s\n", reasons[k], k)
	}
	return 0
}

func version() string {
	out, _ := exec.Command("iptables-nft", "--version").Output()
	return strings.TrimSpace(strings.TrimPrefix(string(out), "iptables "))
}

// measure runs each rule of one file.
func measure(path string, reasons map[string]int) (tally, error) {
	var t tally
	f, err := os.Open(path)
	if err != nil {
		return t, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		tool, args, ok := strings.Cut(line, " ")
		if !ok || tool != "iptables-translate" && tool != "ip6tables-translate" {
			continue
		}
		t.rules++
		if _, err := inLab("", "nft", "flush", "ruleset"); err != nil {
			return t, err
		}
		command := strings.Replace(tool, "-translate", "-nft", 1) + " " + args
		if _, err := inLab("", "sh", "-c", command); err != nil {
			t.refused++
			continue
		}
		listing, err := inLab("", "nft", "list", "ruleset")
		if err != nil {
			return t, err
		}
		listing = warning.ReplaceAllString(listing, "")
		out, skipped, ds := lang.Import("listing", []byte(listing))
		switch {
		case ds.HasErrors():
			reasons["import error: "+ds[0].Message]++
			note(path, args, ds[0].Message)
			continue
		case len(skipped) > 0:
			reasons["not imported: "+skipped[0].Message]++
			note(path, args, skipped[0].Message)
			continue
		}
		t.imported++
		if msg := roundTrip(listing, out); msg != "" {
			reasons["imported, listed otherwise"]++
			note(path, args, msg)
			continue
		}
		t.same++
	}
	return t, sc.Err()
}

// roundTrip applies the imported policy after a flush and says how the
// listing differs from the first ("" when every line is there again).
func roundTrip(listing string, policy []byte) string {
	p, ds := lang.Load("imported.ks", policy, lang.Config{})
	if ds.HasErrors() {
		return "the import does not load: " + ds[0].Message
	}
	b, err := nft.Lower(p)
	if err != nil {
		return "the nft target refuses it: " + err.Error()
	}
	// What nft itself makes of the listing is the measure: iptables-nft
	// encodes some matches otherwise ("ct mark 0x2" where nft's own
	// "ct mark 0x2" lists as 0x00000002).
	if _, err := inLab("", "nft", "flush", "ruleset"); err != nil {
		return err.Error()
	}
	if _, err := inLab(listing, "nft", "-f", "-"); err != nil {
		return "nft -f refuses its own listing"
	}
	native, err := inLab("", "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	if _, err := inLab("", "nft", "flush", "ruleset"); err != nil {
		return err.Error()
	}
	if err := kernel.Apply(b, nsenter.Path(lab)); err != nil {
		return "apply: " + err.Error()
	}
	got, err := inLab("", "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	want := counters.ReplaceAllString(native, "counter packets 0 bytes 0")
	for _, l := range strings.Split(want, "\n") {
		if l != "" && !strings.Contains(got, l+"\n") {
			return "a line listed otherwise: " + strings.TrimSpace(l)
		}
	}
	return ""
}

func note(path, args, msg string) {
	if *why {
		fmt.Fprintf(os.Stderr, "%s: %s: %s\n", filepath.Base(path), args, msg)
	}
}

func inLab(stdin string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", lab}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}
