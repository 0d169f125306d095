#!/usr/bin/env bash
# docs/architecture.md against the code, not only the file names:
# 1. every file under src/ and kernels/ appears there as `name.c`, `name.h`,
#    `name.cu`, `name.cuh` or `name.[ch]`, and every file it lists exists;
# 2. the build products table: each source it gives a module has an object in
#    that module's build folder, the library archive holds every other .c of
#    src/ (but main.c) and none of the modules' sources;
# 3. the files it says stop the process (exit/_exit/abort outside src/cli) and
#    the core files it says touch the system are exactly those the code has;
# 4. the kernels it marks "not launched" are exactly those of kernels.h that
#    src/backend/cuda.c never calls, and it names every launch wrapper.
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

# The paragraph of the page holding a phrase (paragraphs end at blank lines).
para() { awk -v p="$1" 'BEGIN { RS = "" } index($0, p) { print; exit }' "$doc"; }
same() {  # name, doc's list, code's list
    if [ "$2" != "$3" ]; then
        echo "FAIL: docs/architecture.md $1: the page says [$(echo $2)], the code has [$(echo $3)]"
        fail=1
    fi
}

# 2. build products
B="${PRMEVAL_BUILD:-}"
lib="$B/libprmeval_lib.a"
if [ -n "$B" ] && [ -f "$lib" ]; then
    table=$(grep -E '^\| `(prmeval|libprmeval_[a-z0-9_]+\.(a|so))` \|' "$doc")
    [ "$(wc -l <<< "$table")" -eq 5 ] || { echo "FAIL: the build products table has not 5 rows"; fail=1; }
    members=$(ar t "$lib" | sort)
    modsrc=""
    for mod in blas h5 cuda; do
        row=$(grep -F "| \`libprmeval_$mod.so\` |" <<< "$table")
        srcs=$(grep -oE '`(src|kernels)/[a-z0-9_/*]+\.(c|cu)`' <<< "$row" | tr -d '`')
        [ -n "$srcs" ] || { echo "FAIL: no sources listed for libprmeval_$mod.so"; fail=1; }
        for f in $srcs; do
            modsrc="$modsrc $f"
            case "$f" in
                kernels/*) dir="$B/CMakeFiles/prmeval_kernels.dir" ;;
                *) dir="$B/CMakeFiles/prmeval_$mod.dir" ;;
            esac
            [ -d "$B/CMakeFiles/prmeval_$mod.dir" ] || continue  # a build without that module (no nvcc)
            # shellcheck disable=SC2086
            if ! compgen -G "$dir/$f.o" > /dev/null; then
                echo "FAIL: docs/architecture.md puts $f in libprmeval_$mod.so; the build has no object for it there"
                fail=1
            fi
        done
    done
    for f in "$PRMEVAL_SRC"/src/*/*.c; do
        rel=${f#"$PRMEVAL_SRC"/}
        [ "$rel" = src/cli/main.c ] && continue
        in_mod=0
        for m in $modsrc; do [ "$m" = "$rel" ] && in_mod=1; done
        if grep -qx "$(basename "$f").o" <<< "$members"; then
            [ $in_mod -eq 0 ] || { echo "FAIL: $rel is in libprmeval_lib.a, the page puts it in a module"; fail=1; }
        else
            [ $in_mod -eq 1 ] || { echo "FAIL: $rel is not in libprmeval_lib.a and the page names no module for it"; fail=1; }
        fi
    done
else
    echo "note: no built library under PRMEVAL_BUILD; the build products table is not checked"
fi

# 3. who stops the process; which core files touch the system
cd "$PRMEVAL_SRC" || exit 1
doc_exit=$(para "the only calls of \`exit\`" | grep -oE 'src/[a-z]+/[a-z0-9_]+\.c' | sort -u)
code_exit=$(grep -lE '(^|[^A-Za-z0-9_])(exit|_exit|abort)[[:space:]]*\(' src/*/*.c | grep -v '^src/cli/' | sort -u)
same "(processes stopped outside src/cli)" "$doc_exit" "$code_exit"
doc_core=$(para "core files that touch the system" | grep -oE 'src/core/[a-z0-9_]+\.c' | sort -u)
code_core=$(grep -lE '(^|[^A-Za-z0-9_])(fopen|open|dlopen|getenv|readlink|mmap|opendir|stat)[[:space:]]*\(' \
    src/core/*.c | sort -u)
same "(core files that touch the system)" "$doc_core" "$code_core"
[ -n "$code_exit" ] && [ -n "$code_core" ] || { echo "FAIL: the greps found nothing (pattern broken?)"; fail=1; }

# 4. kernels launched or not
declared=$(grep -oE '^[a-z_ ]+ \*?pe_k_[a-z0-9_]+\(' kernels/kernels.h | grep -oE 'pe_k_[a-z0-9_]+' | sort -u)
[ -n "$declared" ] || { echo "FAIL: no launch wrappers found in kernels/kernels.h"; fail=1; }
unused=""
for k in $declared; do
    grep -q "$k(" src/backend/cuda.c || unused="$unused $k"
    grep -qF "\`$k\`" "$doc" || { echo "FAIL: docs/architecture.md does not name the kernel wrapper $k"; fail=1; }
done
doc_unused=$(grep -oE '`pe_k_[a-z0-9_]+` \(not launched' "$doc" | grep -oE 'pe_k_[a-z0-9_]+' | sort -u)
same "(kernels not launched)" "$doc_unused" "$(tr ' ' '\n' <<< "$unused" | grep . | sort -u)"

[ $fail -eq 0 ] && echo "architecture.md lists all $n source files; build products, process stops, impure core files and unlaunched kernels agree with the code"
exit $fail
