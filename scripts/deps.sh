#!/bin/sh
# Installs the Debian packages moat needs to build, run and test, if any are
# missing. Safe to run repeatedly; does nothing when all are present.
# Usage: scripts/deps.sh [build|test|bench]
set -eu

build_pkgs="meson ninja-build pkg-config gcc libuv1-dev libssl-dev libsqlite3-dev
libunbound-dev libpsl-dev publicsuffix
libinih-dev libcrypt-dev zlib1g-dev openssl"
test_pkgs="libcmocka-dev python3 python3-pytest swaks libnet-ssleay-perl clang
libclang-rt-14-dev fetchmail mutt
procps python3-dnslib python3-yaml python3-dkim python3-authres
clamav-daemon clamav"
bench_pkgs="postfix dovecot-imapd bogofilter"

want="$build_pkgs"
case "${1:-build}" in
test) want="$build_pkgs $test_pkgs" ;;
bench) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
if echo "$missing" | grep -q postfix; then
	# No configuration: the benchmark writes its own main.cf.
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
fi
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends $missing
