#!/usr/bin/env bash
# Builds the base sandbox image from Debian's busybox-static package into a cache and prints its
# directory: `scripts/build_image.sh [CACHE_DIR]` (default ${BALEEN_CACHE:-~/.cache/baleen}/images).
# The image is named by a content hash, built once, and shared read-only by every sandbox.
set -euo pipefail
cache="${1:-${BALEEN_CACHE:-$HOME/.cache/baleen}/images}"
mkdir -p "$cache"

busybox=""
if dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
  busybox=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n 1)
fi
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -z "$busybox" ]; then
  (cd "$work" && apt-get download busybox-static >/dev/null && dpkg-deb -x busybox-static_*.deb deb)
  busybox="$work/deb/bin/busybox"
fi
[ -x "$busybox" ] || { echo "build_image.sh: no busybox-static binary (apt-get install busybox-static)" >&2; exit 1; }

layer="$work/layers/base"
mkdir -p "$layer"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,proc,dev,work,var/tmp}
install -m 0755 "$busybox" "$layer/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$layer/$applet" ] || ln -s /bin/busybox "$layer/$applet"
done
install -d -m 1777 "$layer/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$layer/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$layer/etc/group"
echo sandbox >"$layer/etc/hostname"
printf '127.0.0.1 localhost sandbox\n::1 localhost\n' >"$layer/etc/hosts"

# Content hash: every path with its type, mode and link target, and every file's bytes.
hash=$(cd "$layer" && { find . -printf '%y %m %p %l\n' | LC_ALL=C sort; \
  find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-64)
image="$cache/busybox-${hash:0:16}"
if [ ! -f "$image/image.json" ]; then
  printf '{\n  "format": "baleen-image-1",\n  "hash": "sha256:%s",\n  "layers": ["layers/base"]\n}\n' \
    "$hash" >"$work/image.json"
  chmod 0755 "$work"
  # rename(2) is atomic and refuses a non-empty target, so concurrent builders agree on one copy.
  if mv -T "$work" "$image" 2>/dev/null; then
    trap - EXIT
  elif [ ! -f "$image/image.json" ]; then
    echo "build_image.sh: cannot install $image" >&2
    exit 1
  fi
fi
echo "$image"
