#!/usr/bin/env bash
# The netem VM lane: boots Debian 12's kernel (which has sch_netem as a module)
# in qemu with software emulation, from a busybox initramfs holding faultline,
# netprobe, their shared libraries and the modules, and runs lane.sh inside.
# Exit 0 pass, 1 fail, 77 skipped (printed as "SKIPPED: reason").
#   run_vm_lane.sh FAULTLINE_BINARY NETPROBE_BINARY
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
faultline=${1:?faultline binary}
netprobe=${2:?netprobe binary}
cache=${FAULTLINE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/faultline-vm}
skip() { echo "SKIPPED: $*"; exit 77; }

[ "${FAULTLINE_SKIP_VM:-0}" = 1 ] && skip "FAULTLINE_SKIP_VM=1"
qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
busybox=""
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || skip "no static busybox (apt-get install busybox-static)"
command -v cpio >/dev/null || skip "cpio is not installed (apt-get install cpio)"
[ -x "$faultline" ] || skip "faultline binary $faultline not built"
[ -x "$netprobe" ] || skip "netprobe binary $netprobe not built"

# The kernel: Debian's linux-image, fetched once with apt-get download (not installed).
mkdir -p "$cache"
kdir=$(ls -d "$cache"/extract/lib/modules/* 2>/dev/null | head -1)
if [ -z "$kdir" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$pkg" ] || skip "apt-cache cannot resolve linux-image-amd64 (run apt-get update)"
  (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed (no Debian mirror?)"
  rm -rf "$cache/extract" && dpkg-deb -x "$cache/$pkg"_*.deb "$cache/extract" || skip "cannot unpack $pkg"
  kdir=$(ls -d "$cache"/extract/lib/modules/* | head -1)
fi
kver=$(basename "$kdir")
vmlinuz="$cache/extract/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || skip "no kernel image in $cache/extract/boot"

# The initramfs.
work=$(mktemp -d /tmp/faultline-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,modules,proc,sys,dev,run,tmp}
cp "$busybox" "$root/bin/busybox"
cp "$faultline" "$root/bin/faultline"
cp "$netprobe" "$root/bin/netprobe"
for bin in "$faultline" "$netprobe"; do
  for lib in $(ldd "$bin" | awk '/=>/ {print $3} /^\s*\/.*ld-linux/ {print $1}'); do
    [ -f "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
done
mkdir -p "$root/lib64" && [ -e /lib64/ld-linux-x86-64.so.2 ] && cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
for m in veth ifb sch_netem sch_tbf sch_ingress cls_u32 act_mirred; do
  f=$(find "$kdir/kernel" -name "$m.ko*" | head -1)
  [ -n "$f" ] || continue
  case "$f" in
    *.xz) xz -dc "$f" > "$root/modules/$m.ko" ;;
    *.zst) zstd -dc "$f" > "$root/modules/$m.ko" ;;
    *) cp "$f" "$root/modules/$m.ko" ;;
  esac
done
[ -f "$root/modules/sch_netem.ko" ] || skip "no sch_netem module in $kver"
cp "$here/init.sh" "$root/init" && chmod +x "$root/init"
cp "$here/lane.sh" "$root/lane.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

echo "netem VM lane: kernel $kver, qemu $($qemu --version | head -1 | awk '{print $4}'), tcg"
log=$work/console.log
start=$(date +%s)
timeout "${FAULTLINE_VM_TIMEOUT:-600}" "$qemu" -accel tcg -m 768 -smp 1 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$log" 2>&1
qrc=$?
tr -d '\r' < "$log" | sed -n '/LANE-START/,/LANE-END/p'
echo "netem VM lane: $(( $(date +%s) - start ))s"
if [ -n "${FAULTLINE_VM_LOG:-}" ]; then cp "$log" "$FAULTLINE_VM_LOG"; fi
if grep -q "LANE-RESULT: PASS" "$log"; then exit 0; fi
if ! grep -q "LANE-START" "$log"; then
  echo "the VM did not reach its init (qemu exit $qrc); console:"; tail -30 "$log"
fi
exit 1
