#!/usr/bin/env bash
# Make sure the OVN/OVS binaries the sandbox and the tests need are installed
# (Debian packages), and that the npm dev dependencies are there.
# With --bench, also the Python peers the benchmark measures against
# (python3-ovsdbapp; python3-openvswitch comes with OVN): without root they are
# only reported, and `npm run bench` skips those peers with a line saying so.
#
# Quiet and quick when everything is present. Installing never leaves a
# system ovsdb-server / ovn-northd running: service start-up is blocked with a
# temporary policy-rc.d during apt-get install, and any system-service
# instance found running is stopped through its init script.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BENCH=0
[ "${1:-}" = "--bench" ] && BENCH=1
NEEDED=(ovsdb-server ovsdb-tool ovsdb-client ovn-northd ovn-nbctl ovn-sbctl ovs-appctl openssl systemd-notify systemd-analyze python3)
PACKAGES=(ovn-central ovn-host openssl systemd python3)
APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${PACKAGES[*]}"

# ovsdb-server lives in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin"

say() { echo "ensure-ovn: $*" >&2; }

missing() {
  local m=() c
  for c in "${NEEDED[@]}"; do command -v "$c" >/dev/null 2>&1 || m+=("$c"); done
  echo "${m[*]:-}"
}

# Run a command as root: directly, or via passwordless sudo.
SUDO=()
as_root_possible() {
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); return 0; fi
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); return 0; fi
  return 1
}

POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
POLICY_OURS=0
block_service_starts() {
  # policy-rc.d exit 101 = "action forbidden": invoke-rc.d and
  # deb-systemd-invoke then do not start the packages' daemons.
  if [ -e "$POLICY" ]; then
    POLICY_BACKUP="$POLICY.ovn-natgw-backup.$$"
    "${SUDO[@]}" cp -p "$POLICY" "$POLICY_BACKUP"
  fi
  printf '#!/bin/sh\n# temporary, from ovn-natgw tools/ensure-ovn.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  POLICY_OURS=1
}
restore_policy() {
  [ "$POLICY_OURS" = 1 ] || return 0
  if [ -n "$POLICY_BACKUP" ]; then
    "${SUDO[@]}" mv -f "$POLICY_BACKUP" "$POLICY"
  else
    "${SUDO[@]}" rm -f "$POLICY"
  fi
  POLICY_OURS=0
}

# Stop ovsdb-server / ovn-northd instances that belong to the *system*
# services (Debian's default paths), never the sandboxes' own (which live in
# temp dirs), and never by name: through the packages' service scripts.
stop_system_services() {
  command -v pgrep >/dev/null 2>&1 || return 0
  local procs
  procs="$(pgrep -a -x 'ovsdb-server|ovn-northd|ovs-vswitchd|ovn-controller' 2>/dev/null || true)"
  [ -n "$procs" ] || return 0
  if ! grep -Eq '/var/run/(openvswitch|ovn)|/run/(openvswitch|ovn)|/etc/openvswitch/|/var/lib/(ovn|openvswitch)/|/var/log/(ovn|openvswitch)/' <<<"$procs"; then
    return 0
  fi
  if ! as_root_possible; then
    say "system OVN/OVS daemons are running (from the Debian packages):"
    grep -E '/var/run/|/run/|/etc/openvswitch/|/var/lib/|/var/log/' <<<"$procs" >&2 || true
    say "they are not needed; stop them as root: service ovn-central stop; service ovn-host stop; service openvswitch-switch stop"
    return 0
  fi
  say "stopping system OVN/OVS services started by the Debian packages"
  local svc
  for svc in ovn-host ovn-central openvswitch-switch; do
    if [ -x "/etc/init.d/$svc" ]; then
      "${SUDO[@]}" "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      "${SUDO[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
}

install_ovn() {
  local miss="$1"
  if ! as_root_possible; then
    say "missing commands: $miss"
    say "install the Debian packages as root, then re-run:"
    say "  sudo sh -c '$APT_CMD'"
    exit 1
  fi
  say "missing: $miss; installing ${PACKAGES[*]} with apt-get"
  trap restore_policy EXIT
  block_service_starts
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${PACKAGES[@]}" >&2
  restore_policy
  trap - EXIT
  hash -r
  miss="$(missing)"
  if [ -n "$miss" ]; then
    say "still missing after install: $miss"
    exit 1
  fi
}

miss="$(missing)"
if [ -n "$miss" ]; then
  install_ovn "$miss"
fi
stop_system_services

if [ "$BENCH" = 1 ] && ! /usr/bin/python3 -c 'import ovsdbapp' 2>/dev/null; then
  if as_root_possible; then
    say "installing python3-ovsdbapp (a benchmark peer) with apt-get"
    trap restore_policy EXIT
    block_service_starts
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-ovsdbapp >&2 || {
      "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-ovsdbapp >&2
    } || say "python3-ovsdbapp could not be installed: the bench skips the ovsdbapp peer"
    restore_policy
    trap - EXIT
  else
    say "python3-ovsdbapp is missing (a benchmark peer): the bench skips it; as root: apt-get install python3-ovsdbapp"
  fi
fi

if [ ! -x node_modules/.bin/tap ] || [ ! -x node_modules/.bin/tsx ]; then
  say "installing npm dev dependencies"
  if [ -f package-lock.json ]; then npm ci >&2; else npm install >&2; fi
fi
exit 0
