#!/usr/bin/env bash
# Installs the Debian packages the test suite and the demo need (idempotent, quiet when done).
set -euo pipefail
packages=(
	# building relocatable CPython archives from upstream sources
	build-essential pkg-config dpkg-dev libssl-dev zlib1g-dev libbz2-dev liblzma-dev
	libffi-dev libsqlite3-dev libreadline-dev libncurses-dev libgdbm-dev libgdbm-compat-dev
	uuid-dev libexpat1-dev libzstd-dev patchelf zstd
	# end-to-end and image tests
	git debootstrap umoci skopeo podman runc
	# image tests: CNI networks for compose's port mappings, and compose v1 (Docker API)
	containernetworking-plugins iptables docker-compose
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing Debian packages: ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
