#!/bin/sh
# check-header.sh SRCDIR - the public header compiles on its own, as C11
# and as C++, with warnings as errors.
set -eu
hdr="$1/include/tlspol/tlspol.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include "tlspol/tlspol.h"\nint main(void) { return tlspol_ctx_get_fd(0) == -1 ? 0 : 1; }\n' >"$tmp/t.c"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$1/include" -fsyntax-only "$tmp/t.c"
cp "$tmp/t.c" "$tmp/t.cc"
if command -v c++ >/dev/null 2>&1; then
    c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I"$1/include" \
        -fsyntax-only "$tmp/t.cc"
    echo "header ok as C11 and C++11: $hdr"
else
    echo "header ok as C11 (no C++ compiler found): $hdr"
fi
