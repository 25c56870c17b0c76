#!/usr/bin/env bash
# Builds the boot artifacts of the `microvm` sandbox substrate and prints their directory:
#   scripts/build_microvm.sh GUEST_AGENT [CACHE_DIR]   (default ${BALEEN_CACHE:-~/.cache/baleen}/microvm)
#   scripts/build_microvm.sh --fetch-kernel [CACHE_DIR] only fetches the kernel (scripts/setup.sh)
# GUEST_AGENT is the static baleen-guest-agent binary (CMake target baleen-guest-agent). The kernel is
# Debian's cloud kernel (`apt-get download`, cached per package version; BALEEN_MICROVM_KERNEL names
# another linux-image package); the initramfs holds the busybox base image (scripts/build_image.sh),
# the virtio modules the guest needs, scripts/microvm/init and the agent. The result
# CACHE/microvm-<hash prefix>/{vmlinuz,initramfs.cpio.gz,microvm.json} is named by a content hash,
# built once and shared read-only by every microvm sandbox.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
agent="${1:?usage: build_microvm.sh GUEST_AGENT|--fetch-kernel [CACHE_DIR]}"
cache="${2:-${BALEEN_CACHE:-$HOME/.cache/baleen}/microvm}"
[ "$agent" = --fetch-kernel ] || [ -x "$agent" ] ||
  { echo "build_microvm.sh: guest agent '$agent' is not an executable" >&2; exit 1; }
mkdir -p "$cache/kernels"

# The kernel package: the cloud flavour boots fastest (fewest drivers); virtio is modular there.
package="${BALEEN_MICROVM_KERNEL:-}"
if [ -z "$package" ]; then
  package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
if [ -z "$package" ]; then  # no package index: use a kernel fetched earlier, if any
  package=$(ls "$cache/kernels" 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$package" ] || { echo "build_microvm.sh: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }

kernel="$cache/kernels/$package"
if [ ! -f "$kernel/vmlinuz" ]; then
  fetch=$(mktemp -d "$cache/kernels/.fetch.XXXXXX")
  trap 'rm -rf "$fetch"' EXIT
  (cd "$fetch" && apt-get download "$package" >/dev/null 2>"$fetch/apt.log") || {
    cat "$fetch/apt.log" >&2
    echo "build_microvm.sh: apt-get download $package failed" >&2
    exit 1
  }
  dpkg-deb -x "$fetch"/*.deb "$fetch/deb"
  mkdir -p "$fetch/out/modules"
  cp "$fetch"/deb/boot/vmlinuz-* "$fetch/out/vmlinuz"
  # Only the modules the guest loads; the package holds ~3000.
  for module in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console \
    failover net_failover virtio_net; do
    found=$(find "$fetch/deb/lib/modules" -name "$module.ko*" | head -n 1)
    [ -n "$found" ] || { echo "build_microvm.sh: $package has no module $module" >&2; exit 1; }
    case "$found" in
      *.ko) cp "$found" "$fetch/out/modules/$module.ko" ;;
      *.ko.xz) xz -dc "$found" >"$fetch/out/modules/$module.ko" ;;
      *) echo "build_microvm.sh: cannot unpack $found" >&2; exit 1 ;;
    esac
  done
  rm -rf "$kernel"
  mv -T "$fetch/out" "$kernel"
  rm -rf "$fetch"
  trap - EXIT
fi

if [ "$agent" = --fetch-kernel ]; then
  echo "$kernel"
  exit 0
fi

base=$("$here/build_image.sh" "$cache/images")
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"
cp -a "$base/layers/base" "$root"
mkdir -p "$root/sys" "$root/lib/modules/baleen/net"
# Load order: each module after the ones it needs.
for module in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console; do
  cp "$kernel/modules/$module.ko" "$root/lib/modules/baleen/"
  echo "$module" >>"$root/lib/modules/baleen/order"
done
for module in failover net_failover virtio_net; do cp "$kernel/modules/$module.ko" "$root/lib/modules/baleen/net/"; done
install -m 0755 "$here/microvm/init" "$root/init"
install -m 0755 "$agent" "$root/sbin/baleen-guest-agent"

# Content hash: the kernel and every path, mode, link target and file byte of the initramfs.
hash=$({ sha256sum <"$kernel/vmlinuz"; cd "$root" && find . -printf '%y %m %p %l\n' | LC_ALL=C sort; \
  find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-64)
out="$cache/microvm-${hash:0:16}"
if [ ! -f "$out/microvm.json" ]; then
  mkdir -p "$work/out"
  cp "$kernel/vmlinuz" "$work/out/vmlinuz"
  (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) | gzip -n -6 \
    >"$work/out/initramfs.cpio.gz"
  printf '{\n  "format": "baleen-microvm-1",\n  "hash": "sha256:%s",\n  "kernel": "vmlinuz",\n  "initrd": "initramfs.cpio.gz",\n  "kernel_package": "%s"\n}\n' \
    "$hash" "$package" >"$work/out/microvm.json"
  chmod 0755 "$work/out"
  # rename(2) is atomic and refuses a non-empty target, so concurrent builders agree on one copy.
  if ! mv -T "$work/out" "$out" 2>/dev/null && [ ! -f "$out/microvm.json" ]; then
    echo "build_microvm.sh: cannot install $out" >&2
    exit 1
  fi
fi
echo "$out"
