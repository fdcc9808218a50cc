#!/bin/sh
# check-banned.sh SRCDIR - no banned function is called in libtlspol,
# tools or tests (STYLE.md §6.4).  Prints each use; exit 1 if any.
set -u
cd "$1" || exit 2
banned='strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|sscanf|strncpy'
hits=$(grep -rnE "(^|[^_a-zA-Z0-9.>])($banned)[[:space:]]*\(" \
    --include='*.c' --include='*.h' libtlspol tools tests include |
    grep -vE '(snprintf|vsnprintf)[[:space:]]*\(' | grep -v 'check-banned')
if [ -n "$hits" ]; then
    echo "banned functions used:"
    echo "$hits"
    exit 1
fi
echo "no banned functions"
