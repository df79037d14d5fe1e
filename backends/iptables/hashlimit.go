package iptables

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ksc-project/ksc/ir"
)

// hashlimitScale is xt_hashlimit's unit of time between packets (revision
// 2 on): a microsecond.
const hashlimitScale = 1_000_000

// maxHashlimitBurst is the largest burst iptables' hashlimit takes.
const maxHashlimitBurst = 1_000_000

// hashlimitUnits are the units iptables-save writes a hashlimit rate in,
// largest first, with their length in microseconds.
var hashlimitUnits = []struct {
	name string
	mult uint64
}{{"day", 86400 * hashlimitScale}, {"hour", 3600 * hashlimitScale}, {"min", 60 * hashlimitScale}, {"sec", hashlimitScale}}

// hashlimitMatch is a metered limit ("update @ssh4 { ip saddr limit rate
// over 3/minute }") as iptables' hashlimit match: one token bucket for each
// key, in a table named after the set.
//
// The two keep keys differently, and ksc writes only what looks the same
// from outside. nft keeps a key until the set's timeout (for ever without
// one); hashlimit forgets a key idle for --hashlimit-htable-expire, at its
// next garbage collection. A bucket idle that long is full again anyway,
// so ksc makes the expiry at least the time a bucket takes to refill, and
// refuses a timeout shorter than that, or one that "add" (which does not
// restart it) would end while the key is busy.
func hashlimitMatch(l *ir.Limit) ([]string, *ir.Diagnostic) {
	refuse := func(why, hint string) *ir.Diagnostic {
		return &ir.Diagnostic{Pos: l.Pos, Message: fmt.Sprintf("the iptables target cannot express %s: %s", l.Text(), why), Hint: hint}
	}
	m := l.Meter
	period := hashlimitScale * l.Unit.Seconds() / l.Rate // as iptables reads "N/unit"
	burst := l.EffectiveBurst()
	switch {
	case period == 0:
		return nil, refuse("hashlimit goes up to 1000000/second", "use the nft target")
	case period > math.MaxUint32:
		return nil, refuse("hashlimit cannot keep a rate below one every 71 minutes", "use a rate of at least 1/hour, or the nft target")
	case burst > maxHashlimitBurst:
		return nil, refuse(fmt.Sprintf("hashlimit's burst goes up to %d", maxHashlimitBurst), "use a smaller burst, or the nft target")
	}
	refill := time.Duration(uint64(burst)*period) * time.Microsecond
	if t := m.Set.Timeout; t != 0 {
		switch {
		case m.Op == ir.SetAdd:
			return nil, refuse(fmt.Sprintf("set %s forgets a key %s after it is added, even while it is busy; hashlimit forgets only idle keys", m.Set.Name, ir.FormatTimeout(t)),
				"write update @"+m.Set.Name+", which restarts the timeout with each packet")
		case t < refill:
			return nil, refuse(fmt.Sprintf("set %s forgets an idle key after %s, before its limit has refilled (%s); hashlimit forgets keys only at its next garbage collection", m.Set.Name, ir.FormatTimeout(t), refill),
				fmt.Sprintf("give set %s a timeout of at least %s", m.Set.Name, ir.FormatTimeout(refill.Round(time.Second)+time.Second)))
		}
	}
	rate, quantum := hashlimitRate(period)
	expire := max(quantum, uint64((refill+time.Millisecond-1)/time.Millisecond))
	if expire > math.MaxUint32 {
		return nil, refuse("hashlimit cannot keep an idle key as long as its limit takes to refill", "use a smaller burst or a higher rate, or the nft target")
	}
	dir := "--hashlimit-upto"
	if l.Over {
		dir = "--hashlimit-above"
	}
	mode := map[ir.Field]string{ir.FieldIPSaddr: "srcip", ir.FieldIP6Saddr: "srcip", ir.FieldIPDaddr: "dstip", ir.FieldIP6Daddr: "dstip"}[m.Key]
	args := []string{"-m", "hashlimit", dir, rate, "--hashlimit-burst", strconv.Itoa(int(burst)),
		"--hashlimit-mode", mode, "--hashlimit-name", hashlimitName(m.Set),
		"--hashlimit-htable-max", strconv.Itoa(int(m.Set.EffectiveSize()))}
	if expire != quantum {
		// iptables-save leaves out an expiry of one unit of the rate.
		args = append(args, "--hashlimit-htable-expire", strconv.FormatUint(expire, 10))
	}
	return args, nil
}

// hashlimitRate writes a rate as iptables-save does, and the length in
// milliseconds of the unit it uses (hashlimit's default expiry).
func hashlimitRate(period uint64) (string, uint64) {
	i := 1
	for ; i < len(hashlimitUnits); i++ {
		u := hashlimitUnits[i]
		if period > u.mult || u.mult/period < u.mult%period {
			break
		}
	}
	u := hashlimitUnits[i-1]
	return fmt.Sprintf("%d/%s", u.mult/period, u.name), u.mult / 1000
}

// hashlimitName names a meter's table: hashlimit tables are shared by name
// in a namespace, so ksc's carry its prefix.
func hashlimitName(s *ir.TableSet) string { return ipsetPrefix + s.Name }
