// Command import-coverage measures ksc import over rulesets written
// elsewhere, in a throwaway network namespace (root); docs/import.md
// records the results.
//
// With -txlate DIR, over iptables' own rule translations
// (extensions/*.txlate in the iptables source): each iptables-translate
// line runs as an iptables-nft command, the ruleset nft then lists is
// imported, and the import is applied with ksc's netlink batch after a
// flush: every line nft lists of the listing reloaded with nft -f must be
// listed again.
//
// With nft files (Debian's /usr/share/doc/nftables/examples/*.nft),
// each is loaded with nft -f and its listing imported and applied the
// same way, counting its rules.
//
//	go run ./scripts/import-coverage [-why] -txlate IPTABLES/extensions
//	go run ./scripts/import-coverage [-why] FILE.nft...
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lang"
)

var (
	why    = flag.Bool("why", false, "print each rule not imported or not listed again, and why, on stderr")
	txlate = flag.String("txlate", "", "measure over the .txlate files of `DIR` (iptables' extensions)")
)

// lab is the namespace the rules are loaded in.
var lab string

var (
	counters = regexp.MustCompile(`counter packets \d+ bytes \d+`)
	warning  = regexp.MustCompile(`(?m)^# Warning: .*\n?`)
)

type tally struct{ rules, refused, imported, same int }

func main() {
	flag.Parse()
	if (*txlate == "") == (flag.NArg() == 0) {
		fmt.Fprintln(os.Stderr, "usage: import-coverage [-why] -txlate IPTABLES/extensions | FILE.nft...")
		os.Exit(2)
	}
	// The namespace goes on every way out: an interrupt, or a reader of
	// the output gone (SIGPIPE would end the program before it).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		exec.Command("ip", "netns", "delete", lab).Run()
		os.Exit(1)
	}()
	lab = fmt.Sprintf("ksc-import-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", lab).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ip netns add: %v: %s", err, out)
		os.Exit(1)
	}
	code := 0
	if *txlate != "" {
		code = run(*txlate)
	} else {
		code = files(flag.Args())
	}
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
		// ksc writes a verdict map as one rule a key, and a meter as a
		// set a rule adds to, on purpose (docs/language.md).
		if l != "" && !strings.Contains(l, " vmap ") && !strings.Contains(l, " meter ") && !strings.Contains(got, l+"\n") {
			return "a line listed otherwise: " + strings.TrimSpace(l)
		}
	}
	return ""
}

func note(path, args, msg string) {
	if *why {
		fmt.Fprintf(os.Stderr, "%s: %s\n", strings.TrimSuffix(filepath.Base(path)+": "+args, ": "), msg)
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

// files measures whole rulesets: the rules each lists, those ksc imports,
// and whether the import lists again as the ruleset does.
func files(paths []string) int {
	loaded, rules, imported, whole, same := 0, 0, 0, 0, 0
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := inLab("", "nft", "flush", "ruleset"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := inLab(string(src), "nft", "-f", "-"); err != nil {
			note(path, "", "nft -f refuses it here")
			continue
		}
		listing, err := inLab("", "nft", "list", "ruleset")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		loaded++
		n := countListedRules(listing)
		rules += n
		out, skipped, ds := lang.Import(path, []byte(listing))
		if ds.HasErrors() {
			note(path, "", "import error: "+ds[0].Message)
			continue
		}
		for _, d := range skipped {
			note(path, "", "not imported: "+d.Message)
		}
		imported += countListedRules(string(out))
		if len(skipped) == 0 {
			whole++
			if msg := roundTrip(listing, out); msg == "" {
				same++
			} else {
				note(path, "", msg)
			}
		}
	}
	fmt.Printf("%d files, %d loaded by nft here: %d rules listed, ksc imports %d (%.0f%%); %d rulesets whole, %d of them listing again identically once applied\n",
		len(paths), loaded, rules, imported, 100*float64(imported)/float64(max(rules, 1)), whole, same)
	return 0
}

// countListedRules counts the rules of an nft listing: the lines of a
// chain's body but its header.
func countListedRules(listing string) int {
	n, inChain := 0, false
	for _, line := range strings.Split(listing, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "chain "):
			inChain = true
		case t == "}":
			inChain = false
		case inChain && t != "" && !strings.HasPrefix(t, "type ") && !strings.HasPrefix(t, "policy ") && !strings.HasPrefix(t, "#"):
			n++
		}
	}
	return n
}
