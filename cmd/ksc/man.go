package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

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
	fmt.Fprint(e.stdout, manPage(documentedCommands()))
	return exitOK
}

// roffText escapes text for roff: backslashes, and a line that would
// start with a request's dot or apostrophe.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// roffFlag writes a flag's spellings as a man page does: \-t, \-\-target.
func roffFlag(f *pflag.Flag) string {
	name, _ := pflag.UnquoteUsage(f)
	text := `\fB\-\-` + f.Name + `\fR`
	if f.Shorthand != "" {
		text = `\fB\-` + f.Shorthand + `\fR, ` + text
	}
	if f.Value.Type() != "bool" {
		text += ` \fI` + roffText(name) + `\fR`
	}
	return text
}

func manPage(cmds []documented) string {
	var b strings.Builder
	b.WriteString(".TH KSC 1 \"\" \"ksc " + roffText(version()) + "\" \"User Commands\"\n")
	b.WriteString(".SH NAME\nksc \\- the kill-switch compiler\n")
	b.WriteString(".SH SYNOPSIS\n.B ksc\n.I command\n.RI [ arguments ]\n")
	b.WriteString(".SH DESCRIPTION\nksc compiles one small firewall policy into every form a Linux machine needs: " +
		"an nft script, a netlink batch, iptables rules, sysctl and OpenVPN settings; " +
		"it applies them with a rollback guard, tests them with real packets and keeps them in place.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".SS \"ksc %s\"\n%s\n.PP\n.nf\n%s\n.fi\n", c.name, roffText(c.summary), roffText(strings.TrimRight(c.usage, "\n")))
		for _, f := range c.flags {
			_, usage := pflag.UnquoteUsage(f)
			fmt.Fprintf(&b, ".TP\n%s\n%s\n", roffFlag(f), roffText(usage))
		}
	}
	b.WriteString(".SH \"EXIT STATUS\"\n0 on success; 1 for a problem with the policy or the system (a failed test, a refused apply); 2 for a problem with the command line.\n")
	b.WriteString(".SH \"SEE ALSO\"\n.BR nft (8),\n.BR iptables (8),\n.BR ip-netns (8)\n")
	return b.String()
}
