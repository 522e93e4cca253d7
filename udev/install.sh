#!/usr/bin/env bash
# Installs (or with --uninstall removes) headroom's hotplug files:
#   /usr/local/bin/headroom                      the recorder (from .build/release)
#   /etc/udev/rules.d/99-headroom.rules          stable card ids, start on plug-in
#   /etc/systemd/system/headroom@.service        the hardened recording service
#   /etc/headroom/fieldrec.toml                  an example per-interface config (kept if present)
#   /usr/local/share/doc/headroom/README.md      what the unit's Documentation= points at,
#   /usr/local/share/doc/headroom/docs/*.md      with the guide and the clip log's description it links to
#   /usr/local/share/man/man1/headroom*.1        a man page per command (the argument parser's
#                                                manual plugin: swift package plugin generate-manual --multi-page)
#   bash, zsh and fish completions               from headroom --generate-completion-script
# then creates the system user headroom (group audio) and reloads udev and systemd.
# DESTDIR=/some/root installs into a staging root and skips the user and the reloads.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${DESTDIR:-}"
mode="install"
case "${1:-}" in
  --uninstall) mode="uninstall" ;;
  "") ;;
  -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown option $1 (use --uninstall)" >&2; exit 64 ;;
esac

binary="$root/usr/local/bin/headroom"
rules="$root/etc/udev/rules.d/99-headroom.rules"
unit="$root/etc/systemd/system/headroom@.service"
config="$root/etc/headroom/fieldrec.toml"
readme="$root/usr/local/share/doc/headroom/README.md"
docs=(guide.md clip-log.md clip-log.schema.json clipping.md)
docdir="$root/usr/local/share/doc/headroom/docs"
mandir="$root/usr/local/share/man/man1"
completions=(
  "bash:$root/usr/local/share/bash-completion/completions/headroom"
  "zsh:$root/usr/local/share/zsh/site-functions/_headroom"
  "fish:$root/usr/local/share/fish/vendor_completions.d/headroom.fish"
)
manuals="$here/../.build/plugins/GenerateManual/outputs/headroom"

reload() {
  if [ -z "$root" ]; then
    if command -v udevadm >/dev/null; then udevadm control --reload && echo "reloaded udev rules"; fi
    if [ -d /run/systemd/system ]; then systemctl daemon-reload && echo "reloaded systemd units"; fi
  fi
}

if [ "$mode" = "uninstall" ]; then
  for f in "$rules" "$unit" "$binary" "$readme" "${docs[@]/#/$docdir/}" "$mandir"/headroom.1 "$mandir"/headroom.*.1; do
    if [ -e "$f" ]; then rm -f "$f" && echo "removed $f"; fi
  done
  rmdir "$docdir" "$(dirname "$docdir")" 2>/dev/null || true
  for c in "${completions[@]}"; do
    f="${c#*:}"
    if [ -e "$f" ]; then rm -f "$f" && echo "removed $f"; fi
  done
  [ -e "$config" ] && echo "kept $config and /var/lib/headroom (your settings and takes)"
  reload
  exit 0
fi

built="$here/../.build/release/headroom"
if [ ! -x "$built" ]; then
  echo "install.sh: $built is missing; build it first: swift build -c release --product headroom" >&2
  exit 66
fi
install -D -m 0755 "$built" "$binary" && echo "installed $binary"
install -D -m 0644 "$here/99-headroom.rules" "$rules" && echo "installed $rules"
install -D -m 0644 "$here/headroom@.service" "$unit" && echo "installed $unit"
install -D -m 0644 "$here/../README.md" "$readme" && echo "installed $readme"
for d in "${docs[@]}"; do
  install -D -m 0644 "$here/../docs/$d" "$docdir/$d" && echo "installed $docdir/$d"
done
if [ ! -d "$manuals" ] && command -v swift >/dev/null && [ -f "$here/../Package.swift" ]; then
  (cd "$here/.." && swift package plugin generate-manual --multi-page >/dev/null) || true
fi
if [ -d "$manuals" ]; then
  for page in "$manuals"/headroom.1 "$manuals"/headroom.*.1; do
    case "$page" in *headroom.help.1) continue ;; esac
    install -D -m 0644 "$page" "$mandir/$(basename "$page")" && echo "installed $mandir/$(basename "$page")"
  done
else
  echo "skipped the man pages: run swift package plugin generate-manual --multi-page first" >&2
fi
for c in "${completions[@]}"; do
  shell="${c%%:*}"
  f="${c#*:}"
  mkdir -p "$(dirname "$f")"
  "$built" --generate-completion-script "$shell" >"$f" && chmod 0644 "$f" && echo "installed $f"
done
if [ -e "$config" ]; then
  echo "kept $config"
else
  install -D -m 0644 "$here/fieldrec.toml" "$config" && echo "installed $config"
fi
if [ -z "$root" ] && ! id headroom >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /var/lib/headroom --shell /usr/sbin/nologin --groups audio headroom
  echo "created system user headroom (group audio)"
fi
reload
echo "next: edit $rules (your interface's USB ids and id), then $config, and plug the interface in"
