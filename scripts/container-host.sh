#!/usr/bin/env bash
# Makes this host able to run podman containers, for the container tests.
# On a hybrid cgroup layout (cgroup v1 controllers plus a v2 hierarchy), crun
# refuses to run while any controller is available on the v2 side ("cgroups
# in hybrid mode not supported, drop all controllers from cgroupv2"). Such a
# controller that no v2 group uses (hugetlb here) moves to v1 when a v1
# hierarchy is mounted for it: done here, once, under /sys/fs/cgroup.
# Idempotent; does nothing on pure v1 or pure v2 hosts.
set -euo pipefail
v2=""
while read -r _ dir type _; do
  [ "$type" = cgroup2 ] && v2=$dir
done </proc/self/mounts
has_v1=$(awk '$3 == "cgroup" {print; exit}' /proc/self/mounts)
[ -n "$v2" ] && [ -n "$has_v1" ] || exit 0
for c in $(cat "$v2/cgroup.controllers"); do
  [ -d "/sys/fs/cgroup/$c" ] || mkdir "/sys/fs/cgroup/$c"
  mountpoint -q "/sys/fs/cgroup/$c" || mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
  echo "container-host: cgroup controller $c moved from v2 to a v1 hierarchy at /sys/fs/cgroup/$c"
done
