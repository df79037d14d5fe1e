#!/bin/sh
# Installs what the kernel tests use (nft, iptables, ip, openvpn, conntrack,
# ipset, wg, wireguard-go) and the completion and manual tests (zsh, fish,
# groff), from Debian's packages, when something is missing.
# Without root it only says what is missing: the kernel tests then skip, or
# fail where KSC_REQUIRE_KERNEL_TESTS=1 (as in CI).
set -eu
missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need nft nftables
need iptables-restore iptables
need ip iproute2
need openvpn openvpn
need conntrack conntrack
need ipset ipset
# WireGuard in userspace, for kernels without the WireGuard module.
need wg wireguard-tools
need wireguard-go wireguard-go
# systemd-analyze checks the unit ksc install writes.
need systemd-analyze systemd
# The shells "ksc completion" writes for, and groff for "ksc man".
need zsh zsh
need fish fish
need groff groff-base
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: missing packages:$missing (need root and apt-get to install them)" >&2
	exit 0
fi
echo "install-test-deps: installing$missing" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
