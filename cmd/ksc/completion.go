package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ksc-project/ksc/internal/clidoc"
	"github.com/spf13/pflag"
)

// describing, when set, is handed each command's flags by parseFlags
// instead of parsing: completion and the manual read the flags from the
// commands themselves, so that neither can fall behind them.
var describing func(fs *pflag.FlagSet)

// oneOf marks a flag whose value is one of words, for completion.
var oneOf = clidoc.OneOf

// documentedCommands runs each listed command with describing set, to
// collect the flags it defines.
func documentedCommands() []clidoc.Command {
	var out []clidoc.Command
	for _, c := range commands {
		if c.summary == "" {
			continue
		}
		doc := clidoc.Command{Name: c.name, Summary: c.summary, Usage: c.usage}
		describing = func(fs *pflag.FlagSet) {
			fs.VisitAll(func(f *pflag.Flag) { doc.Flags = append(doc.Flags, f) })
		}
		// openvpn's flags belong to its subcommand.
		c.run(env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}, []string{"patch"})
		describing = nil
		out = append(out, doc)
	}
	return out
}

const completionUsage = `Usage: ksc completion bash|zsh|fish

Print a script that completes ksc's commands, flags and their values in
the shell named. Load it in the current shell, or install it:

  source <(ksc completion bash)
  ksc completion bash > /etc/bash_completion.d/ksc
  ksc completion zsh > "${fpath[1]}/_ksc"
  ksc completion fish > ~/.config/fish/completions/ksc.fish
`

func runCompletion(e env, args []string) int {
	fs := newFlags(e, "completion")
	if code := parseFlags(e, fs, completionUsage, args); code >= 0 {
		return code
	}
	write := map[string]func(string, []clidoc.Command) string{"bash": clidoc.Bash, "zsh": clidoc.Zsh, "fish": clidoc.Fish}[fs.Arg(0)]
	if fs.NArg() != 1 || write == nil {
		fmt.Fprint(e.stderr, completionUsage)
		return exitUsage
	}
	fmt.Fprint(e.stdout, write("ksc", documentedCommands()))
	return exitOK
}

const manUsage = `Usage: ksc man

Print ksc's manual page, in roff: every command, its help and its flags,
written from the same table as "ksc --help". Read or install it:

  ksc man | man -l -
  ksc man > /usr/local/share/man/man1/ksc.1
`

func runMan(e env, args []string) int {
	fs := newFlags(e, "man")
	if code := parseFlags(e, fs, manUsage, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprint(e.stderr, manUsage)
		return exitUsage
	}
	fmt.Fprint(e.stdout, clidoc.Man(clidoc.Page{
		Program: "ksc", Version: version(), OneLine: "the kill-switch compiler",
		Description: "ksc compiles one small firewall policy into every form a Linux machine needs: " +
			"an nft script, a netlink batch, iptables rules, sysctl and OpenVPN settings; " +
			"it applies them with a rollback guard, tests them with real packets and keeps them in place.",
		ExitStatus: "0 on success; 1 for a problem with the policy or the system (a failed test, a refused apply); 2 for a problem with the command line.",
		SeeAlso:    []string{"nft(8)", "iptables(8)", "ip-netns(8)"},
	}, documentedCommands()))
	return exitOK
}
