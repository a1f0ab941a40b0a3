#!/usr/bin/env bash
# Attestation judged by a verifier nobody here wrote: the toolstack measures a guest's boot into the
# guest's vTPM in the TPM domain; the guest, through its tpmfront, makes an attestation key and quotes
# a nonce; the quote is exported as the files tpm2_checkquote (Debian's tpm2-tools) reads, which must
# accept it, and refuse it when any byte of the message, of a PCR value, of the signature or of the
# nonce changes, or when the PCR selection is another; and tpm2_eventlog must replay the boot's event
# log (TCG crypto-agile format) to the PCR values the quote vouches for.
#
#   scripts/attest.sh [--out DIR] [--pcrs LIST]
#
#   --out DIR     where the files go (default: a new temporary folder, removed at the end)
#   --pcrs LIST   the SHA-256 PCRs to quote, comma-separated, 0 to 23 (default 0,1,2,3,4,5,6,7,17)
#
# tpm2-tools is installed with apt-get when tpm2_checkquote is missing (the script says so; it needs
# root or password-less sudo). Exit status 0 when every case went as it should, 1 when one did not,
# 2 for bad usage or a tool that cannot be installed.
set -euo pipefail
. "$(dirname "$0")/common.sh"

out="" pcrs="0,1,2,3,4,5,6,7,17"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; shift 2 ;;
    --pcrs) [ $# -ge 2 ] || die "--pcrs needs a list such as 0,1,17"; pcrs=$2; shift 2 ;;
    -h|--help) sed -n "2,16p" "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (allowed: --out DIR, --pcrs LIST, --help)" ;;
  esac
done

if ! command -v tpm2_checkquote >/dev/null 2>&1; then
  log "tpm2_checkquote is missing: installing Debian's tpm2-tools (apt-get install -y tpm2-tools)"
  if [ "$(id -u)" = 0 ]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    die "tpm2-tools is not installed and this user can neither apt-get nor sudo; install it: apt-get install tpm2-tools"; fi
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q tpm2-tools >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update -q >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q tpm2-tools >/dev/null 2>&1; } \
    || die "apt-get install tpm2-tools failed"
  command -v tpm2_checkquote >/dev/null 2>&1 || die "tpm2-tools installed but tpm2_checkquote is not on the PATH"
fi
log "judge: $(tpm2_checkquote --version 2>&1 | head -1)"

ensure_jar
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
"$JAVA" $ADD_OPENS -cp "$JAR" org.hvbench.cli.AttestTool export "$out" --pcrs "$pcrs" >&2 || exit $?

nonce=$(tr -d '\n' < "$out/nonce.hex")
list=$(tr -d '\n' < "$out/pcr-list")
checkquote() { # MESSAGE SIGNATURE PCRS NONCE: 0 when tpm2_checkquote accepts
  tpm2_checkquote -u "$out/key.pem" -m "$1" -s "$2" -f "$3" -q "$4" -g sha256 >/dev/null 2>&1
}
npcrs=$(echo "${list#sha256:}" | tr ',' '\n' | wc -l)
digest_at() { # K: where the K-th PCR value (0-based) starts in quote.pcrs (tpm2-tools' serialized form)
  echo $(( 132 + 4 + ($1 / 8) * 532 + 4 + ($1 % 8) * 66 + 2 ))
}
flipped() { # FILE OFFSET: a copy of FILE with bit 0 of byte OFFSET flipped, in $out/t
  local b
  cp "$1" "$out/t"
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$out/t" bs=1 seek="$2" conv=notrunc status=none
}

failures=0
row() { # CASE TRIES REFUSED SHOULD
  local verdict=ok
  if [ "$4" = accept ] && [ "$3" != 0 ]; then verdict=WRONG; fi
  if [ "$4" = refuse ] && [ "$3" != "$2" ]; then verdict=WRONG; fi
  [ $verdict = ok ] || failures=$((failures + 1))
  printf '| %s | %s | %s of %s refused | %s |\n' "$1" "$4" "$3" "$2" "$verdict"
}
echo "| case | tpm2_checkquote should | tpm2_checkquote did | |"
echo "|---|---|---|---|"
refused=0; checkquote "$out/quote.msg" "$out/quote.sig" "$out/quote.pcrs" "$nonce" || refused=1
row "the quote as the vTPM made it" 1 $refused accept

flips() { # FILE OFFSET...: tpm2_checkquote on a copy of FILE with one bit changed at each OFFSET in turn
  local file=$1 at msg sig pcrs; shift
  tries=0 refused=0
  for at in "$@"; do
    flipped "$out/$file" "$at"; tries=$((tries + 1))
    msg=$out/quote.msg sig=$out/quote.sig pcrs=$out/quote.pcrs
    case $file in quote.msg) msg=$out/t ;; quote.sig) sig=$out/t ;; quote.pcrs) pcrs=$out/t ;; esac
    checkquote "$msg" "$sig" "$pcrs" "$nonce" || refused=$((refused + 1))
  done
}

size=$(stat -c %s "$out/quote.msg")
flips quote.msg $(seq 0 $((size - 1)))
row "one bit of the message (TPMS_ATTEST) changed, each of its $size bytes" $tries $refused refuse

flips quote.pcrs $(for ((k = 0; k < npcrs; k++)); do echo $(digest_at $k) $(( $(digest_at $k) + 31 )); done)
row "one bit of a PCR value changed, first and last byte of each of the $npcrs" $tries $refused refuse

size=$(stat -c %s "$out/quote.sig")
flips quote.sig $(seq 4 $((size - 1)))
row "one bit of the signature's r or s changed, each of its $((size - 4)) bytes" $tries $refused refuse

tries=0 refused=0
for ((i = 0; i < ${#nonce}; i += 2)); do
  byte=$(( 16#${nonce:i:2} ^ 1 ))
  other="${nonce:0:i}$(printf '%02x' $byte)${nonce:i+2}"; tries=$((tries + 1))
  checkquote "$out/quote.msg" "$out/quote.sig" "$out/quote.pcrs" "$other" || refused=$((refused + 1))
done
row "one bit of the nonce changed, each of its $(( ${#nonce} / 2 )) bytes" $tries $refused refuse

flips quote.pcrs 7 8 9
row "the PCR file selects another set (one bit of each byte of its selection changed)" $tries $refused refuse

# The boot's event log, replayed by tpm2_eventlog: each PCR it computes must be the one the quote vouches for.
if ev=$(tpm2_eventlog "$out/eventlog.bin" 2>&1); then
  idx=0 same=0 differ=0 replayed=""
  for p in $(echo "${list#sha256:}" | tr ',' ' '); do
    ours=$(od -An -tx1 -v -j "$(digest_at $idx)" -N32 "$out/quote.pcrs" | tr -d ' \n')
    theirs=$(echo "$ev" | awk -v p="$p" '/^  sha256:/ {s = 1; next} s && /^  [^ ]/ {s = 0} s && $1 == p {print tolower($3)}' | sed 's/^0x//')
    if [ -n "$theirs" ]; then
      replayed="$replayed $p"
      if [ "$theirs" = "$ours" ]; then same=$((same + 1)); else differ=$((differ + 1)); fi
    fi
    idx=$((idx + 1))
  done
  verdict=ok
  if [ $differ != 0 ] || [ $same = 0 ]; then verdict=WRONG; failures=$((failures + 1)); fi
  printf '| tpm2_eventlog replays eventlog.bin (PCRs%s) | the quoted values | %s same, %s different | %s |\n' "$replayed" $same $differ $verdict
else
  echo "$ev" >&2
  printf '| tpm2_eventlog reads eventlog.bin | the log parses | it did not | WRONG |\n'; failures=$((failures + 1))
fi

if [ $failures = 0 ]; then echo "tpm2_checkquote accepted the vTPM's quote and refused every change"; else
  echo "$failures case(s) went wrong"; exit 1; fi
