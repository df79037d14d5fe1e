#!/usr/bin/env bash
# Times ksc against nft -f and iptables-restore on the same large policies,
# whole processes (wall, user, system time, peak memory), as medians over
# RUNS runs, each load into a fresh throwaway network namespace. Needs root.
# Usage: bench/run.sh [RUNS]   (default 5). See bench/README.md.
# The table it prints replaces the current one at the top of
# bench/RESULTS.md (between its "current" markers); history stays below.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (it creates network namespaces)" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then apt-get update -qq && apt-get install -y -qq time >/dev/null; fi
sh scripts/install-test-deps.sh

work=$(mktemp -d)
ns=ksc-bench-$$
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$work/ksc" ./cmd/ksc
go run ./bench/gen "$work"
"$work/ksc" compile examples/ivpn-killswitch.ks -t nft -o "$work/example.nft"
for p in rules-10k rules-100k; do
	"$work/ksc" compile "$work/$p.ks" -t nft -o "$work/$p.nft"
	"$work/ksc" compile "$work/$p.ks" -t iptables -o "$work/$p.rules"
done
for p in set-100k set-1m; do "$work/ksc" compile "$work/$p/policy.ks" -t nft -o "$work/$p.nft"; done
"$work/ksc" compile "$work/inline-100k.ks" -t nft -o "$work/inline-100k.nft"

# measure NAME FRESH_NS CMD...: prints "NAME wall user sys maxrss_kb" (medians).
measure() {
	local name=$1 fresh=$2; shift 2
	local out=$work/times
	: > "$out"
	for _ in $(seq "$runs"); do
		if [ "$fresh" = yes ]; then ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; fi
		/usr/bin/time -a -o "$out" -f "%e %U %S %M" "$@" >/dev/null
	done
	median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	printf '%s %s %s %s %s\n' "$name" \
		"$(cut -d' ' -f1 "$out" | median)" "$(cut -d' ' -f2 "$out" | median)" \
		"$(cut -d' ' -f3 "$out" | median)" "$(cut -d' ' -f4 "$out" | median)"
}

table=$work/table
{
	measure "compile example (nft)" no "$work/ksc" compile examples/ivpn-killswitch.ks -t nft
	measure "apply example (ksc apply)" yes "$work/ksc" apply examples/ivpn-killswitch.ks --netns "$ns"
	measure "apply example (nft -f)" yes ip netns exec "$ns" nft -f "$work/example.nft"
	for p in set-100k set-1m; do
		measure "compile $p (nft)" no "$work/ksc" compile "$work/$p/policy.ks" -t nft
		measure "apply $p (ksc apply)" yes "$work/ksc" apply "$work/$p/policy.ks" --netns "$ns"
		measure "apply $p (nft -f)" yes ip netns exec "$ns" nft -f "$work/$p.nft"
		measure "apply $p (ksc apply --backend iptables: ipset)" yes "$work/ksc" apply "$work/$p/policy.ks" --netns "$ns" --backend iptables --iptables-mode nft
	done
	# status and diff read the live ruleset back: against nft's own listing.
	ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"
	"$work/ksc" apply "$work/set-100k/policy.ks" --netns "$ns" 2>/dev/null
	measure "status set-100k (ksc status)" no "$work/ksc" status "$work/set-100k/policy.ks" --netns "$ns"
	measure "status set-100k (ksc diff)" no "$work/ksc" diff "$work/set-100k/policy.ks" --netns "$ns"
	measure "status set-100k (nft list ruleset)" no ip netns exec "$ns" nft list ruleset
	measure "compile inline-100k (ksc compile)" no "$work/ksc" compile "$work/inline-100k.ks" -t nft
	measure "compile inline-100k (nft -c -f)" no unshare -n nft -c -f "$work/inline-100k.nft"
	measure "apply inline-100k (ksc apply)" yes "$work/ksc" apply "$work/inline-100k.ks" --netns "$ns"
	measure "apply inline-100k (nft -f)" yes ip netns exec "$ns" nft -f "$work/inline-100k.nft"
	for p in rules-10k rules-100k; do
		measure "compile $p (nft)" no "$work/ksc" compile "$work/$p.ks" -t nft
		measure "compile $p (nft, one core)" no env GOMAXPROCS=1 "$work/ksc" compile "$work/$p.ks" -t nft
		measure "compile $p (nft -c -f)" no unshare -n nft -c -f "$work/$p.nft"
		measure "check $p (ksc check)" no "$work/ksc" check "$work/$p.ks"
		measure "apply $p (ksc apply)" yes "$work/ksc" apply "$work/$p.ks" --netns "$ns"
		measure "apply $p (ksc apply, one core)" yes env GOMAXPROCS=1 "$work/ksc" apply "$work/$p.ks" --netns "$ns"
		measure "apply $p (nft -f)" yes ip netns exec "$ns" nft -f "$work/$p.nft"
		measure "apply $p (iptables-nft-restore)" yes ip netns exec "$ns" iptables-nft-restore "$work/$p.rules"
		measure "apply $p (iptables-legacy-restore)" yes ip netns exec "$ns" iptables-legacy-restore "$work/$p.rules"
	done
} | awk '
	BEGIN { print "| what | wall s | user s | sys s | peak MB | vs nft -f (wall) |"; print "|---|---|---|---|---|---|" }
	{
		n = split($0, f, " "); name = f[1]; for (i = 2; i <= n - 4; i++) name = name " " f[i]
		wall = f[n-3]; user = f[n-2]; sys = f[n-1]; mb = f[n] / 1024
		key = name; sub(/ \(.*/, "", key)
		if (name ~ /\(nft -f\)/) base[key] = wall
		rows[NR] = sprintf("| %s | %s | %s | %s | %.1f |", name, wall, user, sys, mb); keys[NR] = key; walls[NR] = wall
	}
	END {
		for (i = 1; i <= NR; i++) {
			ratio = (keys[i] in base && base[keys[i]] > 0 && rows[i] ~ /apply/) ? sprintf("%.2f", walls[i] / base[keys[i]]) : ""
			print rows[i] " " ratio " |"
		}
	}' | tee "$table"

# The current table, with when and where it was measured, in RESULTS.md.
{
	echo "<!-- current:begin (bench/run.sh writes this part) -->"
	echo "Measured $(date -u +%Y-%m-%d) by \`sudo bench/run.sh $runs\` (medians of $runs runs): $(nproc) cores, $(uname -r), $(nft --version | head -1), $(iptables --version), $(go version | cut -d' ' -f3)."
	echo
	cat "$table"
	echo "<!-- current:end -->"
} > "$work/current"
awk -v current="$work/current" '
	/<!-- current:begin/ { while ((getline line < current) > 0) print line; skip = 1; next }
	/<!-- current:end/ { skip = 0; next }
	!skip { print }' bench/RESULTS.md > "$work/results" && cp "$work/results" bench/RESULTS.md
