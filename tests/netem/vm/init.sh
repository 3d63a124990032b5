#!/bin/busybox sh
# /init of the netem VM lane's initramfs.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /proc /sys /run /tmp /dev /var
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ln -s /run /var/run
for m in veth ifb sch_netem sch_tbf sch_ingress cls_u32 act_mirred; do
  [ -f /modules/$m.ko ] && insmod /modules/$m.ko
done
ip link set lo up 2>/dev/null
echo "LANE-START $(uname -r)"
sh /lane.sh 2>&1
echo "LANE-END"
poweroff -f
