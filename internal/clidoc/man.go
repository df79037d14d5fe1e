package clidoc

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

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

// Page is what a manual says beside the commands.
type Page struct {
	Program, Version string
	// OneLine follows the name ("ksc - the kill-switch compiler").
	OneLine, Description, ExitStatus string
	// SeeAlso are other pages, as "nft(8)".
	SeeAlso []string
}

// Man is the program's manual page, in roff: section 1, its description,
// then each command with its help and flags.
func Man(page Page, cmds []Command) string {
	program := page.Program
	var b strings.Builder
	function(program) // a plain word
	fmt.Fprintf(&b, ".TH %s 1 \"\" \"%s %s\" \"User Commands\"\n", strings.ToUpper(program), program, roffText(page.Version))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", program, roffText(page.OneLine))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n.I command\n.RI [ arguments ]\n", program)
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", roffText(page.Description))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, ".SS \"%s %s\"\n%s\n.PP\n.nf\n%s\n.fi\n", program, c.Name, roffText(c.Summary), roffText(strings.TrimRight(c.Usage, "\n")))
		for _, f := range c.Flags {
			_, usage := pflag.UnquoteUsage(f)
			fmt.Fprintf(&b, ".TP\n%s\n%s\n", roffFlag(f), roffText(usage))
		}
	}
	if page.ExitStatus != "" {
		fmt.Fprintf(&b, ".SH \"EXIT STATUS\"\n%s\n", roffText(page.ExitStatus))
	}
	if len(page.SeeAlso) > 0 {
		b.WriteString(".SH \"SEE ALSO\"\n")
		for i, ref := range page.SeeAlso {
			name, section, _ := strings.Cut(strings.TrimSuffix(ref, ")"), "(")
			sep := ","
			if i == len(page.SeeAlso)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, ".BR %s (%s)%s\n", roffText(name), roffText(section), sep)
		}
	}
	return b.String()
}
