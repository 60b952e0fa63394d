#!/usr/bin/env bash
# bench/scan/run.sh: custos scan side by side with cat (the I/O floor),
# ripgrep's plain literal search (rg -F) and ripgrep running unvalidated
# PCRE patterns for the same data types (rg -P), in one run, on >= 1 GiB
# of the labelled synthetic corpus (pii/corpus). See README.md.
#
#   SIZE=1073741824 FILES=16 DIR=/tmp/custos-bench-scan bench/scan/run.sh
#   CUSTOS=/path/to/custos bench/scan/run.sh   # use a prebuilt binary
#   PLAIN=1 bench/scan/run.sh                   # mostly prose (corpus.WritePlain)
#
# Run it with nice on a shared machine; it prints wall and CPU time for
# each tool, MB/s (wall) and MB/s per core (bytes / CPU seconds), and the
# ratios the Discovery issue sets targets for.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE=${SIZE:-1073741824}
FILES=${FILES:-16}
DIR=${DIR:-/tmp/custos-bench-scan}
RUNS=${RUNS:-3}
mkdir -p "$DIR"

if ! command -v rg >/dev/null; then
	echo "installing ripgrep" >&2
	(apt-get install -y -qq ripgrep || { apt-get update -qq && apt-get install -y -qq ripgrep; }) >/dev/null
fi
if [ ! -x /usr/bin/time ]; then
	(apt-get install -y -qq time || { apt-get update -qq && apt-get install -y -qq time; }) >/dev/null
fi

if [ -z "${CUSTOS:-}" ]; then
	CUSTOS="$DIR/custos"
	go build -o "$CUSTOS" ./cmd/custos
fi

PLAIN=${PLAIN:-}
CORPUS="$DIR/corpus"
GENFLAGS=()
if [ -n "$PLAIN" ]; then
	CORPUS="$DIR/corpus-plain"
	GENFLAGS=(-plain)
fi
have=$(du -sb "$CORPUS" 2>/dev/null | cut -f1 || echo 0)
if [ "${have:-0}" -lt "$SIZE" ]; then
	rm -rf "$CORPUS"
	echo "generating $SIZE bytes of corpus in $FILES files" >&2
	go run ./bench/scan/gen -size "$SIZE" -files "$FILES" -seed 1 -out "$CORPUS" "${GENFLAGS[@]}"
fi
BYTES=$(cat "$CORPUS"/* | wc -c)

# Unvalidated PCRE equivalents of the detectors: same types, same
# boundaries (no digit or letter glued on), no checksums.
PAT_ID='(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])'
PAT_MOBILE='(?<![0-9A-Za-z])(?:(?:\+|00)86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9A-Za-z])'
PAT_LANDLINE='(?<![0-9A-Za-z])0\d{2,3}-\d{7,8}(?![0-9A-Za-z])'
PAT_CARD='(?<![0-9A-Za-z])\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}(?![0-9A-Za-z])'
PAT_EMAIL='[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}'
PAT_IPV4='(?<![0-9.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![0-9.])'
PAT_IPV6='(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])'
PAT_USCC='(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])'
PAT_PLATE='[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])'
PAT_PASSPORT='(?<![0-9A-Za-z])[EGDSP]\d{8}(?![0-9A-Za-z])'
PAT_PERMIT='(?<![0-9A-Za-z])[CHM]\d{8,10}(?![0-9A-Za-z])'
PAT_HKID='(?<![0-9A-Za-z])[A-Z]{1,2}\d{6}\(?[0-9A]\)?'
PAT_TWID='(?<![0-9A-Za-z])[A-Z][12]\d{8}(?![0-9A-Za-z])'
PAT_IBAN='(?<![0-9A-Za-z])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![0-9A-Za-z])'
PAT_SSN='(?<![0-9])\d{3}-\d{2}-\d{4}(?![0-9])'
PAT_INTL='\+(?:[1-9]\d{0,2})[ -]?\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}(?![0-9])'
PAT_GEO='-?\d{1,3}\.\d{4,}\s*,\s*-?\d{1,3}\.\d{4,}'
PAT_PNR='(?<=PNR|订座记录|记录编号)[:： ]*[A-Z0-9]{6}(?![A-Za-z0-9])'
PAT_DOB='(?<=出生|生日|DOB|born)[^0-9]{0,6}(?:19|20)\d{2}[-/年.](?:0?[1-9]|1[0-2])[-/月.](?:0?[1-9]|[12]\d|3[01])'
PAT_NAME='(?<=姓名|客户|乘客|收件人|联系人|name)[:： ]*[\x{4e00}-\x{9fff}]{2,3}'
PAT_ADDR='[\x{4e00}-\x{9fff}]{2,3}(?:省|市|自治区)[\x{4e00}-\x{9fff}]{1,8}(?:市|区|县)[\x{4e00}-\x{9fff}0-9]{1,20}(?:路|街|大道|巷|弄)\d+号'
RG_P_ARGS=()
for p in "$PAT_ID" "$PAT_MOBILE" "$PAT_LANDLINE" "$PAT_CARD" "$PAT_EMAIL" "$PAT_IPV4" "$PAT_IPV6" "$PAT_USCC" \
	"$PAT_PLATE" "$PAT_PASSPORT" "$PAT_PERMIT" "$PAT_HKID" "$PAT_TWID" "$PAT_IBAN" "$PAT_SSN" "$PAT_INTL" \
	"$PAT_GEO" "$PAT_PNR" "$PAT_DOB" "$PAT_NAME" "$PAT_ADDR"; do
	RG_P_ARGS+=(-e "$p")
done

# Outputs go to files, not /dev/null: ripgrep stops at the first match
# when its output is /dev/null. cat's goes to /dev/null: it measures
# reading alone.
declare -A WALL CPU OUT
measure() { # name, command...
	local name=$1; shift
	local best_wall="" best_cpu=""
	for _ in $(seq "$RUNS"); do
		local out="$DIR/out.$name"
		[ "$name" = cat ] && out=/dev/null
		/usr/bin/time -f "%e %U %S" -o "$DIR/time.$name" "$@" >"$out" 2>"$DIR/err.$name" || {
			rc=$?; [ "$name" = rg-F ] || [ "$name" = rg-P ] && [ $rc -eq 1 ] || { echo "$name failed ($rc)"; cat "$DIR/err.$name"; exit 1; }; }
		read -r wall user sys <"$DIR/time.$name"
		cpu=$(echo "$user + $sys" | bc)
		if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then best_wall=$wall; best_cpu=$cpu; fi
	done
	WALL[$name]=$best_wall
	CPU[$name]=$best_cpu
	OUT[$name]=0
	[ "$name" = cat ] || OUT[$name]=$(wc -l <"$DIR/out.$name")
}

cat "$CORPUS"/* >/dev/null # warm the page cache
measure cat cat "$CORPUS"/*
measure rg-F rg --no-config -F -c '身份证' "$CORPUS"
measure rg-P rg --no-config -P -o -b --no-heading "${RG_P_ARGS[@]}" "$CORPUS"
measure custos "$CUSTOS" scan --format jsonl --no-progress "$CORPUS"

echo
echo "custos scan benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "corpus: $BYTES bytes in $(ls "$CORPUS" | wc -l) files (pii/corpus seed 1${PLAIN:+, plain prose}); best of $RUNS runs"
printf "%-8s %9s %9s %10s %14s %12s\n" tool wall_s cpu_s MB/s MB/s/core output_lines
for t in cat rg-F rg-P custos; do
	printf "%-8s %9.2f %9.2f %10.1f %14.1f %12d\n" "$t" "${WALL[$t]}" "${CPU[$t]}" \
		"$(echo "$BYTES / 1000000 / ${WALL[$t]}" | bc -l)" "$(echo "$BYTES / 1000000 / (${CPU[$t]} + 0.001)" | bc -l)" "${OUT[$t]}"
done
echo
printf "custos vs rg -P: %.2fx faster by wall time, %.2fx by CPU time (target >= 2x)\n" \
	"$(echo "${WALL[rg-P]} / ${WALL[custos]}" | bc -l)" "$(echo "${CPU[rg-P]} / ${CPU[custos]}" | bc -l)"
printf "custos vs rg -F: %.2fx slower by wall time, %.2fx by CPU time (target <= 4x)\n" \
	"$(echo "${WALL[custos]} / ${WALL[rg-F]}" | bc -l)" "$(echo "${CPU[custos]} / (${CPU[rg-F]} + 0.001)" | bc -l)"
printf "custos vs cat:   %.2fx slower by wall time\n" "$(echo "${WALL[custos]} / ${WALL[cat]}" | bc -l)"
