#!/usr/bin/env bash
# docs/architecture.md lists every source file: each file under src/ and
# kernels/ must appear there as `name.c`, `name.h`, `name.cu`, `name.cuh` or
# `name.[ch]` (a source and its header on one line). Also the other way: a
# file the page lists must exist, so a rename or removal is noticed.
set -u
mkdir -p "$PRMEVAL_TMP"
doc="$PRMEVAL_SRC/docs/architecture.md"
[ -f "$doc" ] || { echo "FAIL: $doc is missing"; exit 1; }
fail=0
n=0
for f in "$PRMEVAL_SRC"/src/*/*.c "$PRMEVAL_SRC"/src/*/*.h "$PRMEVAL_SRC"/kernels/*.cu \
    "$PRMEVAL_SRC"/kernels/*.cuh "$PRMEVAL_SRC"/kernels/*.h; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    b=$(basename "$f")
    stem=${b%.*}
    case "$b" in
        *.c | *.h) alt="\`$stem.[ch]\`" ;;
        *) alt="\`$b\`" ;;
    esac
    if ! grep -qF "\`$b\`" "$doc" && ! grep -qF "$alt" "$doc"; then
        echo "FAIL: ${f#"$PRMEVAL_SRC"/} is not listed in docs/architecture.md (section 'Files')"
        fail=1
    fi
done
[ $n -gt 50 ] || { echo "FAIL: only $n source files found under $PRMEVAL_SRC"; fail=1; }

# Listed files exist: every `name.[ch]` / `name.c` / ... in the 'Files' section.
section=$(sed -n '/^## Files/,/^## Data flow/p' "$doc")
for name in $(grep -oE '`[a-z0-9_]+\.(\[ch\]|c|h|cu|cuh)`' <<< "$section" | tr -d '`' | sort -u); do
    found=0
    case "$name" in
        *.\[ch\]) pat=("${name%.\[ch\]}.c" "${name%.\[ch\]}.h") ;;
        *) pat=("$name") ;;
    esac
    for p in "${pat[@]}"; do
        if compgen -G "$PRMEVAL_SRC/src/*/$p" > /dev/null || [ -f "$PRMEVAL_SRC/kernels/$p" ]; then
            found=$((found + 1))
        fi
    done
    if [ $found -ne ${#pat[@]} ]; then
        echo "FAIL: docs/architecture.md lists $name, which is not (all) in src/ or kernels/"
        fail=1
    fi
done

[ $fail -eq 0 ] && echo "architecture.md lists all $n source files"
exit $fail
