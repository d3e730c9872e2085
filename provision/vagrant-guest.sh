#!/usr/bin/env bash
# Vagrant VM only: prepares the guest before the shared provision/ steps run.
#
#   grow-disk     The Vagrantfile asks for a 40 GB disk, but a larger virtual disk leaves the
#                 partition and filesystem at the box's size. This grows the root partition
#                 (growpart), then the LVM physical volume and logical volume when root is on LVM
#                 (generic/* boxes), and the filesystem (resize2fs / xfs_growfs / lvextend -r).
#   node-modules  node_modules must not live on the synced folder: VirtualBox shares refuse the
#                 symlinks npm makes in node_modules/.bin, and an rsync share's --delete would
#                 wipe what `npm ci` made in the guest. So a VM-local directory is bind-mounted
#                 over /vagrant/node_modules by a systemd mount unit. The unit is wanted by
#                 vagrant.mount, and the Vagrantfile also runs this step on every `vagrant up`,
#                 after Vagrant has mounted /vagrant (which it does itself, not from fstab).
#                 With an rsync share /vagrant is a plain VM directory and node_modules/ is
#                 excluded from rsync, so nothing needs mounting.
#
# Usage: provision/vagrant-guest.sh grow-disk|node-modules [PROJECT_DIR (default /vagrant)]
set -euo pipefail

# shellcheck source=provision/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_MODULES_STORE=/var/lib/go-ebpf-lab/node_modules
# The tests, the Go build cache and the Go toolchains need about this much room.
MIN_FREE_GB=15

free_gb() { df -BG --output=avail / | tail -n 1 | tr -dc '0-9'; }

# grow_partition DEVICE: grows the partition DEVICE (e.g. /dev/sda1) to the end of its disk.
# Prints nothing; returns 0 when grown or already full size.
grow_partition() {
  local part=$1 disk number output
  disk=/dev/$(lsblk -no PKNAME "$part" | sed -n '1p')
  number=$(cat "/sys/class/block/$(basename "$part")/partition")
  output=$(growpart "$disk" "$number" 2>&1) && { log "grew $part: $output"; return 0; }
  # growpart exits 1 with NOCHANGE when the partition already fills the disk.
  if grep -q NOCHANGE <<<"$output"; then
    log "$part already fills $disk"
    return 0
  fi
  log "growpart $disk $number failed: $output"
  return 1
}

grow_disk() {
  apt_install cloud-guest-utils lvm2
  local source fstype pv lv
  source=$(findmnt -no SOURCE /)
  fstype=$(findmnt -no FSTYPE /)
  log "root filesystem: $source ($fstype), $(free_gb) GB free"
  if [ "$(lsblk -no TYPE "$source" | sed -n '1p')" = lvm ]; then
    lv=$source
    pv=$(pvs --noheadings -o pv_name -S "vg_name=$(lvs --noheadings -o vg_name "$lv" | tr -d ' ')" | sed -n '1p' | tr -d ' ')
    grow_partition "$pv" && pvresize "$pv" >/dev/null
    if [ "$(vgs --noheadings -o vg_free_count "$(lvs --noheadings -o vg_name "$lv" | tr -d ' ')" | tr -d ' ')" -gt 0 ]; then
      lvextend -r -l +100%FREE "$lv" >/dev/null && log "extended $lv and its filesystem"
    fi
  else
    if grow_partition "$source"; then
      case "$fstype" in
        ext2|ext3|ext4) resize2fs "$source" >/dev/null 2>&1 && log "resized $fstype on $source" ;;
        xfs) xfs_growfs / >/dev/null && log "grew xfs on /" ;;
        *) log "cannot grow a $fstype root filesystem automatically" ;;
      esac
    fi
  fi
  local free
  free=$(free_gb)
  log "root filesystem: $free GB free"
  [ "$free" -ge "$MIN_FREE_GB" ] \
    || die "only $free GB free on /, the lab needs about $MIN_FREE_GB GB: enlarge the disk (VirtualBox: 'vagrant plugin install vagrant-disksize' then 'vagrant reload --provision'; libvirt: machine_virtual_size in the Vagrantfile) or free space, then re-run 'vagrant provision'"
}

bind_node_modules() {
  local project=$1 target unit share_unit owner
  target=$project/node_modules
  [ -d "$project" ] || die "$project is not there: the synced folder is not mounted; run 'vagrant reload' and check the synced_folder settings"
  if ! mountpoint -q "$project"; then
    # rsync share: $project is an ordinary directory of the VM and rsync excludes node_modules/,
    # so node_modules is VM-local already and --delete leaves it alone.
    log "$target: VM-local already ($project is an rsync copy, not a mount; node_modules/ is excluded from rsync)"
    return 0
  fi
  owner=$(stat -c %U "$project")
  [ "$owner" = UNKNOWN ] && owner=vagrant
  mkdir -p "$NODE_MODULES_STORE" "$target"
  chown "$owner:" "$NODE_MODULES_STORE"
  unit=$(systemd-escape -p --suffix=mount "$target")
  share_unit=$(systemd-escape -p --suffix=mount "$project")
  cat >"/etc/systemd/system/$unit" <<EOF
# go-ebpf-lab: node_modules lives in the VM, not on the shared folder (provision/vagrant-guest.sh).
[Unit]
Description=VM-local node_modules for $project
After=$share_unit
BindsTo=$share_unit

[Mount]
What=$NODE_MODULES_STORE
Where=$target
Type=none
Options=bind

[Install]
WantedBy=$share_unit
EOF
  systemctl daemon-reload
  systemctl enable "$unit" >/dev/null 2>&1 || log "could not enable $unit; the Vagrantfile runs this step on every 'vagrant up' anyway"
  if ! mountpoint -q "$target"; then
    systemctl start "$unit" || die "could not bind-mount $NODE_MODULES_STORE on $target: see 'systemctl status $unit'"
    mountpoint -q "$target" || die "$target is not a mount point after starting $unit: see 'systemctl status $unit'"
  fi
  log "$target: bind-mounted from $NODE_MODULES_STORE (VM-local)"
}

main() {
  require_root
  local action=${1:-} project=${2:-/vagrant}
  case "$action" in
    grow-disk) grow_disk ;;
    node-modules) bind_node_modules "$project" ;;
    *) die "usage: $0 grow-disk|node-modules [PROJECT_DIR]" ;;
  esac
}

main "$@"
