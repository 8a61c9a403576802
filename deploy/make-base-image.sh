#!/usr/bin/env bash
# Build a local Debian bookworm base image for machines that reach Debian's mirror and PyPI
# but no container registry:  deploy/make-base-image.sh [TAG]   (default pmm-base:bookworm)
# The rootfs is made with debootstrap (root needed), carries python3 + venv, and trusts the
# host's CA certificates so pip inside the image reaches the package index as the host does.
# Then build with:  docker build --build-arg BASE_IMAGE=pmm-base:bookworm -t pymapmanager .
set -euo pipefail
TAG=${1:-pmm-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-$(sed -n 's#^URIs: \(http[^ ]*debian\)/*$#\1#p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "$TAG exists"; exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# the host's CA bundle (a proxying registry's certificate, if any, comes with it)
cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$work/rootfs/usr/local/share/ca-certificates"
cp -r /usr/local/share/ca-certificates/. "$work/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$work/rootfs/etc/pip.conf"
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "built $TAG"
