#!/usr/bin/env bash
# Check inline images in real terminals and save screenshots to look at.
#
#   tests/terminal/run_checks.sh [OUT_DIR] [scenario...]
#
# Runs the preview demo (python -m doorways_tui.tui.preview_demo) inside real terminals on
# a virtual X screen with ../shared/tools/termshot, presses keys, and saves PNGs under
# OUT_DIR (default /tmp/doorways-termshots). Scenarios (default: all):
#   xterm-narrow  xterm -ti vt340 (Sixel) at 60x20: four images, an error, back (cached)
#   xterm-wide    the same at 160x45
#   xterm-bare    edge to edge at 80x24 (the image touches the last row: no scrolling)
#   xterm-toast   a notification over the picture, then gone
#   xterm-palette the command palette (a modal screen) over the picture
#   kitty         kitty at 120x36, with the palette and a toast
#   kitty-narrow  kitty at 60x20
#   tmux-kitty    tmux (allow-passthrough on) inside kitty: auto, then forced kitty
#   tmux-xterm    tmux inside xterm: auto, then forced sixel (tmux 3.3 drops it)
#   ssh-xterm / ssh-kitty   over ssh to localhost, if SSH_TARGET is set (see below)
# (Whether the loupe and compare keep their images, frame after frame: blink_check.py.)
# After every picture a key is pressed and the status line must change (keys N): the
# terminal did not hang on an unterminated escape sequence.
#
# SSH: set SSH_TARGET="-p 2222 -i KEY user@127.0.0.1" for a server whose account can
# run this checkout; the remote side runs the same demo.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
termshot=${TERMSHOT:-$here/../shared/tools/termshot}
out=${1:-/tmp/doorways-termshots}
shift || true
mkdir -p "$out"
cards=$out/cards
"$here/.venv/bin/python" "$here/tests/terminal/make_images.py" "$cards"
images="$cards/square.png $cards/wide.png $cards/tall.png $cards/corrupt.png $cards/missing.png"
demo="$here/.venv/bin/python -m doorways_tui.tui.preview_demo"
run="cd $here && $demo"
tmux_conf=$out/tmux.conf
printf 'set -g allow-passthrough on\nset -g status off\n' >"$tmux_conf"

shot() {  # shot NAME TERM SIZE COMMAND STEPS...
  local name=$1 term=$2 size=$3 cmd=$4
  shift 4
  echo "== $name"
  timeout 180 "$termshot" --term "$term" --size "$size" --out "$out/$name-last.png" "$@" \
    -- bash -c "$cmd; sleep 60" || echo "   (termshot failed)"
}

scenarios=${*:-xterm-narrow xterm-wide xterm-bare xterm-toast xterm-palette kitty kitty-narrow tmux-kitty tmux-xterm ssh-xterm ssh-kitty}
for s in $scenarios; do
  case $s in
    xterm-narrow | xterm-wide)
      size=60x20
      [ "$s" = xterm-wide ] && size=160x45
      shot "$s" xterm-sixel $size "$run $images" --wait 12 --shot "$out/$s-1.png" \
        --keys n --wait 3 --shot "$out/$s-2.png" --keys n --wait 3 --shot "$out/$s-3.png" \
        --keys n --wait 2 --shot "$out/$s-4.png" --keys "p p" --wait 2 ;;
    xterm-bare)
      shot "$s" xterm-sixel 80x24 "$run --bare $cards/tall.png $cards/square.png" --wait 12 \
        --shot "$out/$s-1.png" --keys n --wait 3 ;;
    xterm-toast | kitty-toast)
      term=xterm-sixel
      [ "$s" = kitty-toast ] && term=kitty
      shot "$s" $term 120x36 "$run $images" --wait 12 --keys t --wait 1 \
        --shot "$out/$s-1.png" --wait 5 ;;
    xterm-palette)
      shot "$s" xterm-sixel 120x36 "$run $images" --wait 12 --keys ctrl+p --wait 2 \
        --shot "$out/$s-1.png" --keys Escape --wait 2 ;;
    kitty)
      shot "$s" kitty 120x36 "$run $images" --wait 12 --shot "$out/$s-1.png" --keys "n n" \
        --wait 3 --shot "$out/$s-2.png" --keys ctrl+p --wait 2 --shot "$out/$s-3.png" \
        --keys Escape --wait 1 --keys t --wait 1 --shot "$out/$s-4.png" --wait 5 ;;
    kitty-narrow)
      shot "$s" kitty 60x20 "$run $images" --wait 12 --shot "$out/$s-1.png" --keys n --wait 3 ;;
    tmux-kitty | tmux-xterm)
      term=kitty forced=kitty
      [ "$s" = tmux-xterm ] && term=xterm-sixel forced=sixel
      for mode in auto $forced; do
        sock=doorways-check-$$-$mode
        shot "$s-$mode" $term 120x36 \
          "tmux -L $sock -f $tmux_conf new-session '$run --protocol $mode $images'" \
          --wait 14 --shot "$out/$s-$mode-1.png" --keys n --wait 3
        tmux -L "$sock" kill-server 2>/dev/null || true
      done ;;
    ssh-xterm | ssh-kitty)
      if [ -z "${SSH_TARGET:-}" ]; then
        echo "== $s skipped (set SSH_TARGET)"
        continue
      fi
      term=xterm-sixel
      [ "$s" = ssh-kitty ] && term=kitty
      shot "$s" $term 120x36 "ssh -t -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR $SSH_TARGET '$run $images'" \
        --wait 14 --shot "$out/$s-1.png" --keys n --wait 3 ;;
    *) echo "unknown scenario $s" >&2; exit 2 ;;
  esac
done
echo "screenshots in $out"
