#!/bin/bash
# check-install.sh BUILDDIR - `meson install` into a scratch DESTDIR puts
# the library (with its soname link), header, pkg-config file, tool and
# man page in place, and a program built only from the installed header
# and tlspol.pc links and runs against the installed library.
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf -- "$dest"' EXIT

DESTDIR=$dest meson install -C "$build" --no-rebuild --quiet
prefix=$(meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libdir=$(meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"))')
root=$dest$prefix
fail=0
for f in "$libdir/libtlspol.so.0" "$libdir/libtlspol.so" \
         "$libdir/pkgconfig/tlspol.pc" include/tlspol/tlspol.h \
         bin/tlspol-query share/man/man1/tlspol-query.1; do
    if [[ -e $root/$f ]]; then
        echo "installed: $prefix/$f"
    else
        echo "MISSING: $prefix/$f"
        fail=1
    fi
done
soname=$(objdump -p "$root/$libdir/libtlspol.so.0" | awk '/SONAME/ {print $2}')
[[ $soname == libtlspol.so.0 ]] || { echo "SONAME is '$soname'"; fail=1; }

cat >"$dest/app.c" <<'C'
#include <stdio.h>
#include <tlspol/tlspol.h>
int main(void)
{
    tlspol_ctx *ctx;
    if (tlspol_ctx_new(&ctx) != TLSPOL_OK)
        return 1;
    printf("libtlspol %s fd %d\n", tlspol_version(), tlspol_ctx_get_fd(ctx));
    tlspol_ctx_free(ctx);
    return 0;
}
C
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs tlspol)
echo "pkg-config --cflags --libs tlspol: $flags"
# shellcheck disable=SC2086
cc -Wall -Werror -o "$dest/app" "$dest/app.c" $flags
LD_LIBRARY_PATH=$root/$libdir "$dest/app"
exit $fail
